// Helpers for the GPU tests: seeded random inputs, 16-bit rounding on the host, device copies,
// relative L2 error, OK / NOT OK lines. Every check draws fresh random inputs (never zeros).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/types.h"
#include "core/cuda_check.h"

namespace attnbench::test {

inline int g_failures = 0;

inline void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "OK    " : "NOT OK", what.c_str());
  if (!ok) ++g_failures;
}

inline std::vector<float> randn(size_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// 16-bit storage of host floats (bits), and the rounded floats a kernel will see.
inline std::vector<uint16_t> to_bits(const std::vector<float>& v, DType t) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::F16) { __half h = __float2half_rn(v[i]); out[i] = *reinterpret_cast<uint16_t*>(&h); }
    else { __nv_bfloat16 h = __float2bfloat16_rn(v[i]); out[i] = *reinterpret_cast<uint16_t*>(&h); }
  }
  return out;
}
inline std::vector<float> from_bits(const std::vector<uint16_t>& v, DType t) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::F16) { __half h; *reinterpret_cast<uint16_t*>(&h) = v[i]; out[i] = __half2float(h); }
    else { __nv_bfloat16 h; *reinterpret_cast<uint16_t*>(&h) = v[i]; out[i] = __bfloat162float(h); }
  }
  return out;
}
inline std::vector<float> round16(const std::vector<float>& v, DType t) { return from_bits(to_bits(v, t), t); }

template <class T> T* to_device(const std::vector<T>& v) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, std::max<size_t>(1, v.size()) * sizeof(T)));
  if (!v.empty()) CUDA_CHECK(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <class T> std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> v(n);
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}
// Device buffer of n 16-bit values poisoned with NaN, so unwritten outputs fail.
inline uint16_t* poisoned16(size_t n) {
  return to_device(std::vector<uint16_t>(n, 0xFFFF));
}

// ||out - ref|| / ||ref||; NaN in out gives infinity.
inline double rel_l2(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    num += (double)(out[i] - ref[i]) * (out[i] - ref[i]);
    den += (double)ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

inline std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

}  // namespace attnbench::test
