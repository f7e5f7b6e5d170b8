// q/k norm + rotary embedding + KV-cache append.
// Head dims 16-256 that are powers of two (every model here; 64 and 128 in practice): the vector
// kernel. A CTA row (blockIdx.x) is one token; P = D / 16 consecutive threads own one q or k head,
// thread c of them the 8-element chunk c of the head's first half and chunk c of its second half,
// i.e. exactly the pairs (i, i + D/2) the rotation mixes, in 16-byte loads and stores. A thread's
// chunk is the same in every head it visits; the token's cos/sin are computed once a CTA into shared
// memory, after the thread has issued all its loads; the q/k RMSNorm sums over the P threads by
// shuffles. V heads are 16-byte copies. Launched with PDL. Other head dims: one warp per (token, head), lane l owns the pairs
// (i, i + D/2) for i = l, l + 32, ..., 2-byte accesses. That was the only kernel until session 6;
// at Llama-3.1-8B shapes ATTNBENCH_SKIP=append took 33 ms off the seed workload's 767 ms prefill
// (H200, session 5), ~0.26 ms a call of 8192 tokens whose ~230 MB of traffic need ~55 us.
#include "kernels/rope_append.cuh"

#include <stdexcept>

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/rope.cuh"

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

constexpr int kVecThreads = 128;
constexpr int kVecItems = 4;  // items a thread: every load is issued before the first transform

// grid (num_tokens, item groups), block kVecThreads; P = D / 16. A token's items are its (H + Hkv) x P
// q/k chunk pairs (P a head: thread c of them holds chunk pair c, the same c in every head it
// visits), then its Hkv x 2P v chunks, which are contiguous in the QKV row. Thread tid of group g
// takes items (g x kVecItems + j) x kVecThreads + tid, j < kVecItems. It loads all of them first,
// then the token's D/2 angles are computed once (D/2 threads, one sincosf each, into shared memory:
// session 6's version computed 8 per thread, 48x over, before its loads), then it transforms and
// stores. At Llama-3.1-8B shapes (448 items a token) one CTA covers a token; session 7's lab
// (native/dev/elementwise.cu) has the numbers.
template <class T, int P>
__global__ void __launch_bounds__(kVecThreads)
    qkv_rope_kv_append_vec_kernel(T* q, T* k, T* v, T* k_cache, T* v_cache, const T* qkv, const int32_t* slot_mapping,
                                  const int32_t* positions, const float* inv_freq, const float* q_norm_w,
                                  const float* k_norm_w, float eps, int H, int Hkv) {
  constexpr int D = 16 * P, HALF = D / 2;
  static_assert(kVecThreads % 32 == 0 && kVecThreads >= HALF, "P | a warp; HALF threads make the angles");
  __shared__ float4 ang_cs[HALF / 4], ang_sn[HALF / 4];
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int t = blockIdx.x, tid = threadIdx.x, c = tid % P;
  const T* src = qkv + (long long)t * (H + 2 * Hkv) * D;
  const int n_qk = (H + Hkv) * P, n_all = n_qk + Hkv * 2 * P;
  const int first = blockIdx.y * kVecItems * kVecThreads + tid;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint4 ra[kVecItems], rb[kVecItems];
#pragma unroll
  for (int j = 0; j < kVecItems; ++j) {
    const int it = first + j * kVecThreads;
    ra[j] = rb[j] = zero;
    if (it < n_qk) {
      const T* row = src + (it / P) * D + c * 8;
      ra[j] = *reinterpret_cast<const uint4*>(row);
      rb[j] = *reinterpret_cast<const uint4*>(row + HALF);
    } else if (it < n_all) {
      ra[j] = *reinterpret_cast<const uint4*>(src + (H + Hkv) * D + (it - n_qk) * 8);
    }
  }
  const int slot = slot_mapping[t];
  if (tid < HALF) {
    float sn, cs;
    sincosf((float)positions[t] * inv_freq[tid], &sn, &cs);
    reinterpret_cast<float*>(ang_cs)[tid] = cs;
    reinterpret_cast<float*>(ang_sn)[tid] = sn;
  }
  __syncthreads();
  float cs[8], sn[8];
  *reinterpret_cast<float4*>(cs) = ang_cs[2 * c], *reinterpret_cast<float4*>(cs + 4) = ang_cs[2 * c + 1];
  *reinterpret_cast<float4*>(sn) = ang_sn[2 * c], *reinterpret_cast<float4*>(sn + 4) = ang_sn[2 * c + 1];
  const bool norm = q_norm_w != nullptr;  // q and k norms come together (Qwen3) or not at all
#pragma unroll
  for (int j = 0; j < kVecItems; ++j) {
    const int it = first + j * kVecThreads;
    const bool is_qk = it < n_qk;
    const int h = it / P;
    // With the q/k norm every lane transforms (zeros where it holds no q/k chunk pair): the norm's
    // shuffles need all 32 lanes, and a warp may hold q/k and v items at once.
    if (is_qk || norm) {
      uint4 w0, w1;
      qk_transform_words<T, D>(ra[j], rb[j], c, cs, sn, norm ? (h < H ? q_norm_w : k_norm_w) : nullptr, eps, 0xffffffffu,
                               w0, w1);
      if (is_qk) {
        T* dst = h < H ? q + ((long long)t * H + h) * D : k + ((long long)t * Hkv + (h - H)) * D;
        *reinterpret_cast<uint4*>(dst + c * 8) = w0;
        *reinterpret_cast<uint4*>(dst + HALF + c * 8) = w1;
        if (h >= H && slot >= 0) {
          T* cache = k_cache + ((long long)slot * Hkv + (h - H)) * D;
          *reinterpret_cast<uint4*>(cache + c * 8) = w0;
          *reinterpret_cast<uint4*>(cache + HALF + c * 8) = w1;
        }
      }
    }
    if (!is_qk && it < n_all) {
      const int e = (it - n_qk) * 8;  // element offset in the token's v heads
      *reinterpret_cast<uint4*>(v + (long long)t * Hkv * D + e) = ra[j];
      if (slot >= 0) *reinterpret_cast<uint4*>(v_cache + (long long)slot * Hkv * D + e) = ra[j];
    }
  }
}

template <class T>
bool launch_vec(T* q, T* k, T* v, T* k_cache, T* v_cache, const T* qkv, const int32_t* slot_mapping,
                const int32_t* positions, const float* inv_freq, const float* q_norm_w, const float* k_norm_w,
                float eps, int num_tokens, int H, int Hkv, int D, cudaStream_t stream) {
  auto aligned = [](const void* p) { return ((uintptr_t)p & 15) == 0; };
  if (!aligned(q) || !aligned(k) || !aligned(v) || !aligned(k_cache) || !aligned(v_cache) || !aligned(qkv)) return false;
  if ((q_norm_w == nullptr) != (k_norm_w == nullptr)) return false;
  const int P = D / 16;
  const int items = (H + Hkv) * P + Hkv * 2 * P;
  const dim3 grid(num_tokens, (unsigned)ceil_div(items, kVecItems * kVecThreads));
#define ATTNBENCH_ROPE_VEC(PP)                                                                                      \
  launch_pdl(qkv_rope_kv_append_vec_kernel<T, PP>, grid, dim3(kVecThreads), 0, stream, q, k, v, k_cache, v_cache, qkv, \
             slot_mapping, positions, inv_freq, q_norm_w, k_norm_w, eps, H, Hkv)
  switch (D) {
    case 16: ATTNBENCH_ROPE_VEC(1); return true;
    case 32: ATTNBENCH_ROPE_VEC(2); return true;
    case 64: ATTNBENCH_ROPE_VEC(4); return true;
    case 128: ATTNBENCH_ROPE_VEC(8); return true;
    case 256: ATTNBENCH_ROPE_VEC(16); return true;
    default: return false;
  }
#undef ATTNBENCH_ROPE_VEC
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
    if (!launch_vec<T>((T*)q, (T*)k, (T*)v, (T*)k_cache, (T*)v_cache, (const T*)qkv, slot_mapping, positions, inv_freq,
                       q_norm_w, k_norm_w, norm_eps, num_tokens, H, Hkv, D, stream))
      qkv_rope_kv_append_kernel<T><<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(
          (T*)q, (T*)k, (T*)v, (T*)k_cache, (T*)v_cache, (const T*)qkv, slot_mapping, positions, inv_freq, q_norm_w,
          k_norm_w, norm_eps, num_tokens, H, Hkv, D);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
