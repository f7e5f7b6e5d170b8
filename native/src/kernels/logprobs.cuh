// defines: target_logprob_forward
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

namespace attnbench {
// out[r] = log softmax(logits[r, :])[targets[r]] for r < rows (fp32 logits [rows, vocab]);
// teacher-forced scoring.
void target_logprob_forward(float* out, const float* logits, const int32_t* targets, int rows, int vocab,
                            cudaStream_t stream);
}  // namespace attnbench
