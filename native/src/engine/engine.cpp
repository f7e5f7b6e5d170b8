#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "attn/backend.h"
#include "core/request_seed.h"
#include "cpu/thread_pool.h"
#include "engine/step_profiler.h"
#include "models/registry.h"
#include "protocol.h"

namespace attnbench {

namespace {

// KV blocks from --num-kv-blocks or --kv-cache-gb (or the CPU's 0.25 GiB default); 0 on CUDA without
// either: the runner sizes the pool from --gpu-memory-utilization after its own allocations.
int resolve_num_kv_blocks(const EngineOptions& opt, const ModelConfig& c, DType dtype) {
  if (opt.num_kv_blocks > 0) return opt.num_kv_blocks;
  if (opt.kv_cache_gb <= 0 && opt.device == Device::CUDA) return 0;
  const double gb = opt.kv_cache_gb > 0 ? opt.kv_cache_gb : 0.25;
  const double blocks = gb * (1ull << 30) / (double)kv_bytes_per_block(c, opt.block_size, dtype);
  if (blocks < 1)
    throw std::runtime_error("--kv-cache-gb " + std::to_string(gb) + " holds no KV block of " +
                             std::to_string(kv_bytes_per_block(c, opt.block_size, dtype)) + " bytes");
  return (int)std::min(blocks, (double)(1 << 30));
}

}  // namespace

Engine::Engine(const EngineOptions& opt_in, EmitFn emit) : opt_(opt_in), emit_(std::move(emit)) {
  if (opt_.max_num_batched_tokens <= 0)
    opt_.max_num_batched_tokens =
        opt_.device == Device::CUDA ? kDefaultMaxBatchedTokensCuda : kDefaultMaxBatchedTokensCpu;
  const EngineOptions& opt = opt_;
  if (opt.cpu_threads > 0) set_cpu_threads(opt.cpu_threads);
  // A synthetic model for CUDA is generated on the device (lazy recipes until the upload).
  weights_ = load_model(opt.model, opt.seed, /*lazy_synthetic=*/opt.device == Device::CUDA);
  const ModelConfig& c = weights_.config;
  RunnerOptions ro;
  ro.device = opt.device;
  ro.dtype = opt.dtype;
  ro.prefill_backend = opt.prefill_backend;
  ro.decode_backend = opt.decode_backend;
  ro.block_size = opt.block_size;
  ro.num_kv_blocks = resolve_num_kv_blocks(opt, c, opt.dtype);
  ro.gpu_memory_utilization = opt.gpu_memory_utilization;
  ro.max_num_seqs = opt.max_num_seqs;
  ro.max_num_batched_tokens = opt.max_num_batched_tokens;
  ro.cuda_graph = opt.cuda_graph < 0 ? opt.device == Device::CUDA : opt.cuda_graph == 1;
  ro.exp = opt.exp;
  opt_.cuda_graph = ro.cuda_graph ? 1 : 0;
  if (opt.device == Device::CPU) {
    runner_ = make_cpu_runner(weights_, ro);
  } else {
    runner_ = make_cuda_runner(weights_, ro);
    weights_.release_tensors();  // on the device now; an 8B model's fp32 host copy is 32 GB
  }
  SchedulerConfig sc;
  sc.max_num_seqs = opt.max_num_seqs;
  sc.max_num_batched_tokens = opt.max_num_batched_tokens;
  sc.block_size = opt.block_size;
  sc.num_blocks = runner_->num_kv_blocks();
  sc.n_ctx = c.max_context;
  sc.enable_prefix_caching = opt.enable_prefix_caching;
  scheduler_ = std::make_unique<Scheduler>(sc);

  // Warm-up: one single-token step through block 0 (no request owns any block yet), so threads,
  // buffers and code paths are live before `ready`.
  const SamplingParams warm_sampling;
  std::vector<SampleResult> ignored;
  runner_->step(one_sequence_prefill({0}, {0}, opt.block_size, true, &warm_sampling), ignored);
  if (opt.profile_steps) {
    runner_->set_timing(true);
    prof_ = std::make_unique<StepProfiler>(opt.exp.profile_file);
  }
}

Engine::~Engine() = default;

void Engine::emit_ready() {
  emit_(ready_event(weights_.config, opt_, runner_->device_name(), num_kv_blocks(), runner_->kv_cache_bytes(),
                    list_backends(opt_.device, AttnPhase::Prefill), list_backends(opt_.device, AttnPhase::Decode),
                    monotonic_ns()));
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
  seq->eos_token_ids = weights_.config.eos_token_ids;
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
                   seq->preemptions, error, monotonic_ns(), std::max(0, seq->cached_tokens)));
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
    end_all_live(FinishReason::Error, msg);
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
  EngineStats st;
  st.kv_blocks_total = num_kv_blocks();
  st.kv_blocks_free = num_free_kv_blocks();
  st.running = scheduler_->num_running();
  st.waiting = scheduler_->num_waiting();
  st.steps = steps_;
  st.preemptions = scheduler_->num_preemptions();
  st.finished = finished_;
  const PrefixCacheStats& pc = scheduler_->pool().stats();
  st.prefix_cache_hit_tokens = pc.hit_tokens;
  st.prefix_cache_miss_tokens = pc.miss_tokens;
  st.prefix_cache_evicted_blocks = pc.evicted_blocks;
  st.kv_blocks_cached = scheduler_->pool().num_cached();
  emit_(stats_event(st, monotonic_ns()));
}

void Engine::end_all_live(FinishReason reason, const std::string& error) {
  std::vector<Sequence*> seqs;
  for (auto& kv : live_) seqs.push_back(kv.second.get());
  std::sort(seqs.begin(), seqs.end(), [](const Sequence* a, const Sequence* b) { return a->seq_id < b->seq_id; });
  for (Sequence* s : seqs) {
    scheduler_->remove(s);
    s->finish = reason;
    finish(s, error);
  }
}

void Engine::shutdown() {
  if (shut_down_) return;
  flush_pending();
  end_all_live(FinishReason::Abort);
  emit_(bye_event(monotonic_ns()));
  flush();
  shut_down_ = true;
  prof_.reset();  // prints the profile summary
}

}  // namespace attnbench
