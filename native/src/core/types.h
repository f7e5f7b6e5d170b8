// Shared vocabulary of the engine: element types, devices, sampling parameters.
#pragma once
#include <cstdint>
#include <string>

namespace attnbench {

enum class DType { F32, F16, BF16 };
inline const char* dtype_name(DType t) { return t == DType::F32 ? "fp32" : t == DType::F16 ? "fp16" : "bf16"; }
inline int dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

enum class Device { CPU, CUDA };

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
