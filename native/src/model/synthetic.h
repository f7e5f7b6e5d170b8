// Seeded random GPT-2 weights of a named shape, for machines with no checkpoint.
//   tiny:        vocab 1024, n_ctx 256,  n_embd 64,   n_layer 2,  n_head 4   (eos 1023)
//   gpt2:        vocab 50257, n_ctx 1024, n_embd 768,  n_layer 12, n_head 12
//   gpt2-medium: 1024 / 24 / 16;  gpt2-large: 1280 / 36 / 20;  gpt2-xl: 1600 / 48 / 25
// Linear and embedding weights ~ N(0, 0.02); biases ~ N(0, 0.02) (not zero, so tests exercise them);
// layer-norm weights ~ 1 + N(0, 0.02). The value of element i of tensor t depends only on
// (seed, t, i), so the weights are the same whatever the thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt2_weights.h"

namespace attnbench {

std::vector<std::string> synthetic_preset_names();
// Throws naming the known presets when `preset` is unknown.
ModelConfig synthetic_config(const std::string& preset);
Gpt2Weights make_synthetic_gpt2(const std::string& preset, uint64_t seed);

}  // namespace attnbench
