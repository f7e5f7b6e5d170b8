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

void rmsnorm(const float* x, int rows, int n, const float* w, float eps, float* y) {
  cpu_pool().parallel_for((rows + 15) / 16, [&](int task) {
    for (int r = task * 16; r < rows && r < task * 16 + 16; ++r) {
      const float* xr = x + (size_t)r * n;
      float* yr = y + (size_t)r * n;
      double sq = 0.0;
      for (int i = 0; i < n; ++i) sq += (double)xr[i] * xr[i];
      const float inv_rms = (float)(1.0 / std::sqrt(sq / n + (double)eps));
      for (int i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * inv_rms);
    }
  });
}

void silu_mul(const float* x, int rows, int F, float* y) {
  cpu_pool().parallel_for(rows, [&](int r) {
    const float* g = x + (size_t)r * 2 * F;
    const float* u = g + F;
    float* yr = y + (size_t)r * F;
    for (int i = 0; i < F; ++i) yr[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void rope_inplace(float* x, int rows, int stride, int heads, int head_dim, const int32_t* positions,
                  const std::vector<float>& inv_freq) {
  const int half = head_dim / 2;
  cpu_pool().parallel_for(rows, [&](int r) {
    float* row = x + (size_t)r * stride;
    for (int i = 0; i < half; ++i) {
      const float angle = (float)positions[r] * inv_freq[i];
      const float c = (float)std::cos((double)angle), s = (float)std::sin((double)angle);
      for (int h = 0; h < heads; ++h) {
        float* v = row + (size_t)h * head_dim;
        const float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
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
