#include "engine/step_profiler.h"

#include <algorithm>

namespace attnbench {

StepProfiler::StepProfiler(const std::string& file) {
  if (!file.empty()) {
    if (FILE* g = std::fopen(file.c_str(), "a")) {
      f_ = g;
      own_ = true;
    }
  }
  std::fprintf(f_, "# profile: step kind tokens seqs(p+d) rows | sched build | prep launch wait gpu | emit | gap | wall (ms)\n");
}

StepProfiler::~StepProfiler() {
  summary("shutdown", total_);
  if (own_) std::fclose(f_);
}

void StepProfiler::summary(const char* what, const std::map<std::string, Acc>& m) {
  Acc all;
  for (const auto& [k, a] : m) {
    std::fprintf(f_, "# %s %-7s steps %4d tokens %6ld | wall %8.2f sched %6.2f build %6.2f prep %6.2f launch %6.2f "
                     "wait %8.2f gpu %8.2f emit %6.2f gap %7.2f | per step wall %.3f gpu %.3f\n",
                 what, k.c_str(), a.steps, a.tokens, a.wall, a.sched, a.build, a.prep, a.launch, a.wait, a.gpu, a.emit,
                 a.gap, a.wall / std::max(1, a.steps), a.gpu / std::max(1, a.steps));
    all.steps += a.steps; all.tokens += a.tokens; all.wall += a.wall; all.gpu += a.gpu; all.gap += a.gap;
    all.emit += a.emit; all.sched += a.sched; all.build += a.build; all.prep += a.prep; all.launch += a.launch;
    all.wait += a.wait;
  }
  std::fprintf(f_, "# %s all     steps %4d tokens %6ld | wall %8.2f (steps) + gap %.2f; gpu %.2f host-only %.2f\n", what,
               all.steps, all.tokens, all.wall, all.gap, all.gpu, all.wall - all.gpu);
  std::fflush(f_);
}

void StepProfiler::record(const std::string& kind, int tokens, int np, int nd, int rows, double sched, double build,
                          const RunnerStepTiming& t, double emit, clock::time_point start, clock::time_point end) {
  const double gap = in_period_ ? ms_between(last_end_, start) : 0.0;
  if (!in_period_) {
    in_period_ = true;
    period_start_ = start;
  }
  const double wall = ms_between(start, end);
  std::fprintf(f_, "step %6llu %-7s %6d %3d+%-3d %3d | %6.3f %6.3f | %6.3f %6.3f %7.3f %7.3f%s | %6.3f | %6.3f | %7.3f\n",
               (unsigned long long)n_++, kind.c_str(), tokens, np, nd, rows, sched, build, t.prep_ms, t.launch_ms,
               t.wait_ms, t.gpu_ms, t.graph ? "g" : " ", emit, gap, wall);
  for (auto* m : {&period_, &total_}) {
    Acc& a = (*m)[kind];
    a.steps++; a.tokens += tokens; a.wall += wall; a.sched += sched; a.build += build; a.prep += t.prep_ms;
    a.launch += t.launch_ms; a.wait += t.wait_ms; a.gpu += t.gpu_ms; a.emit += emit; a.gap += gap;
  }
  last_end_ = end;
}

void StepProfiler::idle() {
  if (!in_period_) return;
  std::fprintf(f_, "# busy period %.2f ms (first step start to last step end)\n", ms_between(period_start_, last_end_));
  summary("period", period_);
  period_.clear();
  in_period_ = false;
}

}  // namespace attnbench
