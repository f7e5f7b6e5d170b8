#include "sched/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace attnbench {

Scheduler::Scheduler(const SchedulerConfig& cfg)
    : cfg_(cfg), pool_(cfg.num_blocks, std::max(1, cfg.block_size), cfg.enable_prefix_caching) {
  if (cfg.max_num_seqs < 1 || cfg.max_num_batched_tokens < 1 || cfg.block_size < 1)
    throw std::invalid_argument("scheduler: max_num_seqs, max_num_batched_tokens and block_size must be >= 1");
}

std::string Scheduler::why_never_fits(int prompt_len, int max_tokens) const {
  if (prompt_len + max_tokens > cfg_.n_ctx)
    return "prompt of " + std::to_string(prompt_len) + " tokens + max_tokens " + std::to_string(max_tokens) +
           " exceeds the context of " + std::to_string(cfg_.n_ctx);
  // The last sampled token is never fed back, so the cache holds at most prompt + max_tokens - 1.
  const int blocks = blocks_for_tokens(prompt_len + max_tokens - 1, cfg_.block_size);
  if (blocks > pool_.num_total())
    return "request needs " + std::to_string(blocks) + " KV blocks but the whole pool has " +
           std::to_string(pool_.num_total()) + " (raise --kv-cache-gb or --num-kv-blocks)";
  return "";
}

void Scheduler::add(Sequence* seq) {
  seq->status = SeqStatus::Waiting;
  waiting_.push_back(seq);
}

void Scheduler::remove(Sequence* seq) {
  auto it = std::find(running_.begin(), running_.end(), seq);
  if (it != running_.end()) running_.erase(it);
  auto wt = std::find(waiting_.begin(), waiting_.end(), seq);
  if (wt != waiting_.end()) waiting_.erase(wt);
  pool_.release(seq->block_table);
  seq->num_computed = 0;
  seq->num_registered_blocks = 0;
  seq->status = SeqStatus::Finished;
}

static void unschedule(std::vector<ScheduledSlice>& slices, Sequence* seq, int& budget) {
  for (auto it = slices.begin(); it != slices.end(); ++it)
    if (it->seq == seq) {
      budget += it->q_len;
      slices.erase(it);
      return;
    }
}

void Scheduler::preempt(Sequence* victim, SchedulerOutput& out, int& budget) {
  unschedule(out.prefills, victim, budget);
  unschedule(out.decodes, victim, budget);
  running_.erase(std::find(running_.begin(), running_.end(), victim));
  pool_.release(victim->block_table);
  victim->num_computed = 0;
  victim->num_registered_blocks = 0;
  victim->status = SeqStatus::Waiting;
  ++victim->preemptions;
  ++num_preemptions_;
  ++out.num_preempted;
  waiting_.push_front(victim);
}

// Makes the sequence's table cover `num_tokens`, preempting newer sequences as needed. Returns false
// when the sequence itself had to be preempted.
bool Scheduler::ensure_blocks(Sequence* seq, int num_tokens, SchedulerOutput& out, int& budget) {
  const int need = blocks_for_tokens(num_tokens, cfg_.block_size) - (int)seq->block_table.size();
  if (need <= 0) return true;
  while (pool_.num_free() < need) {
    Sequence* victim = running_.back();
    preempt(victim, out, budget);
    if (victim == seq) return false;
  }
  pool_.allocate(need, seq->block_table);
  return true;
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int budget = cfg_.max_num_batched_tokens;

  // 1. Decodes. Index loop: preemption only removes sequences newer than the current one.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence* seq = running_[i];
    if (!seq->is_decode()) continue;
    if (!ensure_blocks(seq, seq->num_computed + 1, out, budget)) break;
    out.decodes.push_back({seq, seq->num_computed, 1, true});
    budget -= 1;
  }
  // 2. Running sequences in the middle of their prefill.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence* seq = running_[i];
    if (seq->is_decode()) continue;
    const int q = std::min(seq->num_uncomputed(), budget);
    if (!ensure_blocks(seq, seq->num_computed + q, out, budget)) break;
    out.prefills.push_back({seq, seq->num_computed, q, seq->num_computed + q == seq->num_tokens()});
    budget -= q;
  }
  // 3. Admissions, FCFS. A waiting sequence never preempts: it waits for blocks instead. Its cached
  // prefix (if any) is held, not computed: the first slice starts after it.
  std::vector<int32_t> hits;
  while (!waiting_.empty() && budget > 0 && (int)running_.size() < cfg_.max_num_seqs) {
    Sequence* seq = waiting_.front();
    pool_.match_prefix(*seq, hits);
    const int cached = (int)hits.size() * cfg_.block_size;
    const int q = std::min(seq->num_tokens() - cached, budget);
    const int need = blocks_for_tokens(cached + q, cfg_.block_size) - (int)hits.size();
    if (pool_.num_free_excluding(hits) < need) break;
    pool_.take(hits, seq->block_table);
    pool_.allocate(need, seq->block_table);
    pool_.record_admission(seq->num_tokens(), cached);
    if (seq->cached_tokens < 0) seq->cached_tokens = std::min(cached, (int)seq->prompt.size());
    seq->num_computed = cached;
    waiting_.pop_front();
    seq->status = SeqStatus::Running;
    // Keep running_ in age order: a preempted (older) sequence returns among younger ones.
    running_.insert(std::upper_bound(running_.begin(), running_.end(), seq,
                                     [](const Sequence* a, const Sequence* b) { return a->seq_id < b->seq_id; }),
                    seq);
    out.prefills.push_back({seq, cached, q, cached + q == seq->num_tokens()});
    budget -= q;
  }
  return out;
}

FinishReason finish_reason_after_token(const Sequence& seq) {
  const int32_t tok = seq.output.back();
  if (std::find(seq.stop_token_ids.begin(), seq.stop_token_ids.end(), tok) != seq.stop_token_ids.end())
    return FinishReason::Stop;
  if (!seq.ignore_eos && std::find(seq.eos_token_ids.begin(), seq.eos_token_ids.end(), tok) != seq.eos_token_ids.end())
    return FinishReason::Stop;
  if ((int)seq.output.size() >= seq.max_tokens) return FinishReason::Length;
  return FinishReason::None;
}

std::vector<Sequence*> Scheduler::commit(const SchedulerOutput& out, const std::vector<int32_t>& sampled_tokens) {
  std::vector<Sequence*> finished;
  size_t row = 0;
  auto apply = [&](const ScheduledSlice& s) {
    s.seq->num_computed += s.q_len;
    pool_.register_computed(*s.seq);  // before a finished sequence lets its blocks go
    if (!s.sample) return;
    if (row >= sampled_tokens.size()) throw std::logic_error("scheduler commit: fewer sampled tokens than sampled slices");
    s.seq->output.push_back(sampled_tokens[row++]);
    const FinishReason why = finish_reason_after_token(*s.seq);
    if (why == FinishReason::None) return;
    s.seq->finish = why;
    remove(s.seq);
    finished.push_back(s.seq);
  };
  for (const auto& s : out.prefills) apply(s);
  for (const auto& s : out.decodes) apply(s);
  return finished;
}

StepBatch build_step_batch(const SchedulerOutput& out, int block_size) {
  StepBatch b;
  b.num_prefill_seqs = (int)out.prefills.size();
  b.num_decode_seqs = (int)out.decodes.size();
  for (const auto* list : {&out.prefills, &out.decodes})
    for (const auto& s : *list) b.max_blocks_per_seq = std::max(b.max_blocks_per_seq, (int)s.seq->block_table.size());
  b.cu_seqlens_q.push_back(0);
  for (const auto* list : {&out.prefills, &out.decodes}) {
    for (const auto& s : *list) {
      const int slice = b.num_seqs();
      const auto& table = s.seq->block_table;
      for (int i = 0; i < s.q_len; ++i) {
        const int pos = s.ctx_len + i;
        b.tokens.push_back(s.seq->token_at(pos));
        b.positions.push_back(pos);
        b.slot_mapping.push_back(table[pos / block_size] * block_size + pos % block_size);
      }
      b.cu_seqlens_q.push_back(b.num_tokens());
      b.ctx_lens.push_back(s.ctx_len);
      b.seq_lens_k.push_back(s.ctx_len + s.q_len);
      for (int j = 0; j < b.max_blocks_per_seq; ++j) b.block_tables.push_back(j < (int)table.size() ? table[j] : 0);
      if (s.sample) {
        b.sample_seq.push_back(slice);
        b.sample_params.push_back(s.seq->sampling);
        b.sample_step.push_back((uint32_t)s.seq->output.size());
      }
    }
  }
  return b;
}

}  // namespace attnbench
