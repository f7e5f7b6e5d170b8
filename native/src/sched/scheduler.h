// Continuous batching with a per-step token budget, chunked prefill and preemption by recompute.
// Pure host logic: no model, no device; tests drive it with made-up tokens.
//
// One step, in order:
//   1. decodes of running sequences, oldest first (1 token each): they are never starved;
//   2. running sequences still in prefill, oldest first, each taking a chunk of what budget is left;
//   3. waiting sequences, FCFS, while there is budget, a free running slot and blocks for the chunk.
// When a running sequence needs a block and none is free, the newest running sequence is
// preempted: its blocks are freed and it goes back to the front of the waiting queue, to be
// prefilled again over prompt + generated tokens. Age decides, so the oldest always progresses.
// With prefix caching, an admission first holds the cached blocks of the sequence's longest cached
// prefix and computes only the rest (its first slice starts at ctx_len = cached tokens); every
// committed step registers newly computed full blocks, so a recomputed (preempted) sequence also
// finds its own blocks again unless they were evicted meanwhile.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "core/step_batch.h"
#include "kv/block_manager.h"
#include "sched/sequence.h"

namespace attnbench {

struct SchedulerConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int block_size = 16;
  int num_blocks = 0;
  int n_ctx = 0;
  bool enable_prefix_caching = false;
};

struct ScheduledSlice {
  Sequence* seq = nullptr;
  int ctx_len = 0;   // tokens already cached
  int q_len = 0;     // tokens computed this step
  bool sample = false;  // the chunk reaches the last token: a new token is drawn
};

struct SchedulerOutput {
  std::vector<ScheduledSlice> prefills;  // packed first in the StepBatch
  std::vector<ScheduledSlice> decodes;
  int num_preempted = 0;
  bool empty() const { return prefills.empty() && decodes.empty(); }
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& cfg);

  // Empty when a request of this size can run; else why it never can (it must end as an error).
  std::string why_never_fits(int prompt_len, int max_tokens) const;

  void add(Sequence* seq);  // seq must be admissible; the caller keeps ownership
  // Removes a live sequence (abort): frees its blocks at once.
  void remove(Sequence* seq);

  SchedulerOutput schedule();
  // Records the step's sampled tokens (one per slice with sample=true, in StepBatch order:
  // prefills then decodes) and returns the sequences that finished; their blocks are freed.
  std::vector<Sequence*> commit(const SchedulerOutput& out, const std::vector<int32_t>& sampled_tokens);

  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  int num_waiting() const { return (int)waiting_.size(); }
  int num_running() const { return (int)running_.size(); }
  uint64_t num_preemptions() const { return num_preemptions_; }
  const BlockManager& pool() const { return pool_; }
  const SchedulerConfig& config() const { return cfg_; }

 private:
  bool ensure_blocks(Sequence* seq, int num_tokens, SchedulerOutput& out, int& budget);
  void preempt(Sequence* victim, SchedulerOutput& out, int& budget);

  SchedulerConfig cfg_;
  BlockManager pool_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // ascending seq_id (oldest first)
  uint64_t num_preemptions_ = 0;
};

// Packs the scheduled slices into the runner's StepBatch (prefills first, then decodes).
StepBatch build_step_batch(const SchedulerOutput& out, int block_size);

// Why a sequence stops after its newest token, or None.
FinishReason finish_reason_after_token(const Sequence& seq);

}  // namespace attnbench
