#include "models/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "cpu/thread_pool.h"

namespace attnbench {

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

void Tensor::materialize() {
  if (!recipe) return;
  const Recipe r = *recipe;
  recipe.reset();
  static_cast<std::vector<float>&>(*this) = random_tensor(r.n, r.seed, r.id, r.mean, r.std);
}

std::vector<Tensor*> ModelWeights::tensors() {
  std::vector<Tensor*> t = {&tok_emb, &pos_emb, &lm_head, &final_norm.w, &final_norm.b};
  for (auto& L : layers)
    for (Tensor* x : {&L.attn_norm.w, &L.attn_norm.b, &L.qkv.w, &L.qkv.b, &L.q_norm.w, &L.q_norm.b, &L.k_norm.w,
                      &L.k_norm.b, &L.attn_out.w, &L.attn_out.b, &L.mlp_norm.w, &L.mlp_norm.b, &L.up.w, &L.up.b,
                      &L.down.w, &L.down.b})
      t.push_back(x);
  return t;
}

void ModelWeights::materialize() {
  for (Tensor* t : tensors()) t->materialize();
}

bool ModelWeights::materialized() const {
  for (Tensor* t : const_cast<ModelWeights*>(this)->tensors())
    if (t->recipe) return false;
  return true;
}

}  // namespace attnbench
