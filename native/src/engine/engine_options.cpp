#include "engine/engine_options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

namespace attnbench {

namespace {

bool parse_long(const std::string& s, long long& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && *end == '\0';
}

bool parse_double(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  return errno == 0 && *end == '\0' && std::isfinite(v);
}

}  // namespace

std::string engine_usage() {
  return "usage: attnbench-engine [--model DIR|synthetic:NAME] [--device cpu|cuda] [--dtype fp32|fp16|bf16]\n"
         "  [--prefill-attn-backend NAME] [--decode-attn-backend NAME] [--block-size N] [--num-kv-blocks N]\n"
         "  [--kv-cache-gb X] [--gpu-memory-utilization F] [--max-num-seqs N] [--max-num-batched-tokens N] [--seed N]\n"
         "  [--cuda-graph|--no-cuda-graph]\n"
         "  [--step-delay-us N] [--cpu-threads N] [--profile-steps] [--enable-prefix-caching]\n"
         "  one-shot: --generate --prompt-ids 1,2,3 [--max-tokens N] [--temperature X] [--top-p X] [--top-k N] [--ignore-eos]\n"
         "Without --generate: JSON lines on stdin/stdout (docs/protocol.md).\n";
}

EngineOptions parse_engine_flags(int argc, char** argv, std::vector<std::string>& errors) {
  EngineOptions o;
  auto int_in = [&](const std::string& flag, const std::string& v, long long lo, long long hi, auto& dst) {
    long long x;
    if (!parse_long(v, x) || x < lo || x > hi)
      errors.push_back(flag + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got \"" + v + "\"");
    else
      dst = (std::remove_reference_t<decltype(dst)>)x;
  };
  auto num_in = [&](const std::string& flag, const std::string& v, double lo, double hi, bool lo_open, auto& dst) {
    double x;
    if (!parse_double(v, x) || x < lo || x > hi || (lo_open && x == lo))
      errors.push_back(flag + ": expected a number in " + (lo_open ? "(" : "[") + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got \"" + v + "\"");
    else
      dst = (std::remove_reference_t<decltype(dst)>)x;
  };
  const long long kBig = 1LL << 30;
  // Flags that take a value.
  std::map<std::string, std::function<void(const std::string&, const std::string&)>> valued = {
      {"--model", [&](auto&, auto& v) { o.model = v; }},
      {"--device",
       [&](auto& f, auto& v) {
         if (v == "cpu") o.device = Device::CPU;
         else if (v == "cuda") o.device = Device::CUDA;
         else errors.push_back(f + ": expected cpu or cuda, got \"" + v + "\"");
       }},
      {"--dtype",
       [&](auto& f, auto& v) {
         o.dtype_given = true;
         if (v == "fp32") o.dtype = DType::F32;
         else if (v == "fp16") o.dtype = DType::F16;
         else if (v == "bf16") o.dtype = DType::BF16;
         else errors.push_back(f + ": expected fp32, fp16 or bf16, got \"" + v + "\"");
       }},
      {"--prefill-attn-backend", [&](auto&, auto& v) { o.prefill_backend = v; }},
      {"--decode-attn-backend", [&](auto&, auto& v) { o.decode_backend = v; }},
      {"--block-size", [&](auto& f, auto& v) { int_in(f, v, 1, 1 << 16, o.block_size); }},
      {"--num-kv-blocks", [&](auto& f, auto& v) { int_in(f, v, 1, kBig, o.num_kv_blocks); }},
      {"--kv-cache-gb", [&](auto& f, auto& v) { num_in(f, v, 0.0, 1e6, true, o.kv_cache_gb); }},
      {"--gpu-memory-utilization", [&](auto& f, auto& v) { num_in(f, v, 0.0, 1.0, true, o.gpu_memory_utilization); }},
      {"--max-num-seqs", [&](auto& f, auto& v) { int_in(f, v, 1, kBig, o.max_num_seqs); }},
      {"--max-num-batched-tokens", [&](auto& f, auto& v) { int_in(f, v, 1, kBig, o.max_num_batched_tokens); }},
      {"--seed", [&](auto& f, auto& v) { int_in(f, v, 0, (long long)(~0ull >> 1), o.seed); }},
      {"--step-delay-us", [&](auto& f, auto& v) { int_in(f, v, 0, 60LL * 1000 * 1000, o.step_delay_us); }},
      {"--cpu-threads", [&](auto& f, auto& v) { int_in(f, v, 1, 1024, o.cpu_threads); }},
      {"--prompt-ids",
       [&](auto& f, auto& v) {
         o.prompt_ids.clear();
         size_t start = 0;
         while (start <= v.size()) {
           size_t comma = v.find(',', start);
           std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
           long long x;
           if (!parse_long(item, x) || x < 0 || x > INT32_MAX) {
             errors.push_back(f + ": \"" + item + "\" is not a token id (expected comma-separated integers >= 0)");
             break;
           }
           o.prompt_ids.push_back((int32_t)x);
           if (comma == std::string::npos) break;
           start = comma + 1;
         }
       }},
      {"--max-tokens", [&](auto& f, auto& v) { int_in(f, v, 1, kBig, o.max_tokens); }},
      {"--temperature", [&](auto& f, auto& v) { num_in(f, v, 0.0, 1e6, false, o.temperature); }},
      {"--top-p", [&](auto& f, auto& v) { num_in(f, v, 0.0, 1.0, true, o.top_p); }},
      {"--top-k", [&](auto& f, auto& v) { int_in(f, v, 0, kBig, o.top_k); }},
  };
  std::map<std::string, std::function<void()>> switches = {
      {"--cuda-graph", [&] { o.cuda_graph = 1; }},   {"--no-cuda-graph", [&] { o.cuda_graph = 0; }},
      {"--generate", [&] { o.generate = true; }},    {"--profile-steps", [&] { o.profile_steps = true; }},    {"--ignore-eos", [&] { o.ignore_eos = true; }},
      {"--help", [&] { o.help = true; }},            {"-h", [&] { o.help = true; }},
      {"--enable-prefix-caching", [&] { o.enable_prefix_caching = true; }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool has_value = false;
    const size_t eq = arg.find('=');
    if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (auto s = switches.find(arg); s != switches.end()) {
      if (has_value) errors.push_back(arg + ": takes no value");
      else s->second();
    } else if (auto v = valued.find(arg); v != valued.end()) {
      if (!has_value) {
        if (i + 1 >= argc) {
          errors.push_back(arg + ": missing value");
          continue;
        }
        value = argv[++i];
      }
      v->second(arg, value);
    } else {
      errors.push_back("unknown flag \"" + arg + "\" (see --help)");
    }
  }
  if (o.generate && o.prompt_ids.empty()) errors.push_back("--generate: needs --prompt-ids with at least one token id");
  if (!o.generate && !o.prompt_ids.empty()) errors.push_back("--prompt-ids: only used with --generate");
  if (o.device == Device::CPU && o.dtype != DType::F32)
    errors.push_back(std::string("--dtype ") + dtype_name(o.dtype) + ": the cpu device supports fp32 only");
  if (!o.dtype_given && o.device == Device::CUDA) o.dtype = DType::F16;
  if (o.max_num_batched_tokens == 0)
    o.max_num_batched_tokens = o.device == Device::CUDA ? kDefaultMaxBatchedTokensCuda : kDefaultMaxBatchedTokensCpu;
  try {
    o.exp = read_experiment_switches();  // the one place the engine reads ATTNBENCH_* variables
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  if (o.exp.profile_steps) o.profile_steps = true;
  return o;
}

}  // namespace attnbench
