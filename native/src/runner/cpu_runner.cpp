// The fp32 CPU runner (the oracle): the step machinery around a model's forward, whose primitives
// runner/cpu_forward.cpp implements. The paged KV cache lives in host memory; the LM head runs only
// where a token is drawn.
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cpu/elementwise.h"
#include "cpu/sampling.h"
#include "cpu/thread_pool.h"
#include "models/registry.h"
#include "runner/cpu_forward.h"
#include "runner/model_runner.h"

namespace attnbench {

namespace {

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, 10, "model name") == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(line.find_first_not_of(' ', p + 1));
    }
  return "unknown CPU";
}

std::vector<LayerKv> make_cache(const ModelConfig& c, int num_blocks, int block_size) {
  std::vector<LayerKv> kv(c.num_layers);
  const size_t per_layer = (size_t)num_blocks * block_size * c.kv_dim();
  for (auto& l : kv) l.k.assign(per_layer, 0.0f), l.v.assign(per_layer, 0.0f);
  return kv;
}

class CpuRunner : public ModelRunner {
 public:
  CpuRunner(const ModelWeights& w, const RunnerOptions& opt)
      : c_(w.config), opt_(opt), fwd_(w, attn_dims(w.config, opt, DType::F32), opt.prefill_backend, opt.decode_backend),
        model_forward_(model_family(w.config.family).forward) {
    if (opt.dtype != DType::F32)
      throw std::runtime_error(std::string("--dtype ") + dtype_name(opt.dtype) + ": the CPU runner is fp32 only");
    if (opt.num_kv_blocks < 1) throw std::runtime_error("CPU runner: num_kv_blocks must be >= 1");
    kv_ = make_cache(c_, opt.num_kv_blocks, opt.block_size);
  }

  void step(const StepBatch& batch, std::vector<SampleResult>& out) override {
    const int V = c_.vocab_size;
    std::vector<int> rows;
    for (int s : batch.sample_seq) rows.push_back(batch.cu_seqlens_q[s + 1] - 1);
    forward(batch, kv_, rows, opt_.num_kv_blocks);
    const std::vector<float>& logits = fwd_.logits();
    out.resize(rows.size());
    cpu_pool().parallel_for((int)rows.size(), [&](int r) {
      out[r] = sample_token(&logits[(size_t)r * V], V, batch.sample_params[r], batch.sample_step[r]);
    });
  }

  std::vector<float> score(const std::vector<int32_t>& tokens) override {
    const int n = (int)tokens.size(), V = c_.vocab_size, bs = opt_.block_size;
    if (n < 1 || n > c_.max_context)
      throw std::runtime_error("score: " + std::to_string(n) + " tokens, need 1.." + std::to_string(c_.max_context));
    // A private cache, so scoring never touches the blocks of live sequences.
    const int nb = blocks_for_tokens(n, bs);
    std::vector<LayerKv> kv = make_cache(c_, nb, bs);
    std::vector<int32_t> table(nb);
    for (int i = 0; i < nb; ++i) table[i] = i;
    const StepBatch b = one_sequence_prefill(tokens, table, bs);
    std::vector<int> rows(n > 1 ? n - 1 : 0);
    for (int i = 0; i + 1 < n; ++i) rows[i] = i;
    forward(b, kv, rows, nb);
    const std::vector<float>& logits = fwd_.logits();
    std::vector<float> lp(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* l = &logits[i * V];
      lp[i] = l[tokens[i + 1]] - logsumexp(l, V);
    }
    return lp;
  }

  int num_kv_blocks() const override { return opt_.num_kv_blocks; }
  size_t kv_cache_bytes() const override { return kv_bytes_per_block(c_, opt_.block_size, DType::F32) * opt_.num_kv_blocks; }

  std::string device_name() const override {
    return cpu_model_name() + " (" + std::to_string(cpu_pool().num_threads()) + " threads)";
  }

 private:
  // Runs the model over the batch; leaves the logits of `rows` in fwd_.logits().
  void forward(const StepBatch& b, std::vector<LayerKv>& kv, const std::vector<int>& rows, int num_blocks) {
    for (int t = 0; t < b.num_tokens(); ++t) {
      if (b.tokens[t] < 0 || b.tokens[t] >= c_.vocab_size || b.positions[t] < 0 || b.positions[t] >= c_.max_context)
        throw std::runtime_error("CPU runner: token " + std::to_string(b.tokens[t]) + " at position " +
                                 std::to_string(b.positions[t]) + " outside the vocabulary or context");
      if (b.slot_mapping[t] < 0 || b.slot_mapping[t] >= num_blocks * opt_.block_size)
        throw std::runtime_error("CPU runner: slot " + std::to_string(b.slot_mapping[t]) + " outside the KV pool");
    }
    fwd_.bind(b, host_attn_metadata(b), kv, num_blocks, rows);
    model_forward_(c_, fwd_);
  }

  const ModelConfig& c_;
  RunnerOptions opt_;
  CpuForward fwd_;
  void (*model_forward_)(const ModelConfig&, ForwardOps&);
  std::vector<LayerKv> kv_;
};

}  // namespace

std::unique_ptr<ModelRunner> make_cpu_runner(const ModelWeights& w, const RunnerOptions& opt) {
  if (!w.materialized())
    throw std::logic_error("make_cpu_runner: the weights are synthetic recipes (load_model with lazy_synthetic=false)");
  return std::make_unique<CpuRunner>(w, opt);
}

}  // namespace attnbench
