// Fused residual add + LayerNorm or RMSNorm (RMS: no mean, no bias), one warp per row (llm.c's
// layernorm_forward shape). The residual stream stays fp32 so many layers of adds don't accumulate
// 16-bit rounding; the output is the 16-bit GEMM input. Rows are re-read from L1/L2 instead of held
// in registers so any C works.
#include "kernels/layernorm.cuh"

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"

namespace attnbench {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T, bool RMS>
__global__ void residual_layernorm_kernel(T* out, float* x, const T* delta, const int32_t* rows, int n_rows, int C,
                                          const float* w, const float* b, float eps) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  int warps = blockDim.x / 32;
  int i = blockIdx.x * warps + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (i >= n_rows) return;
  int r = rows ? rows[i] : i;
  float* xr = x + (int64_t)r * C;
  float sum = 0.f;
  if (delta) {
    const T* dr = delta + (int64_t)r * C;
    for (int c = lane; c < C; c += 32) {
      float v = xr[c] + to_f32(dr[c]);
      xr[c] = v;
      sum += v;
    }
  } else {
    for (int c = lane; c < C; c += 32) sum += xr[c];
  }
  float mean = RMS ? 0.f : warp_sum(sum) / C;
  float sq = 0.f;
  for (int c = lane; c < C; c += 32) {
    float d = xr[c] - mean;
    sq += d * d;
  }
  float rstd = rsqrtf(warp_sum(sq) / C + eps);
  T* o = out + (int64_t)i * C;
  for (int c = lane; c < C; c += 32) o[c] = from_f32<T>((xr[c] - mean) * rstd * w[c] + (RMS ? 0.f : b[c]));
}

// Block-per-row version for C <= 16 * 128 * VEC (GPT-2: 768 -> 6 values per thread): the row lives
// in registers (one read of x and delta, one write of x and out), and a decode step's 128 rows spread
// over 128 SMs instead of 16 blocks of 8 warps. The one-warp kernel above measured 13.6 us a call at
// 128 x 768 (H100, decode breakdown: 25 calls = 0.34 ms of a 1.47 ms step).
constexpr int kLnThreads = 128;
// Wide rows (C >= kLnWideC, C % 8 == 0: Llama-3.1-8B's 4096) take 8-wide vectors (two float4 of x,
// one 16-byte access of delta / out) on 256 threads: session 7's lab (native/dev/elementwise.cu).
constexpr int kLnWideThreads = 256, kLnWideC = 2048;

template <int THREADS>
__device__ __forceinline__ float block_sum(float v, float* sh) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // sh is reused by the next reduction
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < THREADS / 32; ++j) s += sh[j];
  return s;
}

// VEC contiguous elements per access (4: float4 / 8-byte 16-bit loads, when C % 4 == 0 and the
// pointers allow): a prefill step's 8192-row calls are bandwidth-bound (9 KB a row), and scalar
// 2-byte loads of delta/out left ~35 % of HBM bandwidth unused (H100: 38.6 us a call vs ~25 floor).
// RO: read through the read-only path (__ldg), for the affine parameters nothing writes.
template <int VEC, bool RO = false>
__device__ __forceinline__ void load_vec(const float* p, float* o) {
  if constexpr (VEC == 8) {
    load_vec<4, RO>(p, o);
    load_vec<4, RO>(p + 4, o + 4);
  } else if constexpr (VEC == 4) {
    const float4* q = reinterpret_cast<const float4*>(p);
    const float4 t = RO ? __ldg(q) : *q;
    o[0] = t.x, o[1] = t.y, o[2] = t.z, o[3] = t.w;
  } else if constexpr (VEC == 2) {
    const float2* q = reinterpret_cast<const float2*>(p);
    const float2 t = RO ? __ldg(q) : *q;
    o[0] = t.x, o[1] = t.y;
  } else {
    o[0] = RO ? __ldg(p) : *p;
  }
}
template <int VEC>
__device__ __forceinline__ void store_vec(float* p, const float* v) {
  if constexpr (VEC == 8) store_vec<4>(p, v), store_vec<4>(p + 4, v + 4);
  else if constexpr (VEC == 4) *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  else if constexpr (VEC == 2) *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
  else *p = v[0];
}
// 16-bit vectors move as one 16- / 8- / 4- / 2-byte word.
template <int VEC> struct Word16;
template <> struct Word16<8> { using type = uint4; };
template <> struct Word16<4> { using type = uint2; };
template <> struct Word16<2> { using type = uint32_t; };
template <> struct Word16<1> { using type = uint16_t; };
template <class T, int VEC>
__device__ __forceinline__ void load_vec16(const T* p, float* o) {
  const typename Word16<VEC>::type w = *reinterpret_cast<const typename Word16<VEC>::type*>(p);
  const T* h = reinterpret_cast<const T*>(&w);
#pragma unroll
  for (int j = 0; j < VEC; ++j) o[j] = to_f32(h[j]);
}
template <class T, int VEC>
__device__ __forceinline__ void store_vec16(T* p, const float* v) {
  typename Word16<VEC>::type w;
  T* h = reinterpret_cast<T*>(&w);
#pragma unroll
  for (int j = 0; j < VEC; ++j) h[j] = from_f32<T>(v[j]);
  *reinterpret_cast<typename Word16<VEC>::type*>(p) = w;
}

// VPT: VEC-vectors per thread (C <= THREADS * VPT * VEC).
template <class T, int THREADS, int VPT, int VEC, bool RMS>
__global__ void __launch_bounds__(THREADS) residual_layernorm_row_kernel(T* out, float* x, const T* delta,
                                                                         const int32_t* rows, int C, const float* w,
                                                                         const float* b, float eps) {
  __shared__ float sh[THREADS / 32];
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int i = blockIdx.x;
  const int r = rows ? rows[i] : i;
  float* xr = x + (int64_t)r * C;
  const T* dr = delta ? delta + (int64_t)r * C : nullptr;
  float v[VPT][VEC], wk[VPT][VEC], bk[VPT][VEC];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = (threadIdx.x + k * THREADS) * VEC;
#pragma unroll
    for (int j = 0; j < VEC; ++j) v[k][j] = 0.f;
    if (c < C) {
      // The affine parameters are loaded with the row, not after the two reductions: one memory
      // round trip fewer on the step's critical path (the loads cannot move past __syncthreads).
      load_vec<VEC, true>(w + c, wk[k]);
      if (!RMS) load_vec<VEC, true>(b + c, bk[k]);
      load_vec<VEC>(xr + c, v[k]);
      if (dr) {
        float add[VEC];
        load_vec16<T, VEC>(dr + c, add);
#pragma unroll
        for (int j = 0; j < VEC; ++j) v[k][j] += add[j];
        store_vec<VEC>(xr + c, v[k]);
      }
#pragma unroll
      for (int j = 0; j < VEC; ++j) sum += v[k][j];
    }
  }
  const float mean = RMS ? 0.f : block_sum<THREADS>(sum, sh) / C;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = (threadIdx.x + k * THREADS) * VEC;
    if (c < C)
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const float d = v[k][j] - mean;
        sq += d * d;
      }
  }
  const float rstd = rsqrtf(block_sum<THREADS>(sq, sh) / C + eps);
  T* o = out + (int64_t)i * C;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = (threadIdx.x + k * THREADS) * VEC;
    if (c < C) {
      float y[VEC];
#pragma unroll
      for (int j = 0; j < VEC; ++j) y[j] = (v[k][j] - mean) * rstd * wk[k][j] + (RMS ? 0.f : bk[k][j]);
      store_vec16<T, VEC>(o + c, y);
    }
  }
}

template <class T, int THREADS, int VPT, int VEC, bool RMS>
static void launch_row(T* out, float* x, const T* delta, const int32_t* rows, int n_rows, int C,
                       const float* w, const float* b, float eps, cudaStream_t stream) {
  launch_pdl(residual_layernorm_row_kernel<T, THREADS, VPT, VEC, RMS>, dim3(n_rows), dim3(THREADS), 0, stream, out, x, delta,
             rows, C, w, b, eps);
}

// MAX_VPT bounds the instances: the 8-wide one at VPT 8-16 would spill (255 registers).
template <class T, int VEC, bool RMS, int THREADS = kLnThreads, int MAX_VPT = 16>
static bool launch_rows_vec(T* o, float* x, const T* delta, const int32_t* rows, int n_rows, int C,
                            const float* w, const float* b, float eps, cudaStream_t stream) {
  const int vpt = ceil_div(C, THREADS * VEC);
  if (vpt <= 1) launch_row<T, THREADS, 1, VEC, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 2) launch_row<T, THREADS, 2, VEC, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 4) launch_row<T, THREADS, 4, VEC, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  else if constexpr (MAX_VPT >= 16) {
    if (vpt <= 8) launch_row<T, THREADS, 8, VEC, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
    else if (vpt <= 16) launch_row<T, THREADS, 16, VEC, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
    else return false;
  } else {
    return false;
  }
  return true;
}

template <class T, bool RMS>
static bool launch_rows(T* o, float* x, const T* delta, const int32_t* rows, int n_rows, int C,
                        const float* w, const float* b, float eps, cudaStream_t stream) {
  auto aligned = [](const void* p, int bytes) { return ((uintptr_t)p % bytes) == 0; };
  auto all_aligned = [&](int vec) {
    return C % vec == 0 && aligned(o, 2 * vec) && aligned(x, 4 * vec) && aligned(w, 4 * vec) &&
           (RMS || aligned(b, 4 * vec)) && (!delta || aligned(delta, 2 * vec));
  };
  if (C >= kLnWideC && C <= kLnWideThreads * 8 * 4 && all_aligned(8))
    return launch_rows_vec<T, 8, RMS, kLnWideThreads, 4>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  if (all_aligned(4)) return launch_rows_vec<T, 4, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  if (all_aligned(2)) return launch_rows_vec<T, 2, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
  return launch_rows_vec<T, 1, RMS>(o, x, delta, rows, n_rows, C, w, b, eps, stream);
}

template <bool RMS>
static void residual_norm(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                          const float* w, const float* b, float eps, DType dtype, cudaStream_t stream) {
  if (n_rows == 0) return;
  DISPATCH_DTYPE(dtype, T, {
    T* o = (T*)out;
    const T* d = (const T*)delta;
    if (!launch_rows<T, RMS>(o, x, d, rows, n_rows, C, w, b, eps, stream)) {
      const int threads = 256, rows_per_block = threads / 32;
      launch_pdl(residual_layernorm_kernel<T, RMS>, dim3(ceil_div(n_rows, rows_per_block)), dim3(threads), 0, stream, o,
                 x, d, rows, n_rows, C, w, b, eps);
    }
  });
  CUDA_CHECK_LAUNCH();
}

void residual_layernorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                                const float* w, const float* b, float eps, DType dtype, cudaStream_t stream) {
  residual_norm<false>(out, x, delta, rows, n_rows, C, w, b, eps, dtype, stream);
}

void residual_rmsnorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                              const float* w, float eps, DType dtype, cudaStream_t stream) {
  residual_norm<true>(out, x, delta, rows, n_rows, C, w, nullptr, eps, dtype, stream);
}

}  // namespace attnbench
