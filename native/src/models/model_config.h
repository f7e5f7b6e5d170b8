// defines: ModelConfig (family-neutral shape and math options), NormKind, Activation, PositionKind, RopeConfig
// What a runner needs to know about a decoder-only transformer, whatever family it comes from: each
// family file (models/<family>.cpp) fills one from the checkpoint's config.json or a synthetic preset.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace attnbench {

enum class NormKind { LayerNorm, RMSNorm };         // LayerNorm: (x - mean) / std * w + b; RMSNorm: x / rms * w
enum class Activation { GeluTanh, Silu };           // GPT-2's gelu_new; Llama's SiLU
enum class PositionKind { Learned, Rope };          // a learned [n_ctx, hidden] table added to the input; rotary

// Rotary embedding as HF writes it (rope_theta + rope_scaling, or newer transformers' rope_parameters).
struct RopeConfig {
  float theta = 10000.0f;
  std::string type = "default";        // "default" or "llama3"
  // llama3 frequency scaling (Llama 3.1+): wavelengths past original_max_position / low_freq_factor
  // are stretched by `factor`, those under original_max_position / high_freq_factor kept, smoothed between.
  float factor = 1.0f, low_freq_factor = 1.0f, high_freq_factor = 4.0f;
  int original_max_position = 8192;
};

struct ModelConfig {
  std::string family;        // the registry's family name: "gpt2", "llama", "qwen2", "qwen3"
  std::string name;          // "synthetic:tiny" or the directory given
  int vocab_size = 0;
  int max_context = 0;       // positions the model takes (n_positions / max_position_embeddings)
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;      // == num_heads without GQA
  int head_dim = 0;          // hidden_size / num_heads unless the config says otherwise (Qwen3)
  int ffn_size = 0;          // MLP inner width (intermediate_size, n_inner)
  NormKind norm = NormKind::LayerNorm;
  float norm_eps = 1e-5f;
  Activation activation = Activation::GeluTanh;
  bool gated_mlp = false;    // down(act(gate(x)) * up(x)) instead of down(act(up(x)))
  PositionKind positions = PositionKind::Learned;
  RopeConfig rope;
  bool qkv_bias = false;     // biases of the Q, K, V projections
  bool attn_out_bias = false;
  bool mlp_bias = false;     // biases of the MLP's projections
  bool qk_norm = false;      // per-head RMSNorm of q and k before RoPE (Qwen3)
  bool tied_embeddings = true;
  DType file_dtype = DType::F32;  // what the checkpoint stores (weights are converted on load)
  std::vector<int32_t> eos_token_ids;  // empty: no EOS in this vocabulary

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
  int qkv_dim() const { return q_dim() + 2 * kv_dim(); }
  // Columns of the first MLP projection: gate | up when gated.
  int up_dim() const { return gated_mlp ? 2 * ffn_size : ffn_size; }
  int eos_token_id() const { return eos_token_ids.empty() ? -1 : eos_token_ids[0]; }
};

// Checks the shape is one the runners can run; throws std::runtime_error naming `where` and the field.
void validate_config(const ModelConfig& c, const std::string& where);

}  // namespace attnbench
