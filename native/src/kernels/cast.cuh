// defines: cast_f32_forward
#pragma once
#include <cuda_runtime.h>
#include "core/types.h"

namespace attnbench {
// Weight conversion at load time: out = (dtype) in, in [rows, cols] fp32. transpose: out is
// [cols, rows] (Conv1D [in, out] -> [out, in], the layout the GEMM wants). dtype may be F32.
void cast_f32_forward(void* out, const float* in, int rows, int cols, bool transpose, DType dtype,
                      cudaStream_t stream);
}  // namespace attnbench
