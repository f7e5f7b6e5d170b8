// defines: silu_mul_forward
#pragma once
#include <cuda_runtime.h>
#include "core/types.h"

namespace attnbench {
// y[r, i] = silu(x[r, i]) * x[r, F + i] for i < F (a gated MLP: x = gate | up [rows, 2F], y [rows, F]),
// fp32 math, 16-bit in and out.
void silu_mul_forward(void* y, const void* x, int rows, int F, DType dtype, cudaStream_t stream);
}  // namespace attnbench
