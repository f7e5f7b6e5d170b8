#include "core/experiments.h"

#include <cstdlib>
#include <stdexcept>

namespace attnbench {

namespace {

// Every variable read while filling `*g_set` is recorded there when it is set (name, value).
std::vector<std::pair<std::string, std::string>>* g_set = nullptr;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  if (!(v && *v)) return nullptr;
  if (g_set) g_set->emplace_back(name, v);
  return v;
}

int int_env(const char* name, int fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0') throw std::runtime_error(std::string(name) + "=" + v + ": not an integer");
  return (int)n;
}

unsigned parse_skip(const std::string& v) {
  unsigned m = 0;
  auto has = [&](const char* w) { return v.find(w) != std::string::npos; };
  if (has("attn")) m |= ExperimentSwitches::kSkipAttn;
  if (has("gemm")) m |= ExperimentSwitches::kSkipGemm;
  if (has("lmhead")) m |= ExperimentSwitches::kSkipLmHead;
  if (has("sample")) m |= ExperimentSwitches::kSkipSample;
  if (has("norm")) m |= ExperimentSwitches::kSkipNorm;
  if (has("append")) m |= ExperimentSwitches::kSkipAppend;
  if (has("embed")) m |= ExperimentSwitches::kSkipEmbed;
  return m;
}

}  // namespace

ExperimentSwitches read_experiment_switches() {
  ExperimentSwitches s;
  g_set = &s.set_vars;
  struct Done {
    ~Done() { g_set = nullptr; }  // also when a bad value throws
  } done;
  if (const char* v = env("ATTNBENCH_PROFILE")) s.profile_steps = v[0] == '1';
  if (const char* v = env("ATTNBENCH_PROFILE_FILE")) s.profile_file = v;
  if (const char* v = env("ATTNBENCH_GPU_TIMEOUT_S")) {
    const double t = std::atof(v);
    if (t > 0) s.gpu_timeout_s = t;
  }
  s.pdl = int_env("ATTNBENCH_PDL", 1) != 0;
  s.vocab_pad = int_env("ATTNBENCH_VOCAB_PAD", 128);
  if (s.vocab_pad < 1) s.vocab_pad = 1;
  s.prefill_graphs = env("ATTNBENCH_NO_PREFILL_GRAPHS") == nullptr;
  if (const char* v = env("ATTNBENCH_SKIP")) s.skip = parse_skip(v);
  if (const char* v = env("ATTNBENCH_NO_LT_GELU")) s.lt_gelu = v[0] != '1';
  s.gemm_tune = int_env("ATTNBENCH_GEMM_TUNE", 0);
  s.skinny_max_m = int_env("ATTNBENCH_SKINNY_MAX_M", -1);
  s.skinny_tc_max_m = int_env("ATTNBENCH_SKINNY_TC_MAX_M", -1);
  s.skinny_max_weight_mb = int_env("ATTNBENCH_SKINNY_MAX_WEIGHT_MB", -1);
  s.gemm_algo = int_env("ATTNBENCH_GEMM_ALGO", 0);
  s.decode_gemm = int_env("ATTNBENCH_DECODE_GEMM", 1) != 0;
  s.decode_heads_inner = int_env("ATTNBENCH_DECODE_HEADS_INNER", 1) != 0;
  s.decode_reads_qkv_rows = int_env("ATTNBENCH_DECODE_SPLIT_APPEND", 0) == 0;
  s.decode_tc = int_env("ATTNBENCH_DECODE_TC", 1) != 0;
  s.decode_tcp = int_env("ATTNBENCH_DECODE_TCP", 0);
  if (s.decode_tcp < 0 || s.decode_tcp > 2) throw std::runtime_error("ATTNBENCH_DECODE_TCP must be 0, 1 or 2");
  s.prefill_sm90 = int_env("ATTNBENCH_PREFILL_SM90", 2);
  if (s.prefill_sm90 < 0 || s.prefill_sm90 > 2)
    throw std::runtime_error("ATTNBENCH_PREFILL_SM90 must be 0, 1 or 2");
  s.prefill_ragged = int_env("ATTNBENCH_PREFILL_RAGGED", 1) != 0;
  s.prefill_persist = int_env("ATTNBENCH_PREFILL_PERSIST", 2);
  if (s.prefill_persist < 0 || s.prefill_persist > 2)
    throw std::runtime_error("ATTNBENCH_PREFILL_PERSIST must be 0, 1 or 2");
  s.prefill_three_wg = int_env("ATTNBENCH_PREFILL_THREE_WG", 1) != 0;
  s.fi_sm90_paged = int_env("ATTNBENCH_FI_SM90_PAGED", 0) != 0;
  return s;
}

}  // namespace attnbench
