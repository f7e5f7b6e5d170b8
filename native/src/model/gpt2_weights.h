// GPT-2 weights on the host in fp32, in Hugging Face's layout (Conv1D weights are [in, out]).
// Loaded from safetensors (fp32/fp16/bf16 in the file) or made from a seeded synthetic preset.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace attnbench {

struct Gpt2Layer {
  std::vector<float> ln_1_w, ln_1_b;        // [n_embd]
  std::vector<float> attn_c_attn_w;         // [n_embd, 3 * n_embd]   (q | k | v along out)
  std::vector<float> attn_c_attn_b;         // [3 * n_embd]
  std::vector<float> attn_c_proj_w;         // [n_embd, n_embd]
  std::vector<float> attn_c_proj_b;         // [n_embd]
  std::vector<float> ln_2_w, ln_2_b;        // [n_embd]
  std::vector<float> mlp_c_fc_w;            // [n_embd, n_inner]
  std::vector<float> mlp_c_fc_b;            // [n_inner]
  std::vector<float> mlp_c_proj_w;          // [n_inner, n_embd]
  std::vector<float> mlp_c_proj_b;          // [n_embd]
};

struct Gpt2Weights {
  ModelConfig config;
  std::vector<float> wte;                   // [vocab_size, n_embd]
  std::vector<float> wpe;                   // [n_ctx, n_embd]
  std::vector<Gpt2Layer> layers;
  std::vector<float> ln_f_w, ln_f_b;        // [n_embd]
  std::vector<float> lm_head;               // [vocab_size, n_embd]; empty when tied to wte
  const std::vector<float>& lm_head_weight() const { return lm_head.empty() ? wte : lm_head; }
};

// model/gpt2_loader.cpp. Throws std::runtime_error naming the file/field at fault.
Gpt2Weights load_gpt2(const std::string& model_spec, uint64_t seed);  // DIR or synthetic:NAME

}  // namespace attnbench
