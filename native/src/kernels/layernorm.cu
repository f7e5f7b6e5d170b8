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

void residual_layernorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                                const float* w, const float* b, float eps, DType dtype, cudaStream_t stream) {
  if (n_rows == 0) return;
  const int threads = 256, rows_per_block = threads / 32;
  DISPATCH_DTYPE(dtype, T, {
    residual_layernorm_kernel<T><<<ceil_div(n_rows, rows_per_block), threads, 0, stream>>>(
        (T*)out, x, (const T*)delta, rows, n_rows, C, w, b, eps);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
