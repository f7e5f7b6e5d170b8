// defines: bias_gelu_forward, gelu_new (device)
#pragma once
#include <cuda_runtime.h>
#include "core/types.h"

namespace attnbench {

// GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
__host__ __device__ inline float gelu_new(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
}

// y[r, c] = gelu_new(y[r, c] + bias[c]) in place, y [rows, cols]. Used when the GEMM's epilogue
// does not fuse bias + GELU.
void bias_gelu_forward(void* y, const void* bias, int rows, int cols, DType dtype, cudaStream_t stream);

}  // namespace attnbench
