// defines: synthetic_fill_forward
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <cstdint>
#include "core/types.h"

namespace attnbench {
// out[i] = mean + std * N(0, 1) for i < n, stored in `dtype` (fp32/fp16/bf16): the device twin of
// models/synthetic.cpp's random_tensor (same counter-based draw per pair of elements, Box-Muller in
// fp32), so a synthetic model's weights are made where they are used.
void synthetic_fill_forward(void* out, size_t n, uint64_t seed, uint64_t tensor_id, float mean, float std, DType dtype,
                            cudaStream_t stream);
}  // namespace attnbench
