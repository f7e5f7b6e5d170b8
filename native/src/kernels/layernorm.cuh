// defines: residual_layernorm_forward, residual_rmsnorm_forward
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "core/types.h"

namespace attnbench {
// For each output row i (source row r = rows ? rows[i] : i):
//   if delta: x[r] += delta[r]            (fp32 residual stream, updated in place)
//   out[i] = (x[r] - mean) / sqrt(var + eps) * w + b      (fp32 math, stored in `dtype`)
// rows gathers the sampled rows before the LM head; delta fuses the residual add of the sublayer
// before. rows must not repeat (the add would repeat too).
void residual_layernorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                                const float* w, const float* b, float eps, DType dtype, cudaStream_t stream);
// The same with RMSNorm: out[i] = x[r] / sqrt(mean(x[r]^2) + eps) * w (Llama, Qwen).
void residual_rmsnorm_forward(void* out, float* x, const void* delta, const int32_t* rows, int n_rows, int C,
                              const float* w, float eps, DType dtype, cudaStream_t stream);

}  // namespace attnbench
