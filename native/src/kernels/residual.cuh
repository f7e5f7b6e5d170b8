// defines: residual_forward
#pragma once
#include <cuda_runtime.h>
#include "core/types.h"

namespace attnbench {
// x[i] += delta[i] for n elements (fp32 residual stream, 16-bit delta). The runner fuses this into
// residual_layernorm_forward; kept for paths that need the add alone.
void residual_forward(float* x, const void* delta, long long n, DType dtype, cudaStream_t stream);
}  // namespace attnbench
