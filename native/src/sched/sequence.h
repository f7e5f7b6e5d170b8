// One request's state as the scheduler sees it. Its tokens are prompt + output; after a preemption
// (recompute) every one of them is prefilled again, so "prompt" for scheduling is all of them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace attnbench {

enum class SeqStatus { Waiting, Running, Finished };
enum class FinishReason { None, Length, Stop, Abort, Error };
inline const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Length: return "length";
    case FinishReason::Stop: return "stop";
    case FinishReason::Abort: return "abort";
    case FinishReason::Error: return "error";
    default: return "none";
  }
}

struct Sequence {
  uint64_t seq_id = 0;               // arrival order: larger = newer (preempted first)
  std::string request_id;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  int max_tokens = 16;
  SamplingParams sampling;
  bool ignore_eos = false;
  std::vector<int32_t> eos_token_ids;  // any of them ends the request (Llama 3: end_of_text, eom, eot)
  std::vector<int32_t> stop_token_ids;

  SeqStatus status = SeqStatus::Waiting;
  FinishReason finish = FinishReason::None;
  int num_computed = 0;              // tokens whose K/V are in the cache
  std::vector<int32_t> block_table;
  int preemptions = 0;
  // Prefix caching (kv/block_manager.h): chained hashes of the full blocks hashed so far (tokens
  // never change, so they survive preemption), how many leading blocks of block_table were offered
  // to the cache, and the prompt tokens served from the cache when first admitted (-1: not yet).
  std::vector<uint64_t> block_hashes;
  int num_registered_blocks = 0;
  int cached_tokens = -1;

  int num_tokens() const { return (int)(prompt.size() + output.size()); }
  int32_t token_at(int i) const { return i < (int)prompt.size() ? prompt[i] : output[i - prompt.size()]; }
  int num_uncomputed() const { return num_tokens() - num_computed; }
  // A decode: one new token over a non-empty cached context.
  bool is_decode() const { return num_computed > 0 && num_uncomputed() == 1; }
};

}  // namespace attnbench
