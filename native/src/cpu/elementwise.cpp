#include "cpu/elementwise.h"

#include <cmath>

#include "cpu/thread_pool.h"

namespace attnbench {

void layernorm(const float* x, int rows, int n, const float* w, const float* b, float eps, float* y) {
  cpu_pool().parallel_for((rows + 15) / 16, [&](int task) {
    for (int r = task * 16; r < rows && r < task * 16 + 16; ++r) {
      const float* xr = x + (size_t)r * n;
      float* yr = y + (size_t)r * n;
      double sum = 0.0, sq = 0.0;
      for (int i = 0; i < n; ++i) sum += xr[i];
      const double mean = sum / n;
      for (int i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
      const float inv_std = (float)(1.0 / std::sqrt(sq / n + (double)eps));
      const float meanf = (float)mean;
      for (int i = 0; i < n; ++i) yr[i] = (xr[i] - meanf) * inv_std * w[i] + b[i];
    }
  });
}

void gelu_new_inplace(float* x, long count) {
  constexpr long kChunk = 1 << 14;
  const float k = std::sqrt(2.0f / (float)M_PI);
  cpu_pool().parallel_for((int)((count + kChunk - 1) / kChunk), [&](int task) {
    const long end = std::min(count, (task + 1) * kChunk);
    for (long i = task * kChunk; i < end; ++i) {
      const float v = x[i];
      x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
  });
}

void add_inplace(float* y, const float* x, long count) {
  for (long i = 0; i < count; ++i) y[i] += x[i];
}

float softmax_inplace(float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = (float)(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv;
  return mx + (float)std::log(sum);
}

float logsumexp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp((double)x[i] - mx);
  return mx + (float)std::log(sum);
}

}  // namespace attnbench
