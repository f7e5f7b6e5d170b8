// defines: top_logprobs_forward
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

namespace attnbench {

// For each of `n_rows` rows of fp32 logits (row rows[i], `ld` floats apart): the k most likely
// tokens of log_softmax(row), best first (logit descending, index ascending on ties), as ids_out[i*k+j]
// and lp_out[i*k+j]. The rule of cpu/sampling.cpp's top_logprobs. k <= kMaxTopLogprobs (20); a row
// with fewer than k tokens is padded with id -1. Only for requests that ask for top_logprobs: one
// block per row, k argmax passes over the row, simple rather than fast.
void top_logprobs_forward(int32_t* ids_out, float* lp_out, const float* logits, const int32_t* rows, int n_rows, int vocab,
                          int ld, int k, cudaStream_t stream);

}  // namespace attnbench
