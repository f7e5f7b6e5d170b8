// A model runner executes one engine step on a device: the step machinery (inputs, buffers, graphs,
// timing, sampling) around a model's forward (models/forward.h), which it runs through its own device
// primitives. The scheduler never sees device memory; it talks to the runner through StepBatch.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "core/experiments.h"
#include "core/step_batch.h"
#include "core/types.h"
#include "models/model_weights.h"

namespace attnbench {

struct RunnerOptions {
  Device device = Device::CPU;
  DType dtype = DType::F32;
  std::string prefill_backend = "naive";
  std::string decode_backend = "naive";
  int block_size = 16;
  int num_kv_blocks = 0;        // from the engine; 0 (CUDA only): size the pool from gpu_memory_utilization
  double gpu_memory_utilization = 0.9;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  bool cuda_graph = false;
  ExperimentSwitches exp;       // read once by the engine (core/experiments.h)
};

// Where one step's time went inside the runner (filled when timing is on; -1 = not measured).
struct RunnerStepTiming {
  double prep_ms = -1;    // host: pad/pack/upload/plan before the first launch
  double launch_ms = -1;  // host: enqueueing the forward (graph launch or eager kernels)
  double wait_ms = -1;    // host: waiting for the device (the final sync)
  double gpu_ms = -1;     // device: cudaEvent from the first copy to the sampled tokens
  bool graph = false;     // replayed a captured decode graph
  int padded_rows = 0;    // decode bucket (0 = not padded)
};


class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // Runs one step: appends the step's K/V at slot_mapping, runs the model, and samples one token for
  // each row of batch.sample_seq into `out` (resized by the runner). Synchronous: returns when the
  // sampled tokens are on the host.
  virtual void step(const StepBatch& batch, std::vector<SampleResult>& out) = 0;
  // The same step in two halves, so the engine can do host work (send the previous step's events)
  // while the device runs: launch() enqueues it and returns, collect() waits and fills `out`.
  // `batch` must stay alive and unchanged until collect(). Runners that cannot split run the whole
  // step in collect().
  virtual void launch(const StepBatch& batch) { launched_ = &batch; }
  virtual void collect(std::vector<SampleResult>& out) {
    const StepBatch* b = launched_;
    launched_ = nullptr;
    step(*b, out);
  }
  // Teacher-forced scoring for checks: log p(tokens[i+1] | tokens[..i]) for i in [0, n-1).
  virtual std::vector<float> score(const std::vector<int32_t>& tokens) = 0;
  virtual std::string device_name() const = 0;
  // The KV pool the runner holds (blocks the scheduler may hand out) and its bytes.
  virtual int num_kv_blocks() const = 0;
  virtual size_t kv_cache_bytes() const = 0;
  // Step timing (engine --profile-steps): off by default, since the device events cost a little.
  virtual void set_timing(bool /*on*/) {}
  virtual RunnerStepTiming last_timing() const { return {}; }

 private:
  const StepBatch* launched_ = nullptr;
};

// The attention backends' view of a model on a runner (cuda_graph only matters on CUDA).
inline AttnDims attn_dims(const ModelConfig& c, const RunnerOptions& o, DType dtype) {
  AttnDims d;
  d.num_heads = c.num_heads;
  d.num_kv_heads = c.num_kv_heads;
  d.head_dim = c.head_dim;
  d.scale = 1.0f / std::sqrt((float)c.head_dim);
  d.block_size = o.block_size;
  d.dtype = dtype;
  d.cuda_graph = o.cuda_graph;
  d.exp = o.exp;
  return d;
}

// Bytes of KV cache per block (both K and V, every layer), to size the pool from --kv-cache-gb.
inline size_t kv_bytes_per_block(const ModelConfig& c, int block_size, DType dtype) {
  return (size_t)2 * c.num_layers * block_size * c.num_kv_heads * c.head_dim * dtype_bytes(dtype);
}

// runner/cpu_runner.cpp (fp32 only). Reads `w` in place: the weights must outlive the runner.
std::unique_ptr<ModelRunner> make_cpu_runner(const ModelWeights& w, const RunnerOptions& opt);
// cuda/cuda_runner.cu when built with CUDA; otherwise runner/cuda_unavailable.cpp throws with the
// reason. Copies what it needs to the device: `w` may be released afterwards.
std::unique_ptr<ModelRunner> make_cuda_runner(const ModelWeights& w, const RunnerOptions& opt);

}  // namespace attnbench
