// The CUDA primitives (models/forward.h). Per block, for GPT-2:
//   QKV GEMM (+bias) -> split q/k/v + append K/V at slot_mapping (prefill rows; decode rows too unless
//   the decode backend reads the QKV rows and appends itself) -> attention (prefill rows, then decode
//   rows) -> proj GEMM (+bias) -> residual + norm -> FC GEMM (+bias+gelu) -> proj GEMM (+bias) ->
//   residual + next norm | the last one on the sampled rows only -> LM head (fp32 logits).
// Llama-style models swap in RMSNorm, rotary embedding (and Qwen3's q/k norms) in the append kernel,
// and gate|up GEMM -> SiLU*up -> down.
#include "cuda/cuda_forward.h"

#include <cmath>
#include <stdexcept>

#include "core/cuda_check.h"
#include "kernels/embedding.cuh"      // defines: embedding_forward
#include "kernels/kv_append.cuh"      // defines: qkv_split_kv_append
#include "kernels/layernorm.cuh"      // defines: residual_layernorm_forward, residual_rmsnorm_forward
#include "kernels/rope_append.cuh"    // defines: qkv_rope_kv_append
#include "kernels/silu_mul.cuh"       // defines: silu_mul_forward
#include "models/rope.h"

namespace attnbench {

int gemm_rows(int m) {
  if (m <= 8) { int p = 1; while (p < m) p <<= 1; return p; }
  if (m <= 64) return (m + 7) / 8 * 8;
  if (m <= 512) return (m + 15) / 16 * 16;
  return (m + 127) / 128 * 128;
}

using Sw = ExperimentSwitches;

CudaForward::CudaForward(const ModelWeights& w, DType dtype, const RunnerOptions& opt, int max_tokens, int max_lm_rows)
    : cfg_(w.config), opt_(opt), dtype_(dtype), max_tokens_(max_tokens), max_lm_rows_(max_lm_rows) {
  const ModelConfig& c = cfg_;
  if (!c.gated_mlp && c.activation != Activation::GeluTanh)
    throw std::runtime_error("CUDA runner: an ungated MLP needs GELU (tanh)");
  if (c.gated_mlp && c.activation != Activation::Silu) throw std::runtime_error("CUDA runner: a gated MLP needs SiLU");
  if (!c.mlp_bias && !c.gated_mlp) throw std::runtime_error("CUDA runner: an ungated MLP needs biases (GELU epilogue)");
  upload_weights(w_, w, dtype_);
  gemm_ = std::make_unique<Gemm>(opt.exp);

  const AttnDims dims = attn_dims(c, opt, dtype_);
  prefill_ = make_prefill_attn(opt.prefill_backend, Device::CUDA, dims);
  decode_ = make_decode_attn(opt.decode_backend, Device::CUDA, dims);
  transform_qk_ = c.positions == PositionKind::Rope || c.qk_norm;
  if (auto* q = dynamic_cast<DecodeFromQkvRows*>(decode_.get());
      q && q->reads_qkv_rows() && (!transform_qk_ || (c.positions == PositionKind::Rope && q->applies_qk_transform())))
    qkv_decode_ = q;
  if (c.positions == PositionKind::Rope) {
    const std::vector<float> inv = rope_inv_freq(c);
    inv_freq_.resize(inv.size() * sizeof(float));
    CUDA_CHECK(cudaMemcpy(inv_freq_.get(), inv.data(), inv.size() * sizeof(float), cudaMemcpyHostToDevice));
  }

  const size_t T = gemm_rows(max_tokens_);  // GEMMs may run on rounded-up row counts
  x_.resize(T * c.hidden_size * sizeof(float));
  hidden_.resize(T * c.hidden_size * elt());
  qkv_.resize(T * c.qkv_dim() * elt());
  q_.resize(T * c.q_dim() * elt());
  k_.resize(T * c.kv_dim() * elt());
  v_.resize(T * c.kv_dim() * elt());
  attn_.resize(T * c.q_dim() * elt());
  out_.resize(T * c.hidden_size * elt());
  ffn_.resize(T * c.ffn_size * elt());
  if (c.gated_mlp) gate_up_.resize(T * c.up_dim() * elt());
  // The LM head runs on a vocabulary padded to a multiple of 128 rows of zeros (llm.c's 50304 for
  // GPT-2): cuBLASLt at M = 128, N = 50257 (any ld) ran at ~75 TFLOPS, 130 us of a 1.23 ms decode
  // step (attnbench-gemm-bench, H100). Sampling reads the first V columns of each padded row.
  // ATTNBENCH_VOCAB_PAD=N pads to a multiple of N instead (1 = no padding rows, stride still 32).
  const int V = c.vocab_size, C = c.hidden_size;
  Vld_ = (V + opt.exp.vocab_pad - 1) / opt.exp.vocab_pad * opt.exp.vocab_pad;
  if (Vld_ > V) {
    lm_head_pad_.resize((size_t)Vld_ * C * elt());
    CUDA_CHECK(cudaMemset(lm_head_pad_.get(), 0, lm_head_pad_.bytes()));
    CUDA_CHECK(cudaMemcpy(lm_head_pad_.get(), w_.lm_head, (size_t)V * C * elt(), cudaMemcpyDeviceToDevice));
  }
  lm_w_ = Vld_ > V ? lm_head_pad_.get() : w_.lm_head;
  lm_n_ = Vld_;
  Vld_ = (Vld_ + 31) / 32 * 32;  // aligned row stride when not padding rows
  for (DeviceBuffer* b : {&x_, &hidden_, &qkv_, &q_, &k_, &v_, &attn_, &out_, &ffn_, &gate_up_})
    if (b->bytes()) CUDA_CHECK(cudaMemset(b->get(), 0, b->bytes()));  // rows past M are read by rounded GEMMs: no NaN bits
}

void* CudaForward::buf(Act a) const {
  switch (a) {
    case Act::Hidden: return hidden_.get();
    case Act::Qkv: return qkv_.get();
    case Act::Attn: return attn_.get();
    case Act::Out: return out_.get();
    case Act::Ffn: return ffn_.get();
    case Act::GateUp: return gate_up_.get();
  }
  throw std::logic_error("CudaForward: unknown activation");
}

void CudaForward::embed() {
  if (skip(Sw::kSkipEmbed)) return;
  embedding_forward(x_.get<float>(), step_.tokens, step_.positions, w_.tok_emb, w_.pos_emb, step_.md.num_tokens, cfg_.hidden_size,
                    dtype_, step_.stream);
}

void CudaForward::add_norm(bool add, int layer, NormAt which) {
  const bool final = which == NormAt::Final;
  if (final ? skip(Sw::kSkipLmHead) : skip(Sw::kSkipNorm)) return;
  const CudaNorm& n = final ? w_.final_norm : which == NormAt::Attn ? w_.layers[layer].attn_norm : w_.layers[layer].mlp_norm;
  const int32_t* rows = final ? step_.lm_rows : nullptr;
  const int n_rows = final ? step_.n_lm_rows : step_.md.num_tokens;
  const void* delta = add ? out_.get() : nullptr;
  if (cfg_.norm == NormKind::LayerNorm)
    residual_layernorm_forward(hidden_.get(), x_.get<float>(), delta, rows, n_rows, cfg_.hidden_size, n.w, n.b,
                               cfg_.norm_eps, dtype_, step_.stream);
  else
    residual_rmsnorm_forward(hidden_.get(), x_.get<float>(), delta, rows, n_rows, cfg_.hidden_size, n.w, cfg_.norm_eps,
                             dtype_, step_.stream);
}

void CudaForward::linear(Act dst, Act src, int layer, Weight wt, bool activate) {
  if (skip(Sw::kSkipGemm)) return;
  const CudaLayerWeights& L = w_.layers[layer];
  const CudaLinear& l = wt == Weight::Qkv ? L.qkv : wt == Weight::AttnOut ? L.attn_out : wt == Weight::Up ? L.up : L.down;
  GemmEpilogue ep = l.b ? GemmEpilogue::Bias : GemmEpilogue::None;
  if (activate) {
    if (!l.b) throw std::runtime_error("CUDA runner: an activation epilogue without a bias is not implemented");
    ep = GemmEpilogue::BiasGelu;
  }
  gemm_->linear(step_.stream, buf(dst), buf(src), l.w, l.b, gemm_rows(step_.md.num_tokens), l.out, l.in, dtype_, dtype_, ep);
}

void CudaForward::gated_act(Act dst, Act src) {
  if (skip(Sw::kSkipGemm)) return;
  silu_mul_forward(buf(dst), buf(src), step_.md.num_tokens, cfg_.ffn_size, dtype_, step_.stream);
}

void CudaForward::attention(int layer) {
  const AttnMetadata& md = step_.md;
  const ModelConfig& c = cfg_;
  const int T = md.num_tokens, H = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
  const PagedKv& cache = (*step_.cache)[layer];
  cudaStream_t s = step_.stream;
  const size_t dec_off = (size_t)md.num_prefill_tokens * c.q_dim();  // decode rows follow prefill rows
  // A decode backend that reads the QKV rows appends its own K/V: the split kernel then covers the
  // prefill rows only (none in a decode step).
  const bool dec_rows = md.num_decode_seqs > 0 && qkv_decode_ != nullptr;
  const int split_T = dec_rows ? md.num_prefill_tokens : T;
  if (!skip(Sw::kSkipAppend)) {
    if (transform_qk_) {
      const CudaLayerWeights& L = w_.layers[layer];
      qkv_rope_kv_append(q_.get(), k_.get(), v_.get(), cache.k, cache.v, qkv_.get(), step_.slot_mapping, step_.positions,
                         c.positions == PositionKind::Rope ? inv_freq_.get<float>() : nullptr, L.q_norm.w, L.k_norm.w,
                         c.norm_eps, split_T, H, Hkv, D, dtype_, s);
    } else {
      qkv_split_kv_append(q_.get(), k_.get(), v_.get(), cache.k, cache.v, qkv_.get(), step_.slot_mapping, split_T, H, Hkv,
                          D, dtype_, s);
    }
  }
  if (skip(Sw::kSkipAttn)) return;
  if (md.num_prefill_seqs > 0) prefill_->run(layer, q_.get(), k_.get(), v_.get(), cache, attn_.get(), md, s);
  if (md.num_decode_seqs > 0) {
    if (dec_rows) {
      DecodeQkvRows rows;
      rows.qkv = act(qkv_, (size_t)md.num_prefill_tokens * c.qkv_dim());
      rows.row_stride = c.qkv_dim();
      rows.slot_mapping = skip(Sw::kSkipAppend) ? nullptr : step_.slot_mapping + md.num_prefill_tokens;
      if (transform_qk_) {
        const CudaLayerWeights& L = w_.layers[layer];
        rows.rope_inv_freq = inv_freq_.get<float>();
        rows.positions = step_.positions + md.num_prefill_tokens;
        rows.q_norm_w = L.q_norm.w;
        rows.k_norm_w = L.k_norm.w;
        rows.norm_eps = c.norm_eps;
      }
      qkv_decode_->run_qkv(layer, rows, cache, act(attn_, dec_off), md, s);
    } else {
      decode_->run(layer, act(q_, dec_off), cache, act(attn_, dec_off), md, s);
    }
  }
}

void CudaForward::lm_head() {
  if (skip(Sw::kSkipLmHead)) return;
  const int C = cfg_.hidden_size, V = cfg_.vocab_size;
  if (step_.padded_logits)  // our buffer: the padded head (N = row stride)
    gemm_->linear(step_.stream, step_.logits, hidden_.get(), lm_w_, nullptr, gemm_rows(step_.n_lm_rows), lm_n_, C, dtype_,
                  DType::F32, GemmEpilogue::None, Vld_);
  else  // an exact [n, V] buffer (score())
    gemm_->linear(step_.stream, step_.logits, hidden_.get(), w_.lm_head, nullptr, step_.n_lm_rows, V, C, dtype_, DType::F32,
                  GemmEpilogue::None, V);
}

// ~100 row buckets x each linear shape at max_num_batched_tokens 8192, plans made and kernels loaded
// outside the timed steps. The LM head's buckets go up to max_lm_rows. Writes garbage into the
// activation buffers (no live data there between steps).
void CudaForward::warm_gemms(cudaStream_t stream) {
  const CudaLayerWeights& L = w_.layers[0];
  std::vector<std::pair<const CudaLinear*, std::pair<Act, Act>>> shapes = {
      {&L.qkv, {Act::Qkv, Act::Hidden}},
      {&L.attn_out, {Act::Out, Act::Attn}},
      {&L.up, {cfg_.gated_mlp ? Act::GateUp : Act::Ffn, Act::Hidden}},
      {&L.down, {Act::Out, Act::Ffn}}};
  DeviceBuffer logits((size_t)gemm_rows(max_lm_rows_) * Vld_ * sizeof(float));
  int last = 0;
  for (int m = 1; m <= max_tokens_; ++m) {
    const int r = gemm_rows(m);
    if (r == last) continue;
    last = r;
    for (const auto& [l, io] : shapes) {
      GemmEpilogue ep = l->b ? GemmEpilogue::Bias : GemmEpilogue::None;
      if (l == &L.up && !cfg_.gated_mlp) ep = GemmEpilogue::BiasGelu;
      gemm_->linear(stream, buf(io.first), buf(io.second), l->w, l->b, r, l->out, l->in, dtype_, dtype_, ep);
    }
    if (r <= gemm_rows(max_lm_rows_))
      gemm_->linear(stream, logits.get<float>(), hidden_.get(), lm_w_, nullptr, r, lm_n_, cfg_.hidden_size, dtype_,
                    DType::F32, GemmEpilogue::None, Vld_);
  }
  SYNC_STREAM(stream);
}

}  // namespace attnbench
