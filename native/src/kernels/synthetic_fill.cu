// One thread per pair of elements, as the host generator draws them (models/synthetic.cpp).
#include "kernels/synthetic_fill.cuh"

#include "core/rng.h"
#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

namespace {

template <class T>
__global__ void synthetic_fill_kernel(T* out, size_t n, uint64_t base, float mean, float std) {
  const size_t pair = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  const size_t i = pair * 2;
  if (i >= n) return;
  const uint64_t r = splitmix64(base + pair);
  const float u1 = (float)(((r >> 40) + 1) * (1.0 / 16777216.0));  // (0, 1]
  const float u2 = (float)((r & 0xFFFFFF) * (1.0 / 16777216.0));   // [0, 1)
  const float radius = sqrtf(-2.0f * logf(u1));
  const float angle = 6.28318530717958647692f * u2;
  out[i] = from_f32<T>(mean + std * radius * cosf(angle));
  if (i + 1 < n) out[i + 1] = from_f32<T>(mean + std * radius * sinf(angle));
}

}  // namespace

void synthetic_fill_forward(void* out, size_t n, uint64_t seed, uint64_t tensor_id, float mean, float std, DType dtype,
                            cudaStream_t stream) {
  if (n == 0) return;
  const uint64_t base = splitmix64(seed ^ splitmix64(tensor_id * 0x9E3779B97F4A7C15ull + 1));
  const int threads = 256;
  const size_t pairs = (n + 1) / 2;
  const unsigned blocks = (unsigned)((pairs + threads - 1) / threads);
  if (dtype == DType::F32) {
    synthetic_fill_kernel<float><<<blocks, threads, 0, stream>>>((float*)out, n, base, mean, std);
  } else {
    DISPATCH_DTYPE(dtype, T, { synthetic_fill_kernel<T><<<blocks, threads, 0, stream>>>((T*)out, n, base, mean, std); });
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
