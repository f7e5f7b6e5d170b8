// defines: ModelWeights, LayerWeights, LinearWeights, NormWeights
// A decoder-only transformer's weights on the host in fp32, in one family-neutral layout that every
// runner reads: each family's loader maps its checkpoint's tensor names (and layouts) onto this.
//   linear weights [out, in] row-major (nn.Linear's layout); GPT-2's Conv1D [in, out] is transposed
//   on load; Q, K, V are one [q_dim + 2 kv_dim, hidden] matrix (q | k | v along out); a gated MLP's
//   gate and up are one [2 ffn, hidden] matrix (gate | up along out).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "models/model_config.h"

namespace attnbench {

// fp32 host values, or -- for synthetic models -- the recipe of seeded random values, which a runner
// expands where it needs them: the CPU runner on the host (ModelWeights::materialize), the CUDA runner
// on the device (kernels/synthetic_fill.cu), so an 8B model's 32 GB of fp32 never exist on the host.
// Either way element i is mean + std * N(0, 1) drawn from (seed, id, i) (models/synthetic.h).
struct Tensor : std::vector<float> {
  struct Recipe {
    uint64_t seed = 0, id = 0;
    float mean = 0.0f, std = 0.0f;
    size_t n = 0;
  };
  std::optional<Recipe> recipe;  // set: the values are not made yet (the vector is empty)

  Tensor() = default;
  Tensor(std::vector<float> v) : std::vector<float>(std::move(v)) {}
  size_t numel() const { return recipe ? recipe->n : size(); }
  bool present() const { return numel() != 0; }
  void materialize();  // models/synthetic.cpp
};

struct LinearWeights {
  int out = 0, in = 0;
  Tensor w;  // [out, in]
  Tensor b;  // [out], or empty: no bias
};

struct NormWeights {
  Tensor w;  // [n]
  Tensor b;  // [n] (LayerNorm with bias), or empty
};

struct LayerWeights {
  NormWeights attn_norm;   // before attention (GPT-2 ln_1, Llama input_layernorm)
  LinearWeights qkv;       // [qkv_dim, hidden]
  NormWeights q_norm, k_norm;  // [head_dim], only with qk_norm
  LinearWeights attn_out;  // [hidden, q_dim]
  NormWeights mlp_norm;    // before the MLP (ln_2, post_attention_layernorm)
  LinearWeights up;        // [up_dim, hidden]: fc, or gate | up
  LinearWeights down;      // [hidden, ffn]
};

struct ModelWeights {
  ModelConfig config;
  Tensor tok_emb;   // [vocab, hidden]
  Tensor pos_emb;   // [max_context, hidden] (learned positions), or empty
  std::vector<LayerWeights> layers;
  NormWeights final_norm;
  Tensor lm_head;   // [vocab, hidden]; empty when tied to tok_emb
  const Tensor& lm_head_weight() const { return lm_head.present() ? lm_head : tok_emb; }
  // Every tensor, for code that treats them alike (materialize, upload checks).
  std::vector<Tensor*> tensors();
  // Expands every recipe on the host (the CPU runner reads values).
  void materialize();
  bool materialized() const;
  // Frees the tensors (keeps the config): a CUDA runner holds its own copy on the device.
  void release_tensors() {
    ModelConfig c = config;
    *this = ModelWeights{};
    config = c;
  }
};

}  // namespace attnbench
