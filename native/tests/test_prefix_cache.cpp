// Prefix caching (kv/block_manager.h, sched/scheduler.cpp, --enable-prefix-caching):
//   - the pool's free list: LRU order of cached blocks, double free refused;
//   - hit accounting: which blocks hit (full blocks only, never the block holding the last token),
//     cached_tokens in done, hit/miss/eviction counters in stats;
//   - LRU eviction: the least recently freed cached block goes first, and an evicted prefix misses;
//   - seeded random traffic with shared prefixes, aborts and preemption through a tiny pool: every
//     block's reference count equals the tables holding it, no step writes into a shared block,
//     shared blocks hold the same tokens at the same positions, and the pool ends fully free;
//   - the engine on the CPU runner: greedy tokens identical with and without prefix caching, under
//     chunked prefill, preemption and aborts, and no block leaked.
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace attnbench;
using nlohmann::json;

static void pool_order() {
  BlockPool p(4);
  std::vector<int32_t> t;
  CHECK(p.allocate(4, t) && (t == std::vector<int32_t>{0, 1, 2, 3}), "block 0 handed out first");
  p.drop_ref(2, true);  // cached, freed first -> evicted first
  p.drop_ref(0, true);
  p.drop_ref(3, false);  // uncached -> reused before any cached block
  CHECK(p.num_free() == 3 && p.take_front() == 3, "an uncached free block is taken before cached ones");
  CHECK(p.take_front() == 2 && p.take_front() == 0, "cached blocks leave in the order they were freed (LRU)");
  CHECK(p.take_front() == -1, "empty pool gives -1");
  p.drop_ref(1, false);
  bool threw = false;
  try {
    p.drop_ref(1, false);
  } catch (const std::logic_error&) {
    threw = true;
  }
  CHECK(threw, "double free throws");
  p.add_ref(1);
  CHECK(p.num_free() == 0 && p.ref_count(1) == 1, "a hit takes a free block out of the free list");
}

static std::unique_ptr<Sequence> seq_of(uint64_t id, const std::vector<int32_t>& prompt, int max_tokens) {
  auto q = std::make_unique<Sequence>();
  q->seq_id = id;
  q->request_id = "s" + std::to_string(id);
  q->prompt = prompt;
  q->max_tokens = max_tokens;
  q->ignore_eos = true;
  return q;
}

static std::vector<int32_t> iota_tokens(int n, int start) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = start + i;
  return v;
}

// Runs the scheduler until `q` finishes, alone; sampled tokens are 900 + step.
static void run_alone(Scheduler& s, Sequence* q) {
  s.add(q);
  for (int i = 0; i < 1000 && s.has_work(); ++i) {
    auto out = s.schedule();
    std::vector<int32_t> toks;
    for (const auto* list : {&out.prefills, &out.decodes})
      for (const auto& sl : *list)
        if (sl.sample) toks.push_back(900 + i);
    s.commit(out, toks);
  }
}

static void hit_accounting() {
  SchedulerConfig cfg{8, 64, 4, 64, 256};
  cfg.enable_prefix_caching = true;
  Scheduler s(cfg);
  // a: 10 prompt tokens, 3 output -> computed tokens 0..11 (the last sampled token is never fed back).
  auto a = seq_of(0, iota_tokens(10, 1), 3);
  run_alone(s, a.get());
  CHECK(a->cached_tokens == 0, "first request: nothing cached");
  CHECK(s.pool().num_cached() == 3, "a's three full blocks (tokens 0..11, prompt and output) are registered");
  // b shares a's first 9 prompt tokens: blocks [1..4] and [5..8] hit, [9,...] differs.
  std::vector<int32_t> pb = iota_tokens(9, 1);
  pb.push_back(500);
  pb.push_back(501);
  auto b = seq_of(1, pb, 2);
  s.add(b.get());
  auto out = s.schedule();
  CHECK(out.prefills.size() == 1 && out.prefills[0].ctx_len == 8 && out.prefills[0].q_len == 3,
        "b starts after its 8 cached tokens");
  CHECK(b->cached_tokens == 8, "b: cached_tokens 8");
  CHECK(b->block_table.size() == 3 && s.pool().ref_count(b->block_table[0]) == 1, "b holds 2 cached blocks + 1 new one");
  s.commit(out, {7});
  while (s.has_work()) {
    auto o = s.schedule();
    std::vector<int32_t> toks(o.prefills.size() + o.decodes.size(), 8);
    s.commit(o, toks);
  }
  // c: exactly a's first 8 tokens. The last token must be computed: only block 0 may hit.
  auto c = seq_of(2, iota_tokens(8, 1), 1);
  s.add(c.get());
  out = s.schedule();
  CHECK(out.prefills.at(0).ctx_len == 4 && out.prefills[0].q_len == 4, "a whole-block prompt recomputes its last block");
  s.commit(out, {9});
  // d: a's 12 computed tokens (prompt 10 + 2 outputs) as its prompt + 1 more: 3 blocks hit.
  std::vector<int32_t> pd = iota_tokens(10, 1);
  pd.push_back(900);
  pd.push_back(901);
  pd.push_back(77);
  auto d = seq_of(3, pd, 1);
  s.add(d.get());
  out = s.schedule();
  CHECK(out.prefills.at(0).ctx_len == 12, "generated tokens' blocks are cached too (d hits 12 tokens)");
  s.commit(out, {9});
  const PrefixCacheStats& st = s.pool().stats();
  CHECK(st.hit_tokens == 8 + 4 + 12, "hit tokens summed over admissions");
  CHECK(st.miss_tokens == 10 + (11 - 8) + (8 - 4) + (13 - 12), "miss tokens = admitted - hit");
  CHECK(s.pool().num_free() == cfg.num_blocks && !s.has_work(), "everything free again");
}

static void lru_eviction() {
  SchedulerConfig cfg{8, 64, 4, 6, 256};  // 6 blocks of 4 tokens
  cfg.enable_prefix_caching = true;
  Scheduler s(cfg);
  auto a = seq_of(0, iota_tokens(9, 1), 1);    // blocks: 2 full (cached) + 1 partial
  auto b = seq_of(1, iota_tokens(9, 100), 1);  // 2 more cached
  run_alone(s, a.get());
  run_alone(s, b.get());
  CHECK(s.pool().num_cached() == 4 && s.pool().num_free() == 6, "4 cached blocks, all free");
  // c needs 4 blocks: 2 uncached free ones first, then the least recently freed cached ones (a's).
  auto c = seq_of(2, iota_tokens(13, 300), 1);
  run_alone(s, c.get());
  CHECK(s.pool().stats().evicted_blocks == 2, "two cached blocks evicted");
  auto a2 = seq_of(3, iota_tokens(9, 1), 1);
  auto b2 = seq_of(4, iota_tokens(9, 100), 1);
  s.add(b2.get());
  auto out = s.schedule();
  CHECK(out.prefills.at(0).ctx_len == 8, "b's blocks (freed later) survived");
  s.commit(out, {1});
  s.add(a2.get());
  out = s.schedule();
  CHECK(out.prefills.at(0).ctx_len == 0, "a's blocks (freed first) were evicted: a misses");
  s.commit(out, {1});
}

// Seeded random traffic: prompts = one of a few shared prefixes + a random tail, aborts, a pool
// small enough for preemption and eviction.
static void random_traffic(uint32_t seed, uint64_t& hits, uint64_t& evictions, uint64_t& preemptions) {
  std::mt19937 rng(seed);
  auto R = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  SchedulerConfig cfg;
  cfg.max_num_seqs = R(1, 8);
  cfg.max_num_batched_tokens = R(4, 64);
  cfg.block_size = R(1, 8);
  cfg.num_blocks = R(12, 60);
  cfg.n_ctx = 96;
  cfg.enable_prefix_caching = true;
  Scheduler s(cfg);
  std::vector<std::vector<int32_t>> prefixes;
  for (int k = 0; k < 3; ++k) {
    std::vector<int32_t> p(R(4, 40));
    for (auto& t : p) t = R(0, 5);
    prefixes.push_back(p);
  }
  std::vector<std::unique_ptr<Sequence>> owned;
  std::vector<Sequence*> live;
  std::map<std::string, int> ended;
  bool ok = true;
  const std::string tag = "seed " + std::to_string(seed);
  auto end = [&](Sequence* q) {
    ended[q->request_id]++;
    live.erase(std::find(live.begin(), live.end(), q));
  };
  for (int step = 0; step < 4000 && (step < 300 || s.has_work()); ++step) {
    if (step < 300 && R(0, 1) == 0) {
      std::vector<int32_t> prompt = prefixes[R(0, 2)];
      for (int i = R(0, 12); i > 0; --i) prompt.push_back(R(0, 5));
      const int max_tokens = R(1, 16);
      if (s.why_never_fits((int)prompt.size(), max_tokens).empty()) {
        auto q = seq_of(owned.size() + 1, prompt, max_tokens);
        ended[q->request_id];
        live.push_back(q.get());
        s.add(q.get());
        owned.push_back(std::move(q));
      }
    }
    if (!live.empty() && R(0, 14) == 0) {
      Sequence* victim = live[R(0, (int)live.size() - 1)];
      s.remove(victim);
      end(victim);
    }
    if (!s.has_work()) continue;
    SchedulerOutput out = s.schedule();
    // Reference counts are exactly the tables that hold each block; free = blocks nobody holds.
    std::map<int32_t, int> holders;
    for (Sequence* q : live)
      for (int32_t b : q->block_table) holders[b]++;
    int held = 0;
    for (int32_t b = 0; b < cfg.num_blocks; ++b) {
      ok &= s.pool().ref_count(b) == (holders.count(b) ? holders[b] : 0);
      held += s.pool().ref_count(b) > 0;
    }
    ok &= s.pool().num_free() == cfg.num_blocks - held;
    // Shared blocks: same position in every holder, same tokens, fully computed in each.
    std::map<int32_t, std::pair<Sequence*, int>> first_holder;
    for (Sequence* q : live)
      for (int j = 0; j < (int)q->block_table.size(); ++j) {
        const int32_t b = q->block_table[j];
        auto [it, fresh] = first_holder.emplace(b, std::make_pair(q, j));
        if (fresh) continue;
        Sequence* o = it->second.first;
        ok &= it->second.second == j;
        for (int i = j * cfg.block_size; i < (j + 1) * cfg.block_size; ++i) ok &= q->token_at(i) == o->token_at(i);
      }
    // No step writes K/V into a block someone else holds.
    for (const auto* list : {&out.prefills, &out.decodes})
      for (const auto& sl : *list) {
        ok &= sl.ctx_len == sl.seq->num_computed;
        for (int pos = sl.ctx_len; pos < sl.ctx_len + sl.q_len; ++pos)
          ok &= s.pool().ref_count(sl.seq->block_table[pos / cfg.block_size]) == 1;
      }
    std::vector<int32_t> sampled;
    for (const auto* list : {&out.prefills, &out.decodes})
      for (const auto& sl : *list)
        if (sl.sample) sampled.push_back(R(0, 5));
    for (Sequence* q : s.commit(out, sampled)) end(q);
    if (!ok) {
      std::printf("  invariant broken at %s step %d\n", tag.c_str(), step);
      break;
    }
  }
  CHECK(ok, tag + ": ref counts, shared-block contents and write safety hold every step");
  CHECK(!s.has_work() && live.empty(), tag + ": drained");
  bool once = true;
  for (auto& kv : ended) once &= kv.second == 1;
  CHECK(once, tag + ": every request ended exactly once");
  bool all_zero = true;
  for (int32_t b = 0; b < cfg.num_blocks; ++b) all_zero &= s.pool().ref_count(b) == 0;
  CHECK(all_zero && s.pool().num_free() == cfg.num_blocks, tag + ": no block leaked");
  hits += s.pool().stats().hit_tokens;
  evictions += s.pool().stats().evicted_blocks;
  preemptions += s.num_preemptions();
}

struct Events {
  std::map<std::string, std::vector<int>> tokens;
  std::map<std::string, json> done;
  json stats;
  void operator()(const std::string& line) {
    json ev = json::parse(line);
    if (ev["ev"] == "tok") tokens[ev["id"]].push_back(ev["tokens"][0]);
    if (ev["ev"] == "done") done[ev["id"]] = ev;
    if (ev["ev"] == "stats") stats = ev;
  }
};

static void drain(Engine& e) {
  for (int i = 0; i < 200000 && e.has_work(); ++i) e.step();
}

// Engine on the CPU runner: the same greedy requests (shared prefixes, chunked prefill, preemption,
// a few aborts) give identical tokens with caching off and on.
static void engine_greedy_identical(const char* backend) {
  std::mt19937 rng(11);
  auto R = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<std::vector<int>> prefixes;
  for (int k = 0; k < 4; ++k) {
    std::vector<int> p(R(20, 120));
    for (int& t : p) t = R(0, 1022);
    prefixes.push_back(p);
  }
  std::vector<json> adds;
  for (int i = 0; i < 48; ++i) {
    std::vector<int> prompt = prefixes[i % 4];
    for (int k = R(1, 40); k > 0; --k) prompt.push_back(R(0, 1022));
    adds.push_back({{"op", "add"}, {"id", "g" + std::to_string(i)}, {"prompt", prompt}, {"max_tokens", R(2, 24)},
                    {"temperature", 0}, {"ignore_eos", true}});
  }
  const std::set<std::string> aborted = {"g5", "g17", "g30"};
  auto run = [&](bool caching, Events& ev) {
    EngineOptions opt;
    opt.model = "synthetic:tiny";
    opt.prefill_backend = opt.decode_backend = backend;
    opt.block_size = 8;
    opt.num_kv_blocks = 60;  // 480 tokens for 48 requests of up to ~180: preemption and eviction
    opt.max_num_batched_tokens = 64;  // chunked prefill
    opt.enable_prefix_caching = caching;
    Engine e(opt, std::ref(ev));
    for (size_t i = 0; i < adds.size(); ++i) {
      e.handle_line(adds[i].dump());
      if (i % 3 == 2) e.step();
      const std::string id = adds[i]["id"];
      if (aborted.count(id)) e.handle_line(json({{"op", "abort"}, {"id", id}}).dump());
    }
    drain(e);
    e.handle_line(R"({"op":"stats"})");
    CHECK(ev.stats["kv_blocks_free"] == ev.stats["kv_blocks_total"],
          std::string(backend) + (caching ? " cached" : " plain") + ": every KV block free at the end");
  };
  Events plain, cached;
  run(false, plain);
  run(true, cached);
  int same = 0, compared = 0;
  for (const auto& a : adds) {
    const std::string id = a["id"];
    if (aborted.count(id)) {
      CHECK(cached.done[id]["finish"] == "abort", id + " aborted once");
      continue;
    }
    ++compared;
    same += cached.tokens[id] == plain.tokens[id] && cached.done[id]["finish"] == "length";
  }
  const std::string tag = std::string(backend) + ": ";
  CHECK(same == compared, tag + "greedy tokens identical with and without prefix caching (" + std::to_string(same) +
                              "/" + std::to_string(compared) + ")");
  CHECK(cached.stats["prefix_cache_hit_tokens"].get<uint64_t>() > 0, tag + "the cache was hit");
  CHECK(cached.stats["prefix_cache_evicted_blocks"].get<uint64_t>() > 0, tag + "the cache evicted blocks");
  CHECK(cached.stats["preemptions"].get<uint64_t>() > 0, tag + "preemption was exercised");
  CHECK(plain.stats["prefix_cache_hit_tokens"] == 0, tag + "no hits with caching off");
  int hit_sum = 0;
  for (const auto& [id, d] : cached.done) hit_sum += d.value("cached_tokens", 0);
  CHECK(hit_sum > 0, tag + "done events carry cached_tokens");
}

// The protocol view: cached_tokens per done, hits/misses/evictions in stats.
static void engine_accounting() {
  EngineOptions opt;
  opt.model = "synthetic:tiny";
  opt.block_size = 16;
  opt.num_kv_blocks = 12;
  opt.enable_prefix_caching = true;
  Events ev;
  Engine e(opt, std::ref(ev));
  auto add = [&](const std::string& id, const std::vector<int>& prompt, int max_tokens) {
    e.handle_line(json({{"op", "add"}, {"id", id}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0},
                        {"ignore_eos", true}})
                      .dump());
    drain(e);
  };
  std::vector<int> a(40);
  for (int i = 0; i < 40; ++i) a[i] = 10 + i;
  add("a", a, 4);
  std::vector<int> b(a.begin(), a.begin() + 35);
  b.push_back(999);
  add("b", b, 4);
  CHECK(ev.done["a"]["cached_tokens"] == 0 && ev.done["b"]["cached_tokens"] == 32, "done.cached_tokens: a 0, b 32");
  e.handle_line(R"({"op":"stats"})");
  CHECK(ev.stats["prefix_cache_hit_tokens"] == 32 && ev.stats["prefix_cache_miss_tokens"] == 40 + 36 - 32,
        "stats: 32 hit tokens, 44 missed");
  CHECK(ev.stats["prefix_cache_evicted_blocks"] == 0, "no eviction yet");
  // Fill the 12-block pool with other content: a's blocks are evicted and a misses again.
  std::vector<int> other(150);
  for (int i = 0; i < 150; ++i) other[i] = 500 + i;
  add("x", other, 40);
  add("a2", a, 4);
  e.handle_line(R"({"op":"stats"})");
  CHECK(ev.stats["prefix_cache_evicted_blocks"].get<int>() > 0, "filling the pool evicts cached blocks");
  CHECK(ev.done["a2"]["cached_tokens"] == 0, "an evicted prefix misses");
  CHECK(ev.tokens["a2"] == ev.tokens["a"], "and a recomputed request gives the same tokens");
  CHECK(ev.stats["kv_blocks_free"] == 12, "all blocks free between requests");
}

int main() {
  attnbench_test::init();
  pool_order();
  hit_accounting();
  lru_eviction();
  uint64_t hits = 0, evictions = 0, preemptions = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) random_traffic(seed, hits, evictions, preemptions);
  CHECK(hits > 0 && evictions > 0 && preemptions > 0,
        "random traffic hit the cache (" + std::to_string(hits) + " tokens), evicted (" + std::to_string(evictions) +
            " blocks) and preempted (" + std::to_string(preemptions) + ")");
  engine_greedy_identical("naive");
  engine_greedy_identical("fused");
  engine_accounting();
  return attnbench_test::finish("test_prefix_cache");
}
