// Fused residual add + LayerNorm, one warp per row (llm.c's layernorm_forward shape). The residual
// stream stays fp32 so twelve layers of adds don't accumulate 16-bit rounding; the output is the
// 16-bit GEMM input. Rows are re-read from L1/L2 instead of held in registers so any C works.
#include "kernels/layernorm.cuh"

#include "cuda/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__global__ void residual_layernorm_kernel(T* out, float* x, const T* delta, const int32_t* rows, int n_rows, int C,
                                          const float* w, const float* b, float eps) {
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
  float mean = warp_sum(sum) / C;
  float sq = 0.f;
  for (int c = lane; c < C; c += 32) {
    float d = xr[c] - mean;
    sq += d * d;
  }
  float rstd = rsqrtf(warp_sum(sq) / C + eps);
  T* o = out + (int64_t)i * C;
  for (int c = lane; c < C; c += 32) o[c] = from_f32<T>((xr[c] - mean) * rstd * w[c] + b[c]);
}

// Block-per-row version for C <= 16 * 128 (GPT-2: 768 -> 6 values per thread): the row lives in
// registers (one read of x and delta, one write of x and out), and a decode step's 128 rows spread
// over 128 SMs instead of 16 blocks of 8 warps. The one-warp kernel above measured 13.6 us a call at
// 128 x 768 (H100, decode breakdown: 25 calls = 0.34 ms of a 1.47 ms step).
constexpr int kLnThreads = 128;

__device__ __forceinline__ float block_sum_128(float v, float* sh) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // sh is reused by the next reduction
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  return sh[0] + sh[1] + sh[2] + sh[3];
}

// Residual input: delta (T) or, when part != null, n_part fp32 split-K partials plus a bias (T).
template <class T>
struct ResidualIn {
  const T* delta = nullptr;
  const float* part = nullptr;
  int n_part = 0;
  size_t part_stride = 0;
  const T* bias = nullptr;
};

template <class T, int VPT>
__global__ void __launch_bounds__(kLnThreads) residual_layernorm_row_kernel(T* out, float* x, const ResidualIn<T> in,
                                                                            const int32_t* rows, int C, const float* w,
                                                                            const float* b, float eps) {
  const T* delta = in.delta;
  __shared__ float sh[4];
  const int i = blockIdx.x;
  const int r = rows ? rows[i] : i;
  float* xr = x + (int64_t)r * C;
  const T* dr = delta ? delta + (int64_t)r * C : nullptr;
  float v[VPT], wk[VPT], bk[VPT];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = threadIdx.x + k * kLnThreads;
    v[k] = 0.f;
    if (c < C) {
      // The affine parameters are loaded with the row, not after the two reductions: one memory
      // round trip fewer on the step's critical path (the loads cannot move past __syncthreads).
      wk[k] = __ldg(w + c);
      bk[k] = __ldg(b + c);
      float t = xr[c];
      if (dr) {
        t += to_f32(dr[c]);
        xr[c] = t;
      } else if (in.part) {
        float add = to_f32(in.bias[c]);
        const float* pr = in.part + (int64_t)r * C + c;
        for (int s = 0; s < in.n_part; ++s) add += pr[s * in.part_stride];
        t += add;
        xr[c] = t;
      }
      v[k] = t;
      sum += t;
    }
  }
  const float mean = block_sum_128(sum, sh) / C;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = threadIdx.x + k * kLnThreads;
    if (c < C) {
      const float d = v[k] - mean;
      sq += d * d;
    }
  }
  const float rstd = rsqrtf(block_sum_128(sq, sh) / C + eps);
  T* o = out + (int64_t)i * C;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = threadIdx.x + k * kLnThreads;
    if (c < C) o[c] = from_f32<T>((v[k] - mean) * rstd * wk[k] + bk[k]);
  }
}

template <class T, int VPT>
static void launch_row(T* out, float* x, const ResidualIn<T>& in, const int32_t* rows, int n_rows, int C,
                       const float* w, const float* b, float eps, cudaStream_t stream) {
  residual_layernorm_row_kernel<T, VPT><<<n_rows, kLnThreads, 0, stream>>>(out, x, in, rows, C, w, b, eps);
}

template <class T>
static bool launch_rows(T* o, float* x, const ResidualIn<T>& in, const int32_t* rows, int n_rows, int C,
                        const float* w, const float* b, float eps, cudaStream_t stream) {
  const int vpt = ceil_div(C, kLnThreads);
  if (vpt <= 2) launch_row<T, 2>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 4) launch_row<T, 4>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 6) launch_row<T, 6>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 8) launch_row<T, 8>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 12) launch_row<T, 12>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else if (vpt <= 16) launch_row<T, 16>(o, x, in, rows, n_rows, C, w, b, eps, stream);
  else return false;
  return true;
}

void residual_layernorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                                const float* w, const float* b, float eps, DType dtype, cudaStream_t stream) {
  if (n_rows == 0) return;
  DISPATCH_DTYPE(dtype, T, {
    T* o = (T*)out;
    ResidualIn<T> in;
    in.delta = (const T*)delta;
    if (!launch_rows<T>(o, x, in, rows, n_rows, C, w, b, eps, stream)) {
      const int threads = 256, rows_per_block = threads / 32;
      residual_layernorm_kernel<T><<<ceil_div(n_rows, rows_per_block), threads, 0, stream>>>(o, x, in.delta, rows,
                                                                                             n_rows, C, w, b, eps);
    }
  });
  CUDA_CHECK_LAUNCH();
}

void residual_layernorm_partials_forward(void* out, float* x, const float* partials, int n_partials,
                                         size_t partial_stride, const void* bias, const int32_t* rows, int n_rows,
                                         int C, const float* w, const float* b, float eps, DType dtype,
                                         cudaStream_t stream) {
  if (n_rows == 0) return;
  if (!partials || n_partials < 1 || !bias) throw std::runtime_error("residual_layernorm_partials: partials and bias needed");
  DISPATCH_DTYPE(dtype, T, {
    ResidualIn<T> in;
    in.part = partials;
    in.n_part = n_partials;
    in.part_stride = partial_stride;
    in.bias = (const T*)bias;
    if (!launch_rows<T>((T*)out, x, in, rows, n_rows, C, w, b, eps, stream))
      throw std::runtime_error("residual_layernorm_partials: C > 2048 is not built");
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
