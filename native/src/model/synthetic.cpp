#include "model/synthetic.h"

#include <cmath>
#include <stdexcept>

#include "core/rng.h"
#include "cpu/thread_pool.h"

namespace attnbench {

namespace {

struct Preset {
  const char* name;
  int vocab, n_ctx, n_embd, n_layer, n_head, eos;
};
const Preset kPresets[] = {
    {"tiny", 1024, 256, 64, 2, 4, 1023},
    {"gpt2", 50257, 1024, 768, 12, 12, 50256},
    {"gpt2-medium", 50257, 1024, 1024, 24, 16, 50256},
    {"gpt2-large", 50257, 1024, 1280, 36, 20, 50256},
    {"gpt2-xl", 50257, 1024, 1600, 48, 25, 50256},
};

// Fills `n` values with mean + std * N(0,1): Box-Muller on one counter-based 64-bit draw per pair of
// elements (both the cosine and the sine output are used).
std::vector<float> random_tensor(size_t n, uint64_t seed, uint64_t tensor_id, float mean, float std) {
  std::vector<float> out(n);
  const uint64_t base = splitmix64(seed ^ splitmix64(tensor_id * 0x9E3779B97F4A7C15ull + 1));
  constexpr size_t kChunk = 1 << 16;  // even, so pairs never straddle two tasks
  cpu_pool().parallel_for((int)((n + kChunk - 1) / kChunk), [&](int task) {
    const size_t end = std::min(n, (task + 1) * kChunk);
    for (size_t i = task * kChunk; i < end; i += 2) {
      const uint64_t r = splitmix64(base + i / 2);
      const float u1 = (float)(((r >> 40) + 1) * (1.0 / 16777216.0));  // (0, 1]
      const float u2 = (float)((r & 0xFFFFFF) * (1.0 / 16777216.0));   // [0, 1)
      const float radius = std::sqrt(-2.0f * std::log(u1));
      const float angle = 6.28318530717958647692f * u2;
      out[i] = mean + std * radius * std::cos(angle);
      if (i + 1 < end) out[i + 1] = mean + std * radius * std::sin(angle);
    }
  });
  return out;
}

}  // namespace

std::vector<std::string> synthetic_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.push_back(p.name);
  return names;
}

ModelConfig synthetic_config(const std::string& preset) {
  for (const auto& p : kPresets) {
    if (preset != p.name) continue;
    ModelConfig c;
    c.name = "synthetic:" + preset;
    c.vocab_size = p.vocab;
    c.n_ctx = p.n_ctx;
    c.n_embd = p.n_embd;
    c.n_layer = p.n_layer;
    c.n_head = p.n_head;
    c.n_kv_head = p.n_head;
    c.n_inner = 4 * p.n_embd;
    c.layer_norm_epsilon = 1e-5f;
    c.eos_token_id = p.eos;
    return c;
  }
  std::string known;
  for (const auto& p : kPresets) known += std::string(known.empty() ? "" : ", ") + p.name;
  throw std::runtime_error("unknown synthetic preset \"" + preset + "\" (known: " + known + ")");
}

Gpt2Weights make_synthetic_gpt2(const std::string& preset, uint64_t seed) {
  Gpt2Weights w;
  w.config = synthetic_config(preset);
  const ModelConfig& c = w.config;
  const size_t E = c.n_embd, I = c.n_inner;
  uint64_t id = 0;
  auto lin = [&](size_t n) { return random_tensor(n, seed, id++, 0.0f, 0.02f); };
  auto norm_w = [&](size_t n) { return random_tensor(n, seed, id++, 1.0f, 0.02f); };
  w.wte = lin((size_t)c.vocab_size * E);
  w.wpe = lin((size_t)c.n_ctx * E);
  w.layers.resize(c.n_layer);
  for (auto& L : w.layers) {
    L.ln_1_w = norm_w(E);
    L.ln_1_b = lin(E);
    L.attn_c_attn_w = lin(E * 3 * E);
    L.attn_c_attn_b = lin(3 * E);
    L.attn_c_proj_w = lin(E * E);
    L.attn_c_proj_b = lin(E);
    L.ln_2_w = norm_w(E);
    L.ln_2_b = lin(E);
    L.mlp_c_fc_w = lin(E * I);
    L.mlp_c_fc_b = lin(I);
    L.mlp_c_proj_w = lin(I * E);
    L.mlp_c_proj_b = lin(E);
  }
  w.ln_f_w = norm_w(E);
  w.ln_f_b = lin(E);
  return w;  // lm_head tied to wte
}

}  // namespace attnbench
