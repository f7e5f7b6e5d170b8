// What the scheduler hands the model runner for one engine step (host side).
// Packing order: prefill slices first, then decode slices (q_len == 1).
//
//   tokens:      [ p0 p0 p0 p0 | p1 p1 | d0 | d1 | d2 ]     num_tokens = 9
//   cu_seqlens_q [ 0,           4,      6,   7,   8,  9 ]
//   ctx_lens     [ c0,          c1,     c2,  c3,  c4 ]      tokens already cached before this step
//   seq_lens_k   [ c0+4,        c1+2,   c2+1,...]           keys visible after this step's append
//
// The runner first appends this step's K/V to the paged cache at slot_mapping, then runs attention;
// every key a query may see (context + this step's own tokens) is in the paged cache by then.
#pragma once
#include <cstdint>
#include <algorithm>
#include <utility>
#include <vector>

#include "core/types.h"

namespace attnbench {

struct StepBatch {
  std::vector<int32_t> tokens;        // [num_tokens]
  std::vector<int32_t> positions;     // [num_tokens] absolute position of each token
  std::vector<int32_t> slot_mapping;  // [num_tokens] block_id * block_size + offset
  std::vector<int32_t> cu_seqlens_q;  // [num_seqs + 1]
  std::vector<int32_t> ctx_lens;      // [num_seqs]
  std::vector<int32_t> seq_lens_k;    // [num_seqs] ctx_len + q_len
  std::vector<int32_t> block_tables;  // [num_seqs, max_blocks_per_seq], unused entries = 0
  int max_blocks_per_seq = 0;
  int num_prefill_seqs = 0;           // slices [0, num_prefill_seqs) are prefill (q_len >= 1)
  int num_decode_seqs = 0;            // the rest are decodes (q_len == 1, ctx_len >= 1)
  // Sampling: one row per slice whose last token produces a next token (a prefill chunk that ends
  // mid-prompt does not sample).
  std::vector<int32_t> sample_seq;    // slice index of each sampled row
  std::vector<SamplingParams> sample_params;
  std::vector<uint32_t> sample_step;  // output index of the token being drawn (RNG counter)

  int num_seqs() const { return (int)ctx_lens.size(); }
  int num_tokens() const { return (int)tokens.size(); }
  int num_prefill_tokens() const { return num_prefill_seqs ? cu_seqlens_q[num_prefill_seqs] : 0; }
  int max_q_len() const;
  int max_k_len() const;
};

inline int StepBatch::max_q_len() const {
  int m = 0;
  for (int i = 0; i < num_seqs(); ++i) m = std::max(m, cu_seqlens_q[i + 1] - cu_seqlens_q[i]);
  return m;
}
inline int StepBatch::max_k_len() const {
  int m = 0;
  for (int k : seq_lens_k) m = std::max(m, k);
  return m;
}

// KV blocks of `block_size` tokens that hold `num_tokens` tokens.
inline int blocks_for_tokens(int num_tokens, int block_size) { return (num_tokens + block_size - 1) / block_size; }

// A step that prefills one whole sequence from position 0 (warm-up, scoring, graph capture):
// token i at position i, its K/V written to slot block_table[i / block_size] * block_size +
// i % block_size (or nowhere when !write_kv: slot -1), the last row sampled with *sample when given.
inline StepBatch one_sequence_prefill(const std::vector<int32_t>& tokens, const std::vector<int32_t>& block_table,
                                      int block_size, bool write_kv = true, const SamplingParams* sample = nullptr) {
  StepBatch b;
  const int n = (int)tokens.size();
  b.tokens = tokens;
  for (int i = 0; i < n; ++i) {
    b.positions.push_back(i);
    b.slot_mapping.push_back(write_kv ? block_table[i / block_size] * block_size + i % block_size : -1);
  }
  b.cu_seqlens_q = {0, n};
  b.ctx_lens = {0};
  b.seq_lens_k = {n};
  b.block_tables = block_table;
  b.max_blocks_per_seq = (int)block_table.size();
  b.num_prefill_seqs = 1;
  if (sample) {
    b.sample_seq = {0};
    b.sample_params = {*sample};
    b.sample_step = {0};
  }
  return b;
}

// Result of one sampled row.
struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;  // log p(token) under the unmodified (temperature 1) distribution
  // The SamplingParams::top_logprobs most likely tokens of that distribution with their logprobs,
  // best first (logit descending, index ascending on ties); empty unless asked for.
  std::vector<std::pair<int32_t, float>> top;
};

}  // namespace attnbench
