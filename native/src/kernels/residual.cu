// Residual add into the fp32 stream.
#include "kernels/residual.cuh"

#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

template <class T>
__global__ void residual_kernel(float* x, const T* delta, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += to_f32(delta[i]);
}

void residual_forward(float* x, const void* delta, long long n, DType dtype, cudaStream_t stream) {
  if (n == 0) return;
  const int threads = 256;
  int blocks = (int)((n + threads - 1) / threads);
  DISPATCH_DTYPE(dtype, T, { residual_kernel<T><<<blocks, threads, 0, stream>>>(x, (const T*)delta, n); });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
