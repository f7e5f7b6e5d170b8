// Scheduler invariants under seeded random add/abort traffic, without a model: every request ends
// exactly once, every step respects the token budget and the running limit, block tables are
// disjoint and cover what is computed, a step always makes progress, and the pool ends fully free.
#include <map>
#include <memory>
#include <random>
#include <set>

#include "sched/scheduler.h"
#include "test_util.h"

using namespace attnbench;

static void check_step(const Scheduler& s, const SchedulerOutput& out, const std::vector<Sequence*>& live,
                       const std::string& tag, bool& ok) {
  const SchedulerConfig& c = s.config();
  int tokens = 0;
  std::set<Sequence*> seen;
  for (const auto* list : {&out.prefills, &out.decodes})
    for (const auto& sl : *list) {
      tokens += sl.q_len;
      ok &= seen.insert(sl.seq).second;                                           // scheduled once
      ok &= sl.q_len >= 1 && sl.ctx_len == sl.seq->num_computed;
      ok &= (int)sl.seq->block_table.size() * c.block_size >= sl.ctx_len + sl.q_len;  // blocks cover it
      ok &= sl.sample == (sl.ctx_len + sl.q_len == sl.seq->num_tokens());
    }
  for (const auto& d : out.decodes) ok &= d.q_len == 1 && d.ctx_len >= 1;
  ok &= tokens <= c.max_num_batched_tokens;
  ok &= s.num_running() <= c.max_num_seqs;
  std::set<int32_t> blocks;
  int used = 0;
  for (Sequence* q : live)
    for (int32_t b : q->block_table) {
      ok &= blocks.insert(b).second && b >= 0 && b < c.num_blocks;  // no block owned twice
      ++used;
    }
  ok &= used + s.pool().num_free() == c.num_blocks;
  if (!ok) std::printf("  invariant broken at %s\n", tag.c_str());
}

static void random_run(uint32_t seed) {
  std::mt19937 rng(seed);
  auto R = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  SchedulerConfig cfg;
  cfg.max_num_seqs = R(1, 8);
  cfg.max_num_batched_tokens = R(1, 64);
  cfg.block_size = R(1, 8);
  cfg.num_blocks = R(4, 40);
  cfg.n_ctx = 64;
  Scheduler s(cfg);
  std::map<std::string, int> ended;  // id -> number of endings
  std::vector<std::unique_ptr<Sequence>> owned;
  std::vector<Sequence*> live;
  int added = 0, rejected = 0, aborted = 0;
  bool ok = true, progress = true;
  auto end = [&](Sequence* q) {
    ended[q->request_id]++;
    live.erase(std::find(live.begin(), live.end(), q));
  };
  for (int step = 0; step < 4000 && (step < 300 || s.has_work()); ++step) {
    if (step < 300 && R(0, 2) == 0) {
      const int prompt = R(1, 40), max_tokens = R(1, 24);
      const std::string id = "r" + std::to_string(added++);
      ended[id];  // registered: must end exactly once
      if (!s.why_never_fits(prompt, max_tokens).empty()) {
        ended[id]++;
        ++rejected;
      } else {
        auto q = std::make_unique<Sequence>();
        q->seq_id = added;
        q->request_id = id;
        for (int i = 0; i < prompt; ++i) q->prompt.push_back(R(0, 9));
        q->max_tokens = max_tokens;
        q->ignore_eos = R(0, 1);
        q->eos_token_ids = {3};
        if (R(0, 3) == 0) q->stop_token_ids = {5};
        live.push_back(q.get());
        s.add(q.get());
        owned.push_back(std::move(q));
      }
    }
    if (!live.empty() && R(0, 9) == 0) {
      Sequence* victim = live[R(0, (int)live.size() - 1)];
      s.remove(victim);
      end(victim);
      ++aborted;
    }
    if (!s.has_work()) continue;
    SchedulerOutput out = s.schedule();
    if (out.empty()) progress = false;
    check_step(s, out, live, "seed " + std::to_string(seed) + " step " + std::to_string(step), ok);
    std::vector<int32_t> sampled;
    for (const auto* list : {&out.prefills, &out.decodes})
      for (const auto& sl : *list)
        if (sl.sample) sampled.push_back(R(0, 9));
    for (Sequence* q : s.commit(out, sampled)) {
      ok &= q->finish == FinishReason::Length || q->finish == FinishReason::Stop;
      ok &= (int)q->output.size() <= q->max_tokens && q->block_table.empty();
      end(q);
    }
  }
  const std::string tag = "seed " + std::to_string(seed) + " (" + std::to_string(added) + " requests, " +
                          std::to_string(rejected) + " rejected, " + std::to_string(aborted) + " aborted, " +
                          std::to_string(s.num_preemptions()) + " preemptions)";
  CHECK(ok, tag + ": per-step invariants");
  CHECK(progress, tag + ": every step with work scheduled something");
  CHECK(!s.has_work() && live.empty(), tag + ": drained");
  bool once = true;
  for (auto& kv : ended) once &= kv.second == 1;
  CHECK(once, tag + ": every request ended exactly once");
  CHECK(s.pool().num_free() == cfg.num_blocks, tag + ": pool fully free at the end");
}

static std::unique_ptr<Sequence> make_seq(uint64_t id, int prompt_len, int max_tokens) {
  auto q = std::make_unique<Sequence>();
  q->seq_id = id;
  q->request_id = "s" + std::to_string(id);
  q->prompt.assign(prompt_len, 1);
  q->max_tokens = max_tokens;
  q->ignore_eos = true;
  return q;
}

static void targeted() {
  // Chunked prefill: a 40-token prompt with a 16-token budget spans 3 steps and samples on the last.
  {
    Scheduler s({4, 16, 4, 100, 128});
    auto a = make_seq(0, 40, 2);
    s.add(a.get());
    std::vector<int> chunks;
    for (int i = 0; i < 3; ++i) {
      auto out = s.schedule();
      chunks.push_back(out.prefills.at(0).q_len);
      CHECK(out.prefills[0].sample == (i == 2), "chunk " + std::to_string(i) + " samples only at the end");
      s.commit(out, out.prefills[0].sample ? std::vector<int32_t>{7} : std::vector<int32_t>{});
    }
    CHECK((chunks == std::vector<int>{16, 16, 8}), "40-token prompt chunked 16+16+8");
    auto out = s.schedule();
    CHECK(out.decodes.size() == 1 && out.prefills.empty(), "then it decodes");
  }
  // Decodes go first and are never starved by a long prefill.
  {
    Scheduler s({4, 8, 4, 100, 128});
    auto a = make_seq(0, 3, 10), b = make_seq(1, 60, 2);
    s.add(a.get());
    auto out = s.schedule();
    s.commit(out, {1});
    s.add(b.get());
    for (int i = 0; i < 4; ++i) {
      out = s.schedule();
      CHECK(out.decodes.size() == 1 && out.decodes[0].seq == a.get(), "running decode scheduled beside the prefill");
      CHECK(out.prefills.size() == 1 && out.prefills[0].q_len == 7, "prefill gets the rest of the budget");
      std::vector<int32_t> toks{1};
      if (out.prefills[0].sample) toks.push_back(1);
      s.commit(out, toks);
    }
  }
  // Preemption: two sequences that together outgrow the pool; the newer one is preempted, goes back
  // to the front of the queue and is prefilled again over prompt + generated tokens.
  {
    Scheduler s({4, 64, 2, 6, 128});  // 6 blocks of 2 tokens
    auto a = make_seq(0, 4, 6), b = make_seq(1, 4, 6);
    s.add(a.get());
    s.add(b.get());
    int preempted_at_tokens = -1;
    for (int i = 0; i < 40 && s.has_work(); ++i) {
      auto out = s.schedule();
      if (out.num_preempted && preempted_at_tokens < 0) {
        CHECK(b->status == SeqStatus::Waiting && b->num_computed == 0 && b->block_table.empty(),
              "the newest sequence is the one preempted, its blocks freed");
        preempted_at_tokens = b->num_tokens();
      }
      std::vector<int32_t> toks;
      for (const auto* list : {&out.prefills, &out.decodes})
        for (const auto& sl : *list)
          if (sl.sample) toks.push_back(2);
      for (const auto& sl : out.prefills)
        if (sl.seq == b.get() && preempted_at_tokens > 0 && sl.ctx_len == 0)
          CHECK(sl.q_len == preempted_at_tokens, "recompute prefills prompt + generated tokens");
      s.commit(out, toks);
    }
    CHECK(preempted_at_tokens > 4, "a preemption happened after b generated tokens");
    CHECK(a->output.size() == 6 && b->output.size() == 6 && b->preemptions >= 1, "both finished despite preemption");
    CHECK(s.pool().num_free() == 6, "pool free again");
  }
  // Requests that can never fit are refused up front.
  {
    Scheduler s({4, 64, 16, 100, 128});
    CHECK(!s.why_never_fits(100, 29).empty(), "prompt + max_tokens > n_ctx refused");
    CHECK(s.why_never_fits(100, 28).empty(), "prompt + max_tokens == n_ctx accepted");
    Scheduler small({4, 64, 16, 2, 128});
    CHECK(!small.why_never_fits(30, 4).empty(), "more blocks than the whole pool refused");
    CHECK(small.why_never_fits(30, 3).empty(), "exactly the whole pool accepted");
  }
}

int main() {
  attnbench_test::init();
  targeted();
  for (uint32_t seed = 1; seed <= 300; ++seed) random_run(seed);
  return attnbench_test::finish("test_scheduler");
}
