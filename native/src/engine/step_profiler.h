// defines: StepProfiler (--profile-steps / ATTNBENCH_PROFILE=1)
// One line per engine step and a summary per busy period (from the first step after idle to the step
// that leaves no work) and at shutdown, on stderr or appended to ATTNBENCH_PROFILE_FILE:
//   step kind tokens seqs(prefill+decode) rows | sched build | prep launch wait gpu | emit | gap
// sched: scheduler.schedule(); build: StepBatch; prep/launch/wait/gpu: the runner (host before the
// first launch, enqueueing, waiting at the sync, device time by events); emit: commit + event
// formatting + the write; gap: host time since the previous step ended (input handling, idle).
#pragma once
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "runner/model_runner.h"

namespace attnbench {

class StepProfiler {
 public:
  using clock = std::chrono::steady_clock;
  explicit StepProfiler(const std::string& file);  // "" = stderr
  ~StepProfiler();  // prints the shutdown summary
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  void record(const std::string& kind, int tokens, int num_prefill, int num_decode, int rows, double sched_ms,
              double build_ms, const RunnerStepTiming& t, double emit_ms, clock::time_point start, clock::time_point end);
  // The engine ran out of work: close the busy period.
  void idle();

 private:
  struct Acc {
    int steps = 0;
    long tokens = 0;
    double wall = 0, sched = 0, build = 0, prep = 0, launch = 0, wait = 0, gpu = 0, emit = 0, gap = 0;
  };
  void summary(const char* what, const std::map<std::string, Acc>& m);

  FILE* f_ = stderr;
  bool own_ = false;
  std::map<std::string, Acc> period_, total_;
  clock::time_point last_end_{}, period_start_{};
  bool in_period_ = false;
  uint64_t n_ = 0;
};

inline double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace attnbench
