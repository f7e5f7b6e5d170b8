// The engine: model + runner + scheduler + live requests, driven by protocol lines. Single-threaded;
// engine/server_loop.cpp feeds it from stdin, tests call it directly.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine/engine_options.h"
#include "models/model_weights.h"
#include "runner/model_runner.h"
#include "sched/scheduler.h"

namespace attnbench {

using EmitFn = std::function<void(const std::string& line)>;
using FlushFn = std::function<void()>;
class StepProfiler;

class Engine {
 public:
  // Loads the model, sizes the KV pool, builds the runner and warms it up. Throws on failure with a
  // message for the `fatal` event.
  Engine(const EngineOptions& opt, EmitFn emit);
  ~Engine();

  void emit_ready();
  // One stdin line: an op, or an error event. Never throws for bad input.
  void handle_line(const std::string& line);
  // The same for a line already parsed (the server loop parses on its reader thread, so a burst of
  // adds is parsed while the GPU runs a step instead of between steps).
  void handle_parsed(const struct ParsedLine& p);
  // A protocol problem found before a line reached the engine (e.g. an oversize line).
  void report_error(const std::string& code, const std::string& message);
  bool has_work() const { return scheduler_->has_work(); }
  // Runs one scheduler step and emits its tok/done events, then flushes once (one write per step).
  // A runner failure ends every live request with done/error, emits `fatal` and shuts the engine
  // down (is_fatal()).
  void step();
  // Overlap mode (the server loop turns it on): a step's tok/done events are sent while the next
  // step runs on the device -- right after a cheap graph launch, or before an eager launch (whose
  // host time would otherwise delay them) -- and at the latest when the engine goes idle or an op
  // arrives. Each event still carries the time its token was sampled. Off: events leave at the end
  // of their own step (tests, one-shot mode).
  void set_overlap_emit(bool on) { overlap_emit_ = on; }
  // Sends the events held back by overlap mode (no-op when none).
  void flush_pending();
  // Where emitted lines are pushed out (stdout: fflush); called once per step and by the server loop
  // after each batch of input lines. Without one, emit_ is assumed to write through.
  void set_flush(FlushFn f) { flush_ = std::move(f); }
  void flush() { if (flush_) flush_(); }
  bool is_fatal() const { return fatal_; }
  // Ends every live request with done/abort, then emits bye.
  void shutdown();
  bool is_shut_down() const { return shut_down_; }

  const ModelConfig& model_config() const { return weights_.config; }
  int num_kv_blocks() const { return scheduler_->pool().num_total(); }
  int num_free_kv_blocks() const { return scheduler_->pool().num_free(); }
  ModelRunner& runner() { return *runner_; }

 private:
  void add(const struct AddRequest& req);
  void abort(const std::string& id);
  void finish(Sequence* seq, const std::string& error = "");
  // Ends every live request (arrival order, so the done events are deterministic) with `reason`.
  void end_all_live(FinishReason reason, const std::string& error = "");
  void emit_stats();

  EngineOptions opt_;
  EmitFn emit_;
  ModelWeights weights_;  // the CPU runner reads these (a CUDA runner copies them: then only the config stays)
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unordered_map<std::string, std::unique_ptr<Sequence>> live_;
  uint64_t next_seq_id_ = 0;
  uint64_t steps_ = 0, finished_ = 0;
  bool shut_down_ = false;
  bool fatal_ = false;
  FlushFn flush_;
  std::unique_ptr<StepProfiler> prof_;
  // Overlap mode: the last step's results, formatted and sent by flush_pending().
  struct PendingTok {
    std::string id;
    int32_t token;
    float logprob;
    bool want_logprob;
    std::vector<std::pair<int32_t, float>> top;  // empty unless the request asked for top_logprobs
  };
  bool overlap_emit_ = false;
  std::vector<PendingTok> pending_toks_;
  std::vector<Sequence*> pending_done_;  // finished by commit; still in live_ until flushed
  uint64_t pending_t_ns_ = 0;
};

}  // namespace attnbench
