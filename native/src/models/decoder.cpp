#include "models/forward.h"

namespace attnbench {

void decoder_forward(const ModelConfig& c, ForwardOps& ops) {
  ops.embed();
  ops.add_norm(false, 0, NormAt::Attn);
  for (int l = 0; l < c.num_layers; ++l) {
    ops.linear(Act::Qkv, Act::Hidden, l, Weight::Qkv, false);
    ops.attention(l);
    ops.linear(Act::Out, Act::Attn, l, Weight::AttnOut, false);
    ops.add_norm(true, l, NormAt::Mlp);
    if (c.gated_mlp) {
      ops.linear(Act::GateUp, Act::Hidden, l, Weight::Up, false);
      ops.gated_act(Act::Ffn, Act::GateUp);
    } else {
      ops.linear(Act::Ffn, Act::Hidden, l, Weight::Up, true);
    }
    ops.linear(Act::Out, Act::Ffn, l, Weight::Down, false);
    // The MLP's residual add, then the next norm: the next layer's, or the final one (sampled rows).
    const bool last = l + 1 == c.num_layers;
    ops.add_norm(true, last ? l : l + 1, last ? NormAt::Final : NormAt::Attn);
  }
  ops.lm_head();
}

}  // namespace attnbench
