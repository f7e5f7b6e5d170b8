// Bias + gelu_new, fused, in place (one read and one write of the MLP activation).
#include "kernels/gelu.cuh"

#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

template <class T>
__global__ void bias_gelu_kernel(T* y, const T* bias, int rows, int cols) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)rows * cols) return;
  float v = to_f32(y[i]) + (bias ? to_f32(bias[i % cols]) : 0.f);
  y[i] = from_f32<T>(gelu_new(v));
}

void bias_gelu_forward(void* y, const void* bias, int rows, int cols, DType dtype, cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n == 0) return;
  const int threads = 256;
  DISPATCH_DTYPE(dtype, T, {
    bias_gelu_kernel<T><<<(int)((n + threads - 1) / threads), threads, 0, stream>>>((T*)y, (const T*)bias, rows, cols);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
