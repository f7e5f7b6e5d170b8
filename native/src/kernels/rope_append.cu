// q/k norm + rotary embedding + KV-cache append, one warp per (token, head). Lane l owns the pairs
// (i, i + D/2) for i = l, l + 32, ... < D/2, so the rotation needs no exchange between lanes; the
// per-head RMSNorm sums over the warp first. Reads and writes are 2-byte but coalesced across the warp.
#include "kernels/rope_append.cuh"

#include <stdexcept>

#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxPairsPerLane = 4;  // D <= 256

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__global__ void qkv_rope_kv_append_kernel(T* q, T* k, T* v, T* k_cache, T* v_cache, const T* qkv,
                                          const int32_t* slot_mapping, const int32_t* positions,
                                          const float* inv_freq, const float* q_norm_w, const float* k_norm_w,
                                          float eps, int num_tokens, int H, int Hkv, int D) {
  const int heads = H + 2 * Hkv;
  const long long item = (long long)blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (item >= (long long)num_tokens * heads) return;
  const int lane = threadIdx.x % 32;
  const int t = (int)(item / heads), h = (int)(item % heads);
  const int half = D / 2;
  const T* src = qkv + (long long)t * heads * D + (long long)h * D;
  const int slot = slot_mapping[t];
  if (h >= H + Hkv) {  // v: a plain copy
    const int hv = h - H - Hkv;
    T* dst = v + ((long long)t * Hkv + hv) * D;
    T* cache = slot >= 0 ? v_cache + ((long long)slot * Hkv + hv) * D : nullptr;
    for (int i = lane; i < D; i += 32) {
      dst[i] = src[i];
      if (cache) cache[i] = src[i];
    }
    return;
  }
  const bool is_q = h < H;
  float a[kMaxPairsPerLane], b[kMaxPairsPerLane];
  float sq = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxPairsPerLane; ++j) {
    const int i = lane + 32 * j;
    a[j] = b[j] = 0.f;
    if (i < half) {
      a[j] = to_f32(src[i]);
      b[j] = to_f32(src[i + half]);
      sq += a[j] * a[j] + b[j] * b[j];
    }
  }
  const float* norm_w = is_q ? q_norm_w : k_norm_w;
  float rstd = 1.f;
  if (norm_w) rstd = rsqrtf(warp_sum(sq) / D + eps);
  const float pos = (float)positions[t];
  T* dst = is_q ? q + ((long long)t * H + h) * D : k + ((long long)t * Hkv + (h - H)) * D;
  T* cache = !is_q && slot >= 0 ? k_cache + ((long long)slot * Hkv + (h - H)) * D : nullptr;
#pragma unroll
  for (int j = 0; j < kMaxPairsPerLane; ++j) {
    const int i = lane + 32 * j;
    if (i >= half) break;
    float x0 = a[j], x1 = b[j];
    if (norm_w) {
      x0 = norm_w[i] * (x0 * rstd);
      x1 = norm_w[i + half] * (x1 * rstd);
    }
    float s, c;
    sincosf(pos * inv_freq[i], &s, &c);
    const T y0 = from_f32<T>(x0 * c - x1 * s), y1 = from_f32<T>(x1 * c + x0 * s);
    dst[i] = y0;
    dst[i + half] = y1;
    if (cache) {
      cache[i] = y0;
      cache[i + half] = y1;
    }
  }
}

}  // namespace

void qkv_rope_kv_append(void* q, void* k, void* v, void* k_cache, void* v_cache, const void* qkv,
                        const int32_t* slot_mapping, const int32_t* positions, const float* inv_freq,
                        const float* q_norm_w, const float* k_norm_w, float norm_eps, int num_tokens, int H, int Hkv,
                        int D, DType dtype, cudaStream_t stream) {
  if (num_tokens == 0) return;
  if (D % 2 != 0 || D > 2 * 32 * kMaxPairsPerLane) throw std::runtime_error("qkv_rope_kv_append: even head_dim <= 256");
  const long long items = (long long)num_tokens * (H + 2 * Hkv);
  const int blocks = (int)((items + kWarpsPerBlock - 1) / kWarpsPerBlock);
  DISPATCH_DTYPE(dtype, T, {
    qkv_rope_kv_append_kernel<T><<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(
        (T*)q, (T*)k, (T*)v, (T*)k_cache, (T*)v_cache, (const T*)qkv, slot_mapping, positions, inv_freq, q_norm_w,
        k_norm_w, norm_eps, num_tokens, H, Hkv, D);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
