// defines: embedding_forward
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "core/types.h"

namespace attnbench {
// x[t, :] = wte[tokens[t], :] + wpe[positions[t], :] (wpe may be null: no learned positions); x is the
// fp32 residual stream [T, C].
void embedding_forward(float* x, const int32_t* tokens, const int32_t* positions, const void* wte,
                       const void* wpe, int num_tokens, int C, DType dtype, cudaStream_t stream);
}  // namespace attnbench
