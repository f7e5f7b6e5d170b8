// defines: random_tensor, SyntheticTensors
// Seeded random weights for machines with no checkpoint (synthetic:<preset>). Element i of tensor t
// depends only on (seed, t, i), so the weights are the same whatever the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/model_weights.h"

namespace attnbench {

// n values of mean + std * N(0, 1): Box-Muller on one counter-based 64-bit draw per pair of elements.
std::vector<float> random_tensor(size_t n, uint64_t seed, uint64_t tensor_id, float mean, float std);

// Hands out tensors in order, numbering them: linear and embedding weights ~ N(0, 0.02), biases
// ~ N(0, 0.02) (not zero, so tests exercise them), norm weights ~ 1 + N(0, 0.02).
// lazy: hand out recipes (Tensor::recipe) instead of values.
class SyntheticTensors {
 public:
  SyntheticTensors(uint64_t seed, bool lazy = false) : seed_(seed), lazy_(lazy) {}
  Tensor linear(size_t n) { return make(n, 0.0f, 0.02f); }
  Tensor norm(size_t n) { return make(n, 1.0f, 0.02f); }

 private:
  Tensor make(size_t n, float mean, float std) {
    Tensor t;
    t.recipe = Tensor::Recipe{seed_, next_++, mean, std, n};
    if (!lazy_) t.materialize();
    return t;
  }
  uint64_t seed_;
  bool lazy_;
  uint64_t next_ = 0;
};

}  // namespace attnbench
