// defines: ForwardOps (the device primitives a model's forward is written against), decoder_forward
// A family describes its forward pass once, as calls on ForwardOps; the CPU runner (fp32, the
// oracle) and the CUDA runner each implement the primitives over their own buffers and weights. The
// forward never touches memory itself: it names activations (Act) and weights (layer, Weight), so
// the same description drives both devices, eager steps and captured CUDA graphs alike.
#pragma once

#include "models/model_config.h"

namespace attnbench {

// Activations a forward moves between primitives (each runner owns one buffer per name, sized for
// its largest step). The fp32 residual stream x is implicit: embed() writes it, add_norm() reads it.
enum class Act { Hidden, Qkv, Attn, Out, Ffn, GateUp };
// The linear layers of a block (models/model_weights.h: LayerWeights).
enum class Weight { Qkv, AttnOut, Up, Down };
// Which norm add_norm() applies: a layer's attention or MLP norm, or the final norm.
enum class NormAt { Attn, Mlp, Final };

class ForwardOps {
 public:
  virtual ~ForwardOps() = default;
  // x = tok_emb[tokens] (+ pos_emb[positions] with learned positions).
  virtual void embed() = 0;
  // x += Out when `add` (the residual add of the sublayer before), then Hidden = norm(x). NormAt::Final
  // normalises only the rows the LM head reads (the sampled rows), into Hidden's first rows.
  virtual void add_norm(bool add, int layer, NormAt which) = 0;
  // dst = src . W^T (+ bias when the layer has one), then the model's activation when `activate`.
  virtual void linear(Act dst, Act src, int layer, Weight w, bool activate) = 0;
  // Qkv -> Attn: q/k norms and rotary embedding where the model has them, this step's K/V appended
  // to the paged cache, then the prefill and decode attention backends.
  virtual void attention(int layer) = 0;
  // dst[:, :F] = act(src[:, :F]) * src[:, F:2F] (a gated MLP, F = ffn_size).
  virtual void gated_act(Act dst, Act src) = 0;
  // Logits of the rows add_norm(NormAt::Final) left in Hidden.
  virtual void lm_head() = 0;
};

// The pre-norm decoder every family here shares (GPT-2, Llama, Mistral, Qwen2, Qwen3):
//   x = embed; h = norm_attn_0(x)
//   per layer: x += attn_out(attention(qkv(h))); h = norm_mlp(x); x += down(mlp(up(h))); h = next norm(x)
//   logits = lm_head(h[sampled rows])
void decoder_forward(const ModelConfig& c, ForwardOps& ops);

}  // namespace attnbench
