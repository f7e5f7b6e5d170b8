// Counter-based random numbers for sampling: the draw for (seed, step) never depends on batch
// composition or on which device runs it, so the same seed gives the same tokens.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define ATTNBENCH_HD __host__ __device__ __forceinline__
#else
#define ATTNBENCH_HD inline
#endif

namespace attnbench {

ATTNBENCH_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 24 bits, for output token number `step` of a request seeded with `seed`.
ATTNBENCH_HD float sample_uniform(uint64_t seed, uint32_t step) {
  uint64_t r = splitmix64(seed ^ splitmix64(0xA77Bu + (uint64_t)step));
  return (float)(r >> 40) * (1.0f / 16777216.0f);
}

}  // namespace attnbench
