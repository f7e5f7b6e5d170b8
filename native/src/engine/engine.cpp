#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "attn/backend.h"
#include "cpu/sampling.h"
#include "cpu/thread_pool.h"
#include "protocol.h"

namespace attnbench {

using json = nlohmann::ordered_json;

namespace {

int resolve_num_kv_blocks(const EngineOptions& opt, const ModelConfig& c, DType dtype) {
  if (opt.num_kv_blocks > 0) return opt.num_kv_blocks;
  const double gb = opt.kv_cache_gb > 0 ? opt.kv_cache_gb : (opt.device == Device::CPU ? 0.25 : 4.0);
  const double blocks = gb * (1ull << 30) / (double)kv_bytes_per_block(c, opt.block_size, dtype);
  if (blocks < 1)
    throw std::runtime_error("--kv-cache-gb " + std::to_string(gb) + " holds no KV block of " +
                             std::to_string(kv_bytes_per_block(c, opt.block_size, dtype)) + " bytes");
  return (int)std::min(blocks, (double)(1 << 30));
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

// --profile-steps / ATTNBENCH_PROFILE=1: one line per step and a summary per busy period (from the
// first step after idle to the step that leaves no work) and at shutdown, on stderr or in
// $ATTNBENCH_PROFILE_FILE (appended).
//   step kind tokens seqs(prefill+decode) rows | sched build | prep launch wait gpu | emit | gap
// sched: scheduler.schedule(); build: StepBatch; prep/launch/wait/gpu: the runner (host before the
// first launch, enqueueing, waiting at the sync, device time by events); emit: commit + event
// formatting + the write; gap: host time since the previous step ended (input handling, idle).
struct StepProfiler {
  struct Acc {
    int steps = 0;
    long tokens = 0;
    double wall = 0, sched = 0, build = 0, prep = 0, launch = 0, wait = 0, gpu = 0, emit = 0, gap = 0;
  };
  FILE* f = stderr;
  bool own = false;
  std::map<std::string, Acc> period, total;
  std::chrono::steady_clock::time_point last_end{}, period_start{};
  bool in_period = false;
  uint64_t n = 0;

  StepProfiler() {
    if (const char* p = std::getenv("ATTNBENCH_PROFILE_FILE"); p && *p) {
      if (FILE* g = std::fopen(p, "a")) { f = g; own = true; }
    }
    std::fprintf(f, "# profile: step kind tokens seqs(p+d) rows | sched build | prep launch wait gpu | emit | gap | wall (ms)\n");
  }
  ~StepProfiler() {
    summary("shutdown", total);
    if (own) std::fclose(f);
  }
  void summary(const char* what, const std::map<std::string, Acc>& m) {
    Acc all;
    for (const auto& [k, a] : m) {
      std::fprintf(f, "# %s %-7s steps %4d tokens %6ld | wall %8.2f sched %6.2f build %6.2f prep %6.2f launch %6.2f "
                      "wait %8.2f gpu %8.2f emit %6.2f gap %7.2f | per step wall %.3f gpu %.3f\n",
                   what, k.c_str(), a.steps, a.tokens, a.wall, a.sched, a.build, a.prep, a.launch, a.wait, a.gpu, a.emit,
                   a.gap, a.wall / std::max(1, a.steps), a.gpu / std::max(1, a.steps));
      all.steps += a.steps; all.tokens += a.tokens; all.wall += a.wall; all.gpu += a.gpu; all.gap += a.gap;
      all.emit += a.emit; all.sched += a.sched; all.build += a.build; all.prep += a.prep; all.launch += a.launch;
      all.wait += a.wait;
    }
    std::fprintf(f, "# %s all     steps %4d tokens %6ld | wall %8.2f (steps) + gap %.2f; gpu %.2f host-only %.2f\n", what,
                 all.steps, all.tokens, all.wall, all.gap, all.gpu, all.wall - all.gpu);
    std::fflush(f);
  }
  void record(const std::string& kind, int tokens, int np, int nd, int rows, double sched, double build,
              const RunnerStepTiming& t, double emit, std::chrono::steady_clock::time_point start,
              std::chrono::steady_clock::time_point end) {
    const double gap = in_period ? ms_between(last_end, start) : 0.0;
    if (!in_period) { in_period = true; period_start = start; }
    const double wall = ms_between(start, end);
    std::fprintf(f, "step %6llu %-7s %6d %3d+%-3d %3d | %6.3f %6.3f | %6.3f %6.3f %7.3f %7.3f%s | %6.3f | %6.3f | %7.3f\n",
                 (unsigned long long)n++, kind.c_str(), tokens, np, nd, rows, sched, build, t.prep_ms, t.launch_ms,
                 t.wait_ms, t.gpu_ms, t.graph ? "g" : " ", emit, gap, wall);
    for (auto* m : {&period, &total}) {
      Acc& a = (*m)[kind];
      a.steps++; a.tokens += tokens; a.wall += wall; a.sched += sched; a.build += build; a.prep += t.prep_ms;
      a.launch += t.launch_ms; a.wait += t.wait_ms; a.gpu += t.gpu_ms; a.emit += emit; a.gap += gap;
    }
    last_end = end;
  }
  void idle() {  // the engine ran out of work: close the busy period
    if (!in_period) return;
    std::fprintf(f, "# busy period %.2f ms (first step start to last step end)\n", ms_between(period_start, last_end));
    summary("period", period);
    period.clear();
    in_period = false;
  }
};

Engine::Engine(const EngineOptions& opt_in, EmitFn emit) : opt_(opt_in), emit_(std::move(emit)) {
  if (opt_.max_num_batched_tokens <= 0)
    opt_.max_num_batched_tokens =
        opt_.device == Device::CUDA ? kDefaultMaxBatchedTokensCuda : kDefaultMaxBatchedTokensCpu;
  const EngineOptions& opt = opt_;
  if (opt.cpu_threads > 0) set_cpu_threads(opt.cpu_threads);
  weights_ = load_gpt2(opt.model, opt.seed);
  const ModelConfig& c = weights_.config;
  RunnerOptions ro;
  ro.device = opt.device;
  ro.dtype = opt.dtype;
  ro.prefill_backend = opt.prefill_backend;
  ro.decode_backend = opt.decode_backend;
  ro.block_size = opt.block_size;
  ro.num_kv_blocks = resolve_num_kv_blocks(opt, c, opt.dtype);
  ro.max_num_seqs = opt.max_num_seqs;
  ro.max_num_batched_tokens = opt.max_num_batched_tokens;
  ro.cuda_graph = opt.cuda_graph < 0 ? opt.device == Device::CUDA : opt.cuda_graph == 1;
  opt_.cuda_graph = ro.cuda_graph ? 1 : 0;
  runner_ = opt.device == Device::CPU ? make_cpu_runner(weights_, ro) : make_cuda_runner(weights_, ro);
  SchedulerConfig sc;
  sc.max_num_seqs = opt.max_num_seqs;
  sc.max_num_batched_tokens = opt.max_num_batched_tokens;
  sc.block_size = opt.block_size;
  sc.num_blocks = ro.num_kv_blocks;
  sc.n_ctx = c.n_ctx;
  scheduler_ = std::make_unique<Scheduler>(sc);

  // Warm-up: one single-token step through block 0 (no request owns any block yet), so threads,
  // buffers and code paths are live before `ready`.
  StepBatch warm;
  warm.tokens = {0};
  warm.positions = {0};
  warm.slot_mapping = {0};
  warm.cu_seqlens_q = {0, 1};
  warm.ctx_lens = {0};
  warm.seq_lens_k = {1};
  warm.block_tables = {0};
  warm.max_blocks_per_seq = 1;
  warm.num_prefill_seqs = 1;
  warm.sample_seq = {0};
  warm.sample_params = {SamplingParams{}};
  warm.sample_step = {0};
  std::vector<SampleResult> ignored;
  runner_->step(warm, ignored);
  if (opt.profile_steps) {
    runner_->set_timing(true);
    prof_ = std::make_unique<StepProfiler>();
  }
}

Engine::~Engine() = default;

void Engine::emit_ready() {
  const ModelConfig& c = weights_.config;
  json backends = json::object();
  for (auto phase : {AttnPhase::Prefill, AttnPhase::Decode}) {
    json m = json::object();
    for (const auto& b : list_backends(opt_.device, phase)) m[b.name] = b.status;
    backends[phase == AttnPhase::Prefill ? "prefill" : "decode"] = m;
  }
  json ready = {
      {"ev", "ready"},
      {"t_ns", monotonic_ns()},
      {"model",
       {{"name", c.name}, {"n_layer", c.n_layer}, {"n_head", c.n_head}, {"n_embd", c.n_embd}, {"n_ctx", c.n_ctx},
        {"vocab_size", c.vocab_size}, {"eos_token_id", c.eos_token_id >= 0 ? json(c.eos_token_id) : json(nullptr)}}},
      {"device",
       {{"kind", opt_.device == Device::CPU ? "cpu" : "cuda"}, {"name", runner_->device_name()}, {"dtype", dtype_name(opt_.dtype)}}},
      {"backends", backends},
      {"config",
       {{"prefill_attn_backend", opt_.prefill_backend}, {"decode_attn_backend", opt_.decode_backend},
        {"block_size", opt_.block_size}, {"num_kv_blocks", num_kv_blocks()}, {"max_num_seqs", opt_.max_num_seqs},
        {"max_num_batched_tokens", opt_.max_num_batched_tokens}, {"cuda_graph", opt_.cuda_graph == 1},
        {"seed", opt_.seed}, {"step_delay_us", opt_.step_delay_us}}},
      {"version", "0.1.0"},
  };
  emit_(ready.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Engine::handle_line(const std::string& line) {
  if (shut_down_) return;
  if (is_blank_line(line)) return;
  handle_parsed(parse_op_line(line, weights_.config.vocab_size));
}

void Engine::handle_parsed(const ParsedLine& p) {
  if (shut_down_) return;
  flush_pending();  // an op (abort, stats, a duplicate id) must see the last step's events out first
  if (p.error) {
    const ParseError& e = *p.error;
    if (e.add_rejected && !live_.count(e.id)) {
      emit_(done_event(e.id, "error", 0, 0, 0, e.message, monotonic_ns()));
      ++finished_;
    } else {
      emit_(error_event(e.add_rejected ? "duplicate_id" : e.code, e.id,
                        e.add_rejected ? "id \"" + e.id + "\" is already live (and: " + e.message + ")" : e.message));
    }
    return;
  }
  const Op& op = *p.op;
  switch (op.kind) {
    case OpKind::Add: add(op.add); break;
    case OpKind::Abort: abort(op.id); break;
    case OpKind::Stats: emit_stats(); break;
    case OpKind::Shutdown: shutdown(); break;
  }
}

void Engine::report_error(const std::string& code, const std::string& message) {
  flush_pending();
  emit_(error_event(code, "", message));
}

void Engine::add(const AddRequest& req) {
  if (live_.count(req.id)) {
    emit_(error_event("duplicate_id", req.id, "id \"" + req.id + "\" is already live; this add is ignored"));
    return;
  }
  const std::string why = scheduler_->why_never_fits((int)req.prompt.size(), req.max_tokens);
  if (!why.empty()) {
    emit_(done_event(req.id, "error", (int)req.prompt.size(), 0, 0, why, monotonic_ns()));
    ++finished_;
    return;
  }
  auto seq = std::make_unique<Sequence>();
  seq->seq_id = next_seq_id_++;
  seq->request_id = req.id;
  seq->prompt = req.prompt;
  seq->max_tokens = req.max_tokens;
  seq->sampling = req.sampling;
  if (!req.has_seed) seq->sampling.seed = default_request_seed(opt_.seed, req.id);
  seq->ignore_eos = req.ignore_eos;
  seq->eos_token_id = weights_.config.eos_token_id;
  seq->stop_token_ids = req.stop_token_ids;
  scheduler_->add(seq.get());
  live_[req.id] = std::move(seq);
}

void Engine::abort(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) {
    emit_(error_event("unknown_id", id, "abort: no live request with id \"" + id + "\""));
    return;
  }
  scheduler_->remove(it->second.get());
  it->second->finish = FinishReason::Abort;
  finish(it->second.get());
}

void Engine::finish(Sequence* seq, const std::string& error) {
  emit_(done_event(seq->request_id, finish_reason_name(seq->finish), (int)seq->prompt.size(), (int)seq->output.size(),
                   seq->preemptions, error, monotonic_ns()));
  ++finished_;
  live_.erase(seq->request_id);  // destroys seq
}

void Engine::flush_pending() {
  if (pending_toks_.empty() && pending_done_.empty()) return;
  for (const PendingTok& t : pending_toks_)
    emit_(tok_event(t.id, t.token, t.want_logprob ? &t.logprob : nullptr, pending_t_ns_, t.top.empty() ? nullptr : &t.top));
  pending_toks_.clear();
  std::vector<Sequence*> done;
  done.swap(pending_done_);
  for (Sequence* seq : done) finish(seq);
  flush();  // the step's events leave in one write
}

void Engine::step() {
  using clk = std::chrono::steady_clock;
  const clk::time_point t0 = clk::now();
  SchedulerOutput out = scheduler_->schedule();
  if (out.empty()) {
    flush_pending();
    return;
  }
  const clk::time_point t1 = clk::now();
  const StepBatch batch = build_step_batch(out, opt_.block_size);
  const clk::time_point t2 = clk::now();
  std::vector<SampleResult> results;
  double emit_ms = 0;
  try {
    // A pure-decode step is one graph launch: launch first, then send the previous step's events
    // while it runs. Any other step launches kernel by kernel for ~1 ms of host time: send first.
    const bool cheap_launch = out.prefills.empty();
    auto timed_flush = [&] {
      const clk::time_point e0 = clk::now();
      flush_pending();
      emit_ms = ms_between(e0, clk::now());
    };
    if (!cheap_launch) timed_flush();
    runner_->launch(batch);
    if (cheap_launch) timed_flush();
    runner_->collect(results);
  } catch (const std::exception& e) {
    // The device state is unknown: end every live request with an error, report, and stop serving.
    const std::string msg = std::string("engine step failed: ") + e.what();
    pending_toks_.clear();
    pending_done_.clear();  // still in live_: ended below with the error
    std::vector<Sequence*> seqs;
    for (auto& kv : live_) seqs.push_back(kv.second.get());
    std::sort(seqs.begin(), seqs.end(), [](const Sequence* a, const Sequence* b) { return a->seq_id < b->seq_id; });
    for (Sequence* sq : seqs) {
      scheduler_->remove(sq);
      sq->finish = FinishReason::Error;
      finish(sq, msg);
    }
    emit_(fatal_event(msg));
    flush();
    fatal_ = true;
    shut_down_ = true;
    return;
  }
  ++steps_;
  if (opt_.step_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(opt_.step_delay_us));
  std::vector<int32_t> tokens;
  tokens.reserve(results.size());
  for (const auto& r : results) tokens.push_back(r.token);
  // Sequences that finish are destroyed by finish(): take the tok events' ids first.
  pending_toks_.reserve(results.size());
  size_t row = 0;
  pending_t_ns_ = monotonic_ns();
  for (const auto* list : {&out.prefills, &out.decodes})
    for (const auto& s : *list) {
      if (!s.sample) continue;
      SampleResult& r = results[row++];
      pending_toks_.push_back({s.seq->request_id, r.token, r.logprob, s.seq->sampling.want_logprobs, std::move(r.top)});
    }
  std::vector<Sequence*> done = scheduler_->commit(out, tokens);
  pending_done_.insert(pending_done_.end(), done.begin(), done.end());
  // Without overlap, or with nothing left to overlap with, the events leave now.
  if (!overlap_emit_ || !scheduler_->has_work()) {
    const clk::time_point e0 = clk::now();
    flush_pending();
    emit_ms += ms_between(e0, clk::now());
  }
  if (prof_) {
    const clk::time_point t4 = clk::now();
    const int np = (int)out.prefills.size(), nd = (int)out.decodes.size();
    const char* kind = np && nd ? "mixed" : np ? "prefill" : "decode";
    prof_->record(kind, batch.num_tokens(), np, nd, (int)batch.sample_seq.size(), ms_between(t0, t1),
                  ms_between(t1, t2), runner_->last_timing(), emit_ms, t0, t4);
    if (!scheduler_->has_work()) prof_->idle();
  }
}

void Engine::emit_stats() {
  json j = {{"ev", "stats"},
            {"t_ns", monotonic_ns()},
            {"kv_blocks_total", num_kv_blocks()},
            {"kv_blocks_free", num_free_kv_blocks()},
            {"running", scheduler_->num_running()},
            {"waiting", scheduler_->num_waiting()},
            {"steps", steps_},
            {"preemptions", scheduler_->num_preemptions()},
            {"finished", finished_}};
  emit_(j.dump());
}

void Engine::shutdown() {
  if (shut_down_) return;
  flush_pending();
  // Abort in arrival order so the done events are deterministic.
  std::vector<Sequence*> seqs;
  for (auto& kv : live_) seqs.push_back(kv.second.get());
  std::sort(seqs.begin(), seqs.end(), [](const Sequence* a, const Sequence* b) { return a->seq_id < b->seq_id; });
  for (Sequence* s : seqs) {
    scheduler_->remove(s);
    s->finish = FinishReason::Abort;
    finish(s);
  }
  emit_(bye_event(monotonic_ns()));
  flush();
  shut_down_ = true;
  prof_.reset();  // prints the profile summary
}

}  // namespace attnbench
