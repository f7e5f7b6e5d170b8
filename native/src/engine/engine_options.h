// Command-line flags of attnbench-engine (docs/protocol.md, "Engine flags").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/experiments.h"
#include "core/types.h"

namespace attnbench {

struct EngineOptions {
  std::string model = "synthetic:tiny";
  Device device = Device::CPU;
  DType dtype = DType::F32;
  bool dtype_given = false;
  std::string prefill_backend = "naive";
  std::string decode_backend = "naive";
  int block_size = 16;
  int num_kv_blocks = 0;        // 0: derived from kv_cache_gb
  double kv_cache_gb = -1.0;    // < 0: the device default (cpu 0.25 GiB; cuda: --gpu-memory-utilization)
  // cuda, without --num-kv-blocks / --kv-cache-gb: this fraction of the GPU's memory is the engine's;
  // what weights, activations and workspaces leave of it (measured at start-up) becomes KV blocks.
  double gpu_memory_utilization = 0.9;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 0;  // 0: the device default (kDefaultMaxBatchedTokens{Cpu,Cuda})
  uint64_t seed = 0;
  int cuda_graph = -1;          // -1: the device default (on for cuda)
  int64_t step_delay_us = 0;
  int cpu_threads = 0;          // 0: hardware concurrency
  bool profile_steps = false;   // --profile-steps or ATTNBENCH_PROFILE=1: per-step timing on stderr
  ExperimentSwitches exp;       // ATTNBENCH_* variables, read once by parse_engine_flags
  bool enable_prefix_caching = false;  // --enable-prefix-caching: reuse cached full KV blocks (kv/block_manager.h)
  // One-shot mode.
  bool generate = false;
  std::vector<int32_t> prompt_ids;
  int max_tokens = 16;
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  bool ignore_eos = false;
  bool help = false;
};

constexpr int kDefaultMaxBatchedTokensCpu = 2048;
constexpr int kDefaultMaxBatchedTokensCuda = 8192;

// Parses argv; every problem found is appended to `errors` (one line each).
EngineOptions parse_engine_flags(int argc, char** argv, std::vector<std::string>& errors);
std::string engine_usage();

}  // namespace attnbench
