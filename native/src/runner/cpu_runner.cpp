// The fp32 CPU runner: GPT-2 forward over a StepBatch with the paged KV cache in host memory.
//
//   x = wte[tok] + wpe[pos]
//   per layer: a = LN1(x); qkv = a.c_attn; K/V -> cache[slot]; o = attn(q); x += o.c_proj
//              m = LN2(x); x += gelu_new(m.c_fc).c_proj
//   logits = LN_f(x[last row of each sampled slice]) . wte^T  (LM head only where a token is drawn)
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "attn/backend.h"
#include "cpu/elementwise.h"
#include "cpu/matmul.h"
#include "cpu/paged_kv.h"
#include "cpu/sampling.h"
#include "cpu/thread_pool.h"
#include "kv/block_pool.h"
#include "runner/model_runner.h"

namespace attnbench {

namespace {

struct PackedLayer {
  PackedMatrix c_attn, attn_proj, fc, mlp_proj;
};

struct LayerKv {
  std::vector<float> k, v;  // [num_blocks, block_size, n_kv_head, head_dim] each
};

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

class CpuRunner : public ModelRunner {
 public:
  CpuRunner(const Gpt2Weights& w, const RunnerOptions& opt) : w_(w), opt_(opt) {
    const ModelConfig& c = w.config;
    if (opt.dtype != DType::F32)
      throw std::runtime_error(std::string("--dtype ") + dtype_name(opt.dtype) + ": the CPU runner is fp32 only");
    if (opt.num_kv_blocks < 1) throw std::runtime_error("CPU runner: num_kv_blocks must be >= 1");
    dims_.num_heads = c.n_head;
    dims_.num_kv_heads = c.n_kv_head;
    dims_.head_dim = c.head_dim();
    dims_.scale = 1.0f / std::sqrt((float)c.head_dim());
    dims_.block_size = opt.block_size;
    dims_.dtype = DType::F32;
    prefill_ = make_prefill_attn(opt.prefill_backend, Device::CPU, dims_);
    decode_ = make_decode_attn(opt.decode_backend, Device::CPU, dims_);
    for (const auto& L : w.layers) {
      packed_.push_back({pack_matrix(L.attn_c_attn_w.data(), c.n_embd, 3 * c.n_embd),
                         pack_matrix(L.attn_c_proj_w.data(), c.n_embd, c.n_embd),
                         pack_matrix(L.mlp_c_fc_w.data(), c.n_embd, c.n_inner),
                         pack_matrix(L.mlp_c_proj_w.data(), c.n_inner, c.n_embd)});
    }
    kv_.resize(c.n_layer);
    const size_t per_layer = (size_t)opt.num_kv_blocks * opt.block_size * c.n_kv_head * c.head_dim();
    for (auto& l : kv_) {
      l.k.assign(per_layer, 0.0f);
      l.v.assign(per_layer, 0.0f);
    }
  }

  void step(const StepBatch& batch, std::vector<SampleResult>& out) override {
    const int V = w_.config.vocab_size;
    std::vector<int> rows;
    for (int s : batch.sample_seq) rows.push_back(batch.cu_seqlens_q[s + 1] - 1);
    forward(batch, kv_, rows, opt_.num_kv_blocks);
    out.resize(rows.size());
    cpu_pool().parallel_for((int)rows.size(), [&](int r) {
      out[r] = sample_token(&logits_[(size_t)r * V], V, batch.sample_params[r], batch.sample_step[r]);
    });
  }

  std::vector<float> score(const std::vector<int32_t>& tokens) override {
    const int n = (int)tokens.size(), V = w_.config.vocab_size, bs = opt_.block_size;
    if (n < 1 || n > w_.config.n_ctx)
      throw std::runtime_error("score: " + std::to_string(n) + " tokens, need 1.." + std::to_string(w_.config.n_ctx));
    // A private cache, so scoring never touches the blocks of live sequences.
    const int nb = blocks_for_tokens(n, bs);
    std::vector<LayerKv> kv(w_.config.n_layer);
    const size_t per_layer = (size_t)nb * bs * w_.config.n_kv_head * w_.config.head_dim();
    for (auto& l : kv) l.k.assign(per_layer, 0.0f), l.v.assign(per_layer, 0.0f);
    StepBatch b;
    b.tokens = tokens;
    for (int i = 0; i < n; ++i) b.positions.push_back(i), b.slot_mapping.push_back(i);
    b.cu_seqlens_q = {0, n};
    b.ctx_lens = {0};
    b.seq_lens_k = {n};
    for (int i = 0; i < nb; ++i) b.block_tables.push_back(i);
    b.max_blocks_per_seq = nb;
    b.num_prefill_seqs = 1;
    std::vector<int> rows(n > 1 ? n - 1 : 0);
    for (int i = 0; i + 1 < n; ++i) rows[i] = i;
    forward(b, kv, rows, nb);
    std::vector<float> lp(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* l = &logits_[i * V];
      lp[i] = l[tokens[i + 1]] - logsumexp(l, V);
    }
    return lp;
  }

  std::string device_name() const override {
    return cpu_model_name() + " (" + std::to_string(cpu_pool().num_threads()) + " threads)";
  }

 private:
  // Runs the model over the batch; leaves logits_ [rows.size(), vocab] for the given token rows.
  void forward(const StepBatch& b, std::vector<LayerKv>& kv, const std::vector<int>& rows, int num_blocks) {
    const ModelConfig& c = w_.config;
    const int T = b.num_tokens(), E = c.n_embd, I = c.n_inner, Hkv = c.n_kv_head, D = c.head_dim();
    const int KvE = Hkv * D;
    for (int t = 0; t < T; ++t) {
      if (b.tokens[t] < 0 || b.tokens[t] >= c.vocab_size || b.positions[t] < 0 || b.positions[t] >= c.n_ctx)
        throw std::runtime_error("CPU runner: token " + std::to_string(b.tokens[t]) + " at position " +
                                 std::to_string(b.positions[t]) + " outside the vocabulary or context");
      if (b.slot_mapping[t] < 0 || b.slot_mapping[t] >= num_blocks * opt_.block_size)
        throw std::runtime_error("CPU runner: slot " + std::to_string(b.slot_mapping[t]) + " outside the KV pool");
    }
    x_.resize((size_t)T * E);
    a_.resize((size_t)T * E);
    qkv_.resize((size_t)T * 3 * E);
    q_.resize((size_t)T * E);
    knew_.resize((size_t)T * KvE);
    vnew_.resize((size_t)T * KvE);
    attn_.resize((size_t)T * E);
    h_.resize((size_t)T * I);
    for (int t = 0; t < T; ++t) {
      const float* te = &w_.wte[(size_t)b.tokens[t] * E];
      const float* pe = &w_.wpe[(size_t)b.positions[t] * E];
      for (int i = 0; i < E; ++i) x_[(size_t)t * E + i] = te[i] + pe[i];
    }
    const AttnMetadata md = host_attn_metadata(b);
    if (b.num_prefill_seqs) prefill_->plan(md);
    if (b.num_decode_seqs) decode_->plan(md);
    const int Tp = b.num_prefill_tokens();

    for (int l = 0; l < c.n_layer; ++l) {
      const Gpt2Layer& L = w_.layers[l];
      const PackedLayer& P = packed_[l];
      layernorm(x_.data(), T, E, L.ln_1_w.data(), L.ln_1_b.data(), c.layer_norm_epsilon, a_.data());
      matmul_bias(a_.data(), T, P.c_attn, L.attn_c_attn_b.data(), qkv_.data());
      // Split q | k | v (GPT-2: k and v have n_head heads; GQA models would have fewer) and append
      // this step's keys and values at their slots before attention reads the cache.
      for (int t = 0; t < T; ++t) {
        const float* r = &qkv_[(size_t)t * 3 * E];
        std::copy(r, r + E, &q_[(size_t)t * E]);
        std::copy(r + E, r + E + KvE, &knew_[(size_t)t * KvE]);
        std::copy(r + 2 * E, r + 2 * E + KvE, &vnew_[(size_t)t * KvE]);
        const size_t off = kv_offset(b.slot_mapping[t], Hkv, D);
        std::copy(r + E, r + E + KvE, &kv[l].k[off]);
        std::copy(r + 2 * E, r + 2 * E + KvE, &kv[l].v[off]);
      }
      PagedKv cache{kv[l].k.data(), kv[l].v.data(), num_blocks};
      if (b.num_prefill_seqs)
        prefill_->run(l, q_.data(), knew_.data(), vnew_.data(), cache, attn_.data(), md, nullptr);
      if (b.num_decode_seqs)
        decode_->run(l, q_.data() + (size_t)Tp * E, cache, attn_.data() + (size_t)Tp * E, md, nullptr);
      matmul_bias(attn_.data(), T, P.attn_proj, L.attn_c_proj_b.data(), a_.data());
      add_inplace(x_.data(), a_.data(), (long)T * E);
      layernorm(x_.data(), T, E, L.ln_2_w.data(), L.ln_2_b.data(), c.layer_norm_epsilon, a_.data());
      matmul_bias(a_.data(), T, P.fc, L.mlp_c_fc_b.data(), h_.data());
      gelu_new_inplace(h_.data(), (long)T * I);
      matmul_bias(h_.data(), T, P.mlp_proj, L.mlp_c_proj_b.data(), a_.data());
      add_inplace(x_.data(), a_.data(), (long)T * E);
    }

    const int R = (int)rows.size();
    final_.resize((size_t)R * E);
    for (int r = 0; r < R; ++r) std::copy(&x_[(size_t)rows[r] * E], &x_[(size_t)rows[r] * E] + E, &final_[(size_t)r * E]);
    layernorm(final_.data(), R, E, w_.ln_f_w.data(), w_.ln_f_b.data(), c.layer_norm_epsilon, final_.data());
    logits_.resize((size_t)R * c.vocab_size);
    matmul_nt(final_.data(), R, E, w_.lm_head_weight().data(), c.vocab_size, logits_.data());
  }

  const Gpt2Weights& w_;
  RunnerOptions opt_;
  AttnDims dims_;
  std::unique_ptr<PrefillAttn> prefill_;
  std::unique_ptr<DecodeAttn> decode_;
  std::vector<PackedLayer> packed_;
  std::vector<LayerKv> kv_;
  std::vector<float> x_, a_, qkv_, q_, knew_, vnew_, attn_, h_, final_, logits_;
};

}  // namespace

std::unique_ptr<ModelRunner> make_cpu_runner(const Gpt2Weights& w, const RunnerOptions& opt) {
  return std::make_unique<CpuRunner>(w, opt);
}

}  // namespace attnbench
