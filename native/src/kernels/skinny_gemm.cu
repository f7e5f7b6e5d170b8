// Few-row GEMM as a weight stream (see skinny_gemm.cuh).
//
// A warp owns COLS output columns for all M rows. Lane l reads 16 bytes (8 elements) of each of its
// columns' weight rows at k = 8 l + 256 i, so a warp reads 512 contiguous bytes per row per step,
// and keeps U x COLS = 8 such loads in flight (streamed past L1: each weight is read once). The
// few activation rows are re-read by every warp and stay in L1/L2. fp32 accumulation, then a
// butterfly reduction across the warp and a fused bias / gelu_new epilogue.
//
// Why not cuBLASLt here: at M <= 16 its tensor-core tiles are >= 64 rows of which M are real, and
// its grid for the narrow GPT-2 matrices (N = 768) is a few dozen CTAs, too few to keep HBM busy.
// The column count per warp is picked so the grid has at least two CTAs per SM.
#include "kernels/skinny_gemm.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/mma.cuh"  // mma::unpack8: 8 x 16-bit -> fp32
#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/skinny_common.cuh"
#include "kernels/gelu.cuh"

namespace attnbench {

namespace {

constexpr int kWarps = 4;

// MT: rows the kernel is unrolled for (M <= MT rows are real).
template <class T, class TO, int MT, int COLS, bool GELU>
__global__ void __launch_bounds__(kWarps * 32)
skinny_gemm_kernel(TO* __restrict__ y, int ldy, const T* __restrict__ x, const T* __restrict__ w,
                   const T* __restrict__ bias, int M, int N, int K) {
  constexpr int U = 8 / COLS;
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * kWarps + threadIdx.x / 32) * COLS;
  if (n0 >= N) return;
  const T* wrow[COLS];
#pragma unroll
  for (int c = 0; c < COLS; ++c) wrow[c] = w + (size_t)min(n0 + c, N - 1) * K;  // tail columns: re-read, discarded
  // Weights never change during a run, so this warp's rows are pulled toward L2 before waiting for
  // the kernel that writes x (launch_pdl): the weight stream overlaps that kernel's tail.
#pragma unroll
  for (int c = 0; c < COLS; ++c)
    for (int k = lane * (128 / (int)sizeof(T)); k < K; k += 32 * (128 / (int)sizeof(T)))
      asm volatile("prefetch.global.L2 [%0];" ::"l"(wrow[c] + k));
  pdl_wait();
  pdl_launch_dependents();

  float acc[MT][COLS];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int c = 0; c < COLS; ++c) acc[m][c] = 0.f;

  for (int k0 = lane * 8; k0 < K; k0 += 256 * U) {
    uint4 wv[U][COLS];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int k = k0 + u * 256;
#pragma unroll
      for (int c = 0; c < COLS; ++c) wv[u][c] = k < K ? ld_stream_u4(wrow[c] + k) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int k = k0 + u * 256;
      if (k >= K) break;
      float wf[COLS][8];
#pragma unroll
      for (int c = 0; c < COLS; ++c) mma::unpack8<T>(wv[u][c], wf[c]);
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        if (m >= M) break;
        float xf[8];
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + (size_t)m * K + k));
        mma::unpack8<T>(xv, xf);
#pragma unroll
        for (int c = 0; c < COLS; ++c)
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[m][c] = fmaf(xf[i], wf[c][i], acc[m][c]);
      }
    }
  }

#pragma unroll
  for (int m = 0; m < MT; ++m) {
    if (m >= M) break;
#pragma unroll
    for (int c = 0; c < COLS; ++c) {
      float v = acc[m][c];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      const int n = n0 + c;
      if (lane == (m * COLS + c) % 32 && n < N) {
        if (bias) v += to_f32(bias[n]);
        if (GELU) v = gelu_new(v);
        y[(size_t)m * ldy + n] = from_f32<TO>(v);
      }
    }
  }
}

int num_sms() {
  static int n = [] {
    int dev = 0, v = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    return v;
  }();
  return n;
}

template <class T, class TO, int MT, int COLS>
void launch_cols(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K, bool gelu,
                 cudaStream_t s) {
  const int blocks = ceil_div(N, kWarps * COLS);
  if (gelu)
    launch_pdl(skinny_gemm_kernel<T, TO, MT, COLS, true>, dim3(blocks), dim3(kWarps * 32), 0, s, (TO*)y, ldy, (const T*)x,
               (const T*)w, (const T*)bias, M, N, K);
  else
    launch_pdl(skinny_gemm_kernel<T, TO, MT, COLS, false>, dim3(blocks), dim3(kWarps * 32), 0, s, (TO*)y, ldy, (const T*)x,
               (const T*)w, (const T*)bias, M, N, K);
}

template <class T, class TO, int MT>
void launch_rows(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K, bool gelu,
                 cudaStream_t s) {
  const int min_blocks = 2 * num_sms();
  if (ceil_div(N, kWarps * 4) >= min_blocks) launch_cols<T, TO, MT, 4>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else if (ceil_div(N, kWarps * 2) >= min_blocks) launch_cols<T, TO, MT, 2>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else launch_cols<T, TO, MT, 1>(y, ldy, x, w, bias, M, N, K, gelu, s);
}

template <class T, class TO>
void launch(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K, bool gelu,
            cudaStream_t s) {
  if (M <= 1) launch_rows<T, TO, 1>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else if (M <= 2) launch_rows<T, TO, 2>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else if (M <= 4) launch_rows<T, TO, 4>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else if (M <= 8) launch_rows<T, TO, 8>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else launch_rows<T, TO, 16>(y, ldy, x, w, bias, M, N, K, gelu, s);
}

}  // namespace

void skinny_gemm_forward(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K,
                         DType in, DType out, bool gelu, cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  if (!skinny_gemm_supported(y, x, w, M, K, in)) throw std::runtime_error("skinny_gemm: unsupported shape or alignment");
  if (ldy <= 0) ldy = N;
  skinny_dispatch("skinny_gemm", in, out, gelu, [&](auto t, auto to, bool g) {
    launch<decltype(t), decltype(to)>(y, ldy, x, w, bias, M, N, K, g, stream);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
