// Few-row GEMM on tensor cores as a weight stream (see skinny_gemm_tc.cuh).
//
// A CTA owns 8 output columns (one mma n-tile) for all M <= 16 * MT rows; its WARPS warps split K
// in 32-wide chunks (chunk c goes to warp c % WARPS) and meet in shared memory at the end.
// Per chunk a lane reads 16 bytes of its column's weight row (lane = 4 g + t: column g, k = 8 t..8 t+7)
// and 16 bytes of activation rows g and g + 8 at the same k. Those 8 contiguous k feed two
// m16n8k16 steps: the dot product does not care in which order k is summed, so logical k pairs
// (2t, 2t+1) and (2t+8, 2t+9) of step s are mapped to physical k 8t + 4s + {0, 1} and {2, 3}, the
// same mapping for A and B. That way every load is a full 16-byte vector, with no shared memory
// and no ldmatrix in the main loop.
//
// Weights never change during a run, so the first PRE chunks of each lane's weights are loaded into
// registers before pdl_wait(): with launch_pdl the weight stream starts while the kernel that writes
// x is still finishing, and only the (L2-resident) activations are read after the wait.
#include "kernels/skinny_gemm_tc.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>

#include "kernels/mma.cuh"  // mma::mma_16816
#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/skinny_common.cuh"
#include "kernels/gelu.cuh"

namespace attnbench {

namespace {

constexpr int kPre = 8;  // weight chunks per lane loaded before the wait (and per batch after it)

template <class T, class TO, int MT, int WARPS, bool GELU>
__global__ void __launch_bounds__(WARPS * 32)
skinny_tc_kernel(TO* __restrict__ y, int ldy, const T* __restrict__ x, const T* __restrict__ w,
                 const T* __restrict__ bias, int M, int N, int K) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int n0 = blockIdx.x * 8;
  const T* wr = w + (size_t)min(n0 + g, N - 1) * K + 8 * t;  // tail columns: re-read, discarded
  const int chunks = (K + 31) / 32;
  auto load_w = [&](uint4 (&wv)[kPre], int first) {
#pragma unroll
    for (int p = 0; p < kPre; ++p) {
      const int c = first + p * WARPS;
      wv[p] = c < chunks && c * 32 + 8 * t < K ? ld_stream_u4(wr + c * 32) : make_uint4(0, 0, 0, 0);
    }
  };
  uint4 wv[kPre];
  load_w(wv, warp);
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh): x is written by the kernel before
  pdl_launch_dependents();

  float acc[MT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m) acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = 0.f;
  for (int first = warp; first < chunks; first += kPre * WARPS) {
    if (first != warp) load_w(wv, first);
#pragma unroll
    for (int p = 0; p < kPre; ++p) {
      const int c = first + p * WARPS;
      if (c >= chunks) break;
      const int k = c * 32 + 8 * t;
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        const int r0 = m * 16 + g, r1 = r0 + 8;
        const bool kin = k < K;
        const uint4 xa = kin && r0 < M ? __ldg(reinterpret_cast<const uint4*>(x + (size_t)r0 * K + k)) : make_uint4(0, 0, 0, 0);
        const uint4 xb = kin && r1 < M ? __ldg(reinterpret_cast<const uint4*>(x + (size_t)r1 * K + k)) : make_uint4(0, 0, 0, 0);
        const uint32_t a0[4] = {xa.x, xb.x, xa.y, xb.y}, a1[4] = {xa.z, xb.z, xa.w, xb.w};
        mma::mma_16816<T>(acc[m], a0, wv[p].x, wv[p].y);
        mma::mma_16816<T>(acc[m], a1, wv[p].z, wv[p].w);
      }
    }
  }

  // Sum the warps' partial tiles; warp 0 adds the bias, applies gelu and stores rows < M.
  __shared__ float red[WARPS][MT][4][32];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int i = 0; i < 4; ++i) red[warp][m][i][lane] = acc[m][i];
  __syncthreads();
  if (warp != 0) return;
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float v = 0.f;
#pragma unroll
      for (int wi = 0; wi < WARPS; ++wi) v += red[wi][m][i][lane];
      // C fragment: i = 0, 1 -> row g, columns 2t, 2t + 1; i = 2, 3 -> row g + 8.
      const int row = m * 16 + g + (i >= 2 ? 8 : 0), col = n0 + 2 * t + (i & 1);
      if (row >= M || col >= N) continue;
      if (bias) v += to_f32(bias[col]);
      if (GELU) v = gelu_new(v);
      y[(size_t)row * ldy + col] = from_f32<TO>(v);
    }
}

template <class T, class TO, int MT, int WARPS>
void launch_w(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K, bool gelu,
              cudaStream_t s) {
  const dim3 grid((N + 7) / 8), block(WARPS * 32);
  if (gelu)
    launch_pdl(skinny_tc_kernel<T, TO, MT, WARPS, true>, grid, block, 0, s, (TO*)y, ldy, (const T*)x, (const T*)w,
               (const T*)bias, M, N, K);
  else
    launch_pdl(skinny_tc_kernel<T, TO, MT, WARPS, false>, grid, block, 0, s, (TO*)y, ldy, (const T*)x, (const T*)w,
               (const T*)bias, M, N, K);
}

template <class T, class TO>
void launch(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K, bool gelu,
            cudaStream_t s) {
  // Long K (GPT-2's MLP down-projection, K = 3072): 8 warps, so more of the row is in flight at once.
  const bool wide = K > 4 * 32 * kPre;
  if (M <= 16) wide ? launch_w<T, TO, 1, 8>(y, ldy, x, w, bias, M, N, K, gelu, s) : launch_w<T, TO, 1, 4>(y, ldy, x, w, bias, M, N, K, gelu, s);
  else wide ? launch_w<T, TO, 2, 8>(y, ldy, x, w, bias, M, N, K, gelu, s) : launch_w<T, TO, 2, 4>(y, ldy, x, w, bias, M, N, K, gelu, s);
}

}  // namespace

void skinny_gemm_tc_forward(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K,
                            DType in, DType out, bool gelu, cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  if (!skinny_gemm_tc_supported(y, x, w, M, K, in)) throw std::runtime_error("skinny_gemm_tc: unsupported shape or alignment");
  if (ldy <= 0) ldy = N;
  skinny_dispatch("skinny_gemm_tc", in, out, gelu, [&](auto t, auto to, bool g) {
    launch<decltype(t), decltype(to)>(y, ldy, x, w, bias, M, N, K, g, stream);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
