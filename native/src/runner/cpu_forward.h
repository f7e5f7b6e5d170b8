// defines: CpuForward (models/forward.h's primitives in fp32 on the host), LayerKv
// The CPU runner's half that does the math: packed weights, activation buffers, attention backends.
// The runner binds a step (bind()), then runs the model's forward over these primitives.
#pragma once
#include <memory>
#include <vector>

#include "attn/backend.h"
#include "cpu/matmul.h"
#include "models/forward.h"
#include "models/model_weights.h"

namespace attnbench {

struct LayerKv {
  std::vector<float> k, v;  // [num_blocks, block_size, num_kv_heads, head_dim] each
};

class CpuForward final : public ForwardOps {
 public:
  // Reads `w` in place (it must outlive this); packs the linear weights once.
  CpuForward(const ModelWeights& w, const AttnDims& dims, const std::string& prefill_backend,
             const std::string& decode_backend);

  // The step the next forward runs: its batch and metadata, the cache it appends to, and the token
  // rows whose logits the LM head computes.
  void bind(const StepBatch& b, const AttnMetadata& md, std::vector<LayerKv>& kv, int num_blocks,
            const std::vector<int>& lm_rows);
  const std::vector<float>& logits() const { return logits_; }  // [lm_rows, vocab]

  void embed() override;
  void add_norm(bool add, int layer, NormAt which) override;
  void linear(Act dst, Act src, int layer, Weight w, bool activate) override;
  void attention(int layer) override;
  void gated_act(Act dst, Act src) override;
  void lm_head() override;

 private:
  struct PackedLayer {
    PackedMatrix qkv, attn_out, up, down;
  };
  std::vector<float>& buf(Act a);
  const LinearWeights& linear_weights(int layer, Weight w) const;
  void norm(const NormWeights& nw, const float* x, int rows, int n, float* y) const;

  const ModelWeights& w_;
  const ModelConfig& c_;
  AttnDims dims_;
  std::unique_ptr<PrefillAttn> prefill_;
  std::unique_ptr<DecodeAttn> decode_;
  std::vector<PackedLayer> packed_;
  std::vector<float> inv_freq_;  // rotary embedding, when the model has it
  // The bound step.
  const StepBatch* b_ = nullptr;
  AttnMetadata md_;
  std::vector<LayerKv>* kv_ = nullptr;
  int num_blocks_ = 0;
  std::vector<int> lm_rows_;
  // Activations: x the fp32 residual stream, then one buffer per Act.
  std::vector<float> x_, hidden_, qkv_, q_, knew_, vnew_, attn_, out_, ffn_, gate_up_, logits_;
};

}  // namespace attnbench
