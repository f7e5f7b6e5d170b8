// 4-lane float vectors through GCC/Clang vector extensions: SSE on x86-64, NEON on arm64, with no
// intrinsics and no -march beyond the baseline.
#pragma once
#include <cstring>

namespace attnbench {

typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof(v)); }
inline v4f splat4(float a) { return v4f{a, a, a, a}; }
inline float hsum4(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// Dot product with a fixed summation order (4 vectors x 4 lanes, then a fixed tree), so the result
// depends only on the two inputs.
inline float dot(const float* a, const float* b, int n) {
  v4f s0 = splat4(0), s1 = s0, s2 = s0, s3 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 += load4(a + i) * load4(b + i);
    s1 += load4(a + i + 4) * load4(b + i + 4);
    s2 += load4(a + i + 8) * load4(b + i + 8);
    s3 += load4(a + i + 12) * load4(b + i + 12);
  }
  for (; i + 4 <= n; i += 4) s0 += load4(a + i) * load4(b + i);
  float s = hsum4((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y[0..n) += a * x[0..n)
inline void axpy(float a, const float* x, float* y, int n) {
  v4f av = splat4(a);
  int i = 0;
  for (; i + 4 <= n; i += 4) store4(y + i, load4(y + i) + av * load4(x + i));
  for (; i < n; ++i) y[i] += a * x[i];
}

// y[0..n) *= a
inline void scale_inplace(float a, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace attnbench
