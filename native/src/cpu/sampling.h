// Token sampling from one row of logits (the reference the CUDA sampler must match):
//   greedy (temperature 0): argmax, lowest index on ties;
//   else: logits / temperature -> top_k -> top_p (smallest prefix of the sorted distribution whose
//   cumulative probability reaches top_p) -> renormalise -> inverse CDF at u = sample_uniform(seed,
//   step), walking tokens in sorted order (probability descending, index ascending on ties).
// The reported logprob is always log_softmax(raw logits)[token].
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/types.h"
#include "core/step_batch.h"

namespace attnbench {

SampleResult sample_token(const float* logits, int vocab, const SamplingParams& params, uint32_t step);

// The k most likely tokens of log_softmax(logits) (lse = logsumexp(logits)), best first: logit
// descending, index ascending on ties. What `top_logprobs` reports (sample_token fills it).
std::vector<std::pair<int32_t, float>> top_logprobs(const float* logits, int vocab, int k, float lse);

}  // namespace attnbench
