// defines: SampleParamsDev, sample_forward
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

namespace attnbench {

// Per-row sampling parameters as device arrays (each [rows]); filled from StepBatch by the runner.
struct SampleParamsDev {
  const float* temperature = nullptr;  // <= 0: greedy
  const float* top_p = nullptr;        // >= 1: off
  const int32_t* top_k = nullptr;      // <= 0 or >= vocab: off
  const uint32_t* seed_lo = nullptr;   // seed = hi << 32 | lo
  const uint32_t* seed_hi = nullptr;
  const uint32_t* step = nullptr;      // RNG counter: output index of the token being drawn
};

// One block per row of logits [rows, vocab] (fp32). Greedy: argmax, lowest index on ties.
// Otherwise the rule of cpu/sampling.cpp: softmax(logits / temperature) over the top-k logits,
// then the smallest top set holding top_p of that mass (ties at the cut are all kept here), then
// inverse CDF in descending-logit order (ties by index) with u = sample_uniform(seed, step).
// logprob_out = log p(token) under the unmodified distribution (log-sum-exp over the vocab).
// `ld`: floats between row starts (>= vocab; 0 = vocab), so a GEMM can write rows at aligned strides.
void sample_forward(int32_t* token_out, float* logprob_out, const float* logits, int rows, int vocab,
                    const SampleParamsDev& params, cudaStream_t stream, int ld = 0);

}  // namespace attnbench
