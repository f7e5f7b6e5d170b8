// Shared vocabulary of the engine: element types, model shape, sampling parameters.
#pragma once
#include <cstdint>
#include <string>

namespace attnbench {

enum class DType { F32, F16, BF16 };
inline const char* dtype_name(DType t) { return t == DType::F32 ? "fp32" : t == DType::F16 ? "fp16" : "bf16"; }
inline int dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

enum class Device { CPU, CUDA };

// GPT-2 shape, from config.json or a synthetic preset.
struct ModelConfig {
  std::string name;          // "synthetic:tiny" or the directory given
  int vocab_size = 0;
  int n_ctx = 0;             // n_positions
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_kv_head = 0;         // == n_head for GPT-2; fewer for GQA models to come
  int n_inner = 0;           // MLP width (4 * n_embd when config has null)
  float layer_norm_epsilon = 1e-5f;
  int eos_token_id = 50256;
  int head_dim() const { return n_embd / n_head; }
};

// Per-request sampling, as it arrives in an `add` op.
struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;             // 0 = off
  uint64_t seed = 0;
  bool want_logprobs = false;
  int top_logprobs = 0;      // most likely alternatives reported per token (0 = none)
};

constexpr int kMaxTopLogprobs = 20;  // the largest top_logprobs an `add` may ask for

}  // namespace attnbench
