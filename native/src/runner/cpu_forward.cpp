// The fp32 primitives (models/forward.h) for the CPU runner, the oracle the CUDA path is checked against.
#include "runner/cpu_forward.h"

#include <cmath>
#include <stdexcept>

#include "cpu/elementwise.h"
#include "cpu/paged_kv.h"
#include "models/rope.h"

namespace attnbench {

CpuForward::CpuForward(const ModelWeights& w, const AttnDims& dims, const std::string& prefill_backend,
                       const std::string& decode_backend)
    : w_(w), c_(w.config), dims_(dims) {
  prefill_ = make_prefill_attn(prefill_backend, Device::CPU, dims_);
  decode_ = make_decode_attn(decode_backend, Device::CPU, dims_);
  for (const auto& L : w.layers) {
    packed_.push_back({pack_linear(L.qkv.w.data(), L.qkv.out, L.qkv.in),
                       pack_linear(L.attn_out.w.data(), L.attn_out.out, L.attn_out.in),
                       pack_linear(L.up.w.data(), L.up.out, L.up.in),
                       pack_linear(L.down.w.data(), L.down.out, L.down.in)});
  }
  if (c_.positions == PositionKind::Rope) inv_freq_ = rope_inv_freq(c_);
}

void CpuForward::bind(const StepBatch& b, const AttnMetadata& md, std::vector<LayerKv>& kv, int num_blocks,
                      const std::vector<int>& lm_rows) {
  b_ = &b;
  md_ = md;
  kv_ = &kv;
  num_blocks_ = num_blocks;
  lm_rows_ = lm_rows;
  const size_t T = b.num_tokens();
  x_.resize(T * c_.hidden_size);
  hidden_.resize(T * c_.hidden_size);
  qkv_.resize(T * c_.qkv_dim());
  q_.resize(T * c_.q_dim());
  knew_.resize(T * c_.kv_dim());
  vnew_.resize(T * c_.kv_dim());
  attn_.resize(T * c_.q_dim());
  out_.resize(T * c_.hidden_size);
  ffn_.resize(T * c_.ffn_size);
  if (c_.gated_mlp) gate_up_.resize(T * c_.up_dim());
  if (b.num_prefill_seqs) prefill_->plan(md);
  if (b.num_decode_seqs) decode_->plan(md);
}

std::vector<float>& CpuForward::buf(Act a) {
  switch (a) {
    case Act::Hidden: return hidden_;
    case Act::Qkv: return qkv_;
    case Act::Attn: return attn_;
    case Act::Out: return out_;
    case Act::Ffn: return ffn_;
    case Act::GateUp: return gate_up_;
  }
  throw std::logic_error("CpuForward: unknown activation");
}

const LinearWeights& CpuForward::linear_weights(int layer, Weight w) const {
  const LayerWeights& L = w_.layers[layer];
  switch (w) {
    case Weight::Qkv: return L.qkv;
    case Weight::AttnOut: return L.attn_out;
    case Weight::Up: return L.up;
    case Weight::Down: return L.down;
  }
  throw std::logic_error("CpuForward: unknown weight");
}

void CpuForward::norm(const NormWeights& nw, const float* x, int rows, int n, float* y) const {
  if (c_.norm == NormKind::LayerNorm)
    layernorm(x, rows, n, nw.w.data(), nw.b.data(), c_.norm_eps, y);
  else
    rmsnorm(x, rows, n, nw.w.data(), c_.norm_eps, y);
}

void CpuForward::embed() {
  const int T = b_->num_tokens(), E = c_.hidden_size;
  for (int t = 0; t < T; ++t) {
    const float* te = &w_.tok_emb[(size_t)b_->tokens[t] * E];
    float* xr = &x_[(size_t)t * E];
    if (w_.pos_emb.empty()) {
      std::copy(te, te + E, xr);
    } else {
      const float* pe = &w_.pos_emb[(size_t)b_->positions[t] * E];
      for (int i = 0; i < E; ++i) xr[i] = te[i] + pe[i];
    }
  }
}

void CpuForward::add_norm(bool add, int layer, NormAt which) {
  const int T = b_->num_tokens(), E = c_.hidden_size;
  if (add) add_inplace(x_.data(), out_.data(), (long)T * E);
  if (which != NormAt::Final) {
    const LayerWeights& L = w_.layers[layer];
    norm(which == NormAt::Attn ? L.attn_norm : L.mlp_norm, x_.data(), T, E, hidden_.data());
    return;
  }
  // The final norm on the LM head's rows only, gathered into Hidden's first rows.
  const int R = (int)lm_rows_.size();
  std::vector<float> rows((size_t)R * E);
  for (int r = 0; r < R; ++r) std::copy_n(&x_[(size_t)lm_rows_[r] * E], E, &rows[(size_t)r * E]);
  norm(w_.final_norm, rows.data(), R, E, hidden_.data());
}

void CpuForward::linear(Act dst, Act src, int layer, Weight wt, bool activate) {
  const LinearWeights& lw = linear_weights(layer, wt);
  const PackedLayer& P = packed_[layer];
  const PackedMatrix& pm = wt == Weight::Qkv ? P.qkv : wt == Weight::AttnOut ? P.attn_out : wt == Weight::Up ? P.up : P.down;
  const int T = b_->num_tokens();
  float* y = buf(dst).data();
  matmul_bias(buf(src).data(), T, pm, lw.b.empty() ? nullptr : lw.b.data(), y);
  if (activate) {
    if (c_.activation != Activation::GeluTanh)
      throw std::runtime_error("CPU runner: an ungated MLP with this activation is not implemented");
    gelu_new_inplace(y, (long)T * lw.out);
  }
}

void CpuForward::gated_act(Act dst, Act src) {
  if (c_.activation != Activation::Silu) throw std::runtime_error("CPU runner: a gated MLP needs SiLU");
  silu_mul(buf(src).data(), b_->num_tokens(), c_.ffn_size, buf(dst).data());
}

void CpuForward::attention(int layer) {
  const StepBatch& b = *b_;
  const int T = b.num_tokens(), Hq = c_.num_heads, Hkv = c_.num_kv_heads, D = c_.head_dim;
  const int QD = c_.q_dim(), KvD = c_.kv_dim(), row = c_.qkv_dim();
  const LayerWeights& L = w_.layers[layer];
  LayerKv& kv = (*kv_)[layer];
  // Split q | k | v, then per-head q/k norms and the rotary embedding where the model has them.
  for (int t = 0; t < T; ++t) {
    const float* r = &qkv_[(size_t)t * row];
    std::copy(r, r + QD, &q_[(size_t)t * QD]);
    std::copy(r + QD, r + QD + KvD, &knew_[(size_t)t * KvD]);
    std::copy(r + QD + KvD, r + QD + 2 * KvD, &vnew_[(size_t)t * KvD]);
  }
  if (c_.qk_norm) {
    rmsnorm(q_.data(), T * Hq, D, L.q_norm.w.data(), c_.norm_eps, q_.data());
    rmsnorm(knew_.data(), T * Hkv, D, L.k_norm.w.data(), c_.norm_eps, knew_.data());
  }
  if (c_.positions == PositionKind::Rope) {
    rope_inplace(q_.data(), T, QD, Hq, D, b.positions.data(), inv_freq_);
    rope_inplace(knew_.data(), T, KvD, Hkv, D, b.positions.data(), inv_freq_);
  }
  // This step's keys and values go to their slots before attention reads the cache.
  for (int t = 0; t < T; ++t) {
    const size_t off = kv_offset(b.slot_mapping[t], Hkv, D);
    std::copy_n(&knew_[(size_t)t * KvD], KvD, &kv.k[off]);
    std::copy_n(&vnew_[(size_t)t * KvD], KvD, &kv.v[off]);
  }
  PagedKv cache{kv.k.data(), kv.v.data(), num_blocks_};
  const int Tp = b.num_prefill_tokens();
  if (b.num_prefill_seqs) prefill_->run(layer, q_.data(), knew_.data(), vnew_.data(), cache, attn_.data(), md_, nullptr);
  if (b.num_decode_seqs) decode_->run(layer, q_.data() + (size_t)Tp * QD, cache, attn_.data() + (size_t)Tp * QD, md_, nullptr);
}

void CpuForward::lm_head() {
  const int R = (int)lm_rows_.size();
  logits_.resize((size_t)R * c_.vocab_size);
  matmul_nt(hidden_.data(), R, c_.hidden_size, w_.lm_head_weight().data(), c_.vocab_size, logits_.data());
}

}  // namespace attnbench
