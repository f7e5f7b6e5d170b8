// defines: CudaForward (models/forward.h's primitives on CUDA, fp16/bf16 with an fp32 residual stream),
//          CudaStepView, gemm_rows
// The CUDA runner's half that does the math: device weights, cuBLASLt GEMMs, activation buffers, the
// attention backends and the kernels of kernels/. The runner binds a step (bind()), then runs the
// model's forward over these primitives, eagerly or under graph capture: nothing here synchronises
// or allocates per step.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "attn/backend.h"
#include "cuda/cuda_weights.h"
#include "core/device_buffer.h"
#include "cuda/gemm.h"
#include "models/forward.h"
#include "runner/model_runner.h"

namespace attnbench {

// GEMM row counts are rounded up to a few buckets, so a step's token count (which varies freely in
// prefill and mixed steps) maps onto shapes whose cuBLASLt plans and kernels were made and loaded
// at start-up (CudaForward::warm_gemms): a new M used to cost a heuristic query and lazy kernel loads
// inside the step (engine profile, H100: ~20 ms of host launch time in the first prefill step and
// ~6 ms in each mixed step). Decode buckets (1, 2, 4, 8, 16..64 by 8, then by 16) map to themselves.
// The rows past M compute garbage into rows nothing reads; each row's result does not depend on the
// others.
int gemm_rows(int m);

// One step as the primitives see it (device pointers).
struct CudaStepView {
  AttnMetadata md;
  const int32_t* tokens = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* slot_mapping = nullptr;
  const int32_t* lm_rows = nullptr;  // token rows the LM head reads (null: rows 0..n_lm_rows-1)
  int n_lm_rows = 0;
  float* logits = nullptr;
  bool padded_logits = true;         // the runner's padded [rows, Vld] buffer (else an exact [n, V] one)
  const std::vector<PagedKv>* cache = nullptr;
  cudaStream_t stream = nullptr;
};

class CudaForward final : public ForwardOps {
 public:
  // Uploads the weights, makes the attention backends, sizes the buffers for steps of up to
  // max_tokens tokens and max_lm_rows sampled rows.
  CudaForward(const ModelWeights& w, DType dtype, const RunnerOptions& opt, int max_tokens, int max_lm_rows);

  void bind(const CudaStepView& v) { step_ = v; }
  // Every GEMM shape a step can use, run once before `ready`.
  void warm_gemms(cudaStream_t stream);

  PrefillAttn& prefill() { return *prefill_; }
  DecodeAttn& decode() { return *decode_; }
  int vocab_stride() const { return Vld_; }  // row stride of the padded logits buffer
  size_t weight_bytes() const { return w_.bytes; }

  void embed() override;
  void add_norm(bool add, int layer, NormAt which) override;
  void linear(Act dst, Act src, int layer, Weight w, bool activate) override;
  void attention(int layer) override;
  void gated_act(Act dst, Act src) override;
  void lm_head() override;

 private:
  size_t elt() const { return (size_t)dtype_bytes(dtype_); }
  void* buf(Act a) const;
  template <class P = char> P* act(const DeviceBuffer& b, size_t elems) const { return (P*)(b.get<char>() + elems * elt()); }
  bool skip(unsigned part) const { return (opt_.exp.skip & part) != 0; }

  ModelConfig cfg_;
  RunnerOptions opt_;
  DType dtype_;
  CudaWeights w_;
  std::unique_ptr<Gemm> gemm_;
  std::unique_ptr<PrefillAttn> prefill_;
  std::unique_ptr<DecodeAttn> decode_;
  // The decode backend's QKV-rows path (attn/backend.h), when it has one, it is on, and the model
  // puts nothing between the QKV GEMM and the cache (no rotary embedding, no q/k norm).
  DecodeFromQkvRows* qkv_decode_ = nullptr;
  bool transform_qk_ = false;       // rotary embedding and/or q/k norms before the cache
  DeviceBuffer inv_freq_;           // [head_dim / 2] fp32, with rotary embedding
  int max_tokens_ = 0, max_lm_rows_ = 0;
  int Vld_ = 0;                     // padded logits row stride = the LM head GEMM's N (see the constructor)
  DeviceBuffer lm_head_pad_;        // [Vld_, C]: the LM head with zero rows past V (when padded)
  const void* lm_w_ = nullptr;      // the LM head the step GEMM multiplies: lm_head_pad_ or w_.lm_head
  int lm_n_ = 0;                    // its rows
  DeviceBuffer x_;                  // fp32 residual [T, C]
  DeviceBuffer hidden_, qkv_, q_, k_, v_, attn_, out_, ffn_, gate_up_;
  CudaStepView step_;
};

}  // namespace attnbench
