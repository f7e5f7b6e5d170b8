// GPU sampling, one block of 1024 threads per row. Greedy (the hot path) is one max/argmax pass and
// one sum-exp pass. Top-k and top-p find their logit threshold by a 32-step bisection on the
// order-preserving integer image of the float logits (exact, no sort): each step is one block-wide
// count or mass reduction. Speed matters less than being exactly the documented rule.
#include "kernels/sampling.cuh"

#include <cfloat>

#include "core/rng.h"
#include "cuda/cuda_check.h"

namespace attnbench {

namespace {

constexpr int kThreads = 1024;

// Larger float -> larger key (for finite floats and infinities).
__device__ __forceinline__ uint32_t order_key(float f) {
  uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Block-wide reductions through a 32-slot shared scratch; every thread gets the result.
__device__ float block_sum(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x / 32) ? scratch[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Max value with the lowest index among equal maxima.
__device__ void block_argmax(float& v, int& idx, float* sv, int* si) {
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, v, o);
    int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
  }
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) { sv[warp] = v; si[warp] = idx; }
  __syncthreads();
  v = lane < (int)(blockDim.x / 32) ? sv[lane] : -FLT_MAX;
  idx = lane < (int)(blockDim.x / 32) ? si[lane] : 0x7fffffff;
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, v, o);
    int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
  }
}

}  // namespace

__global__ void __launch_bounds__(kThreads) sample_kernel(int32_t* token_out, float* logprob_out, const float* logits,
                                                          int vocab, SampleParamsDev p) {
  __shared__ float s_f[32];
  __shared__ int s_i[32];
  __shared__ float s_chunk_mass[kThreads];
  __shared__ int s_token;
  const int row = blockIdx.x, tid = threadIdx.x;
  const float* l = logits + (long long)row * vocab;

  float mx = -FLT_MAX;
  int amax = 0x7fffffff;
  for (int i = tid; i < vocab; i += kThreads) {
    float v = l[i];
    if (v > mx) { mx = v; amax = i; }  // strided ascending: first max per thread is its lowest index
  }
  block_argmax(mx, amax, s_f, s_i);
  float se = 0.f;
  for (int i = tid; i < vocab; i += kThreads) se += __expf(l[i] - mx);
  const float lse = mx + logf(block_sum(se, s_f));

  const float temp = p.temperature[row];
  int token = amax;
  if (temp > 0.f) {
    const float inv_t = 1.f / temp;
    const int top_k = p.top_k[row];
    const float top_p = p.top_p[row];
    // Threshold key: keep logits whose key >= thr. Start with everything.
    uint32_t thr = 0;
    if (top_k > 0 && top_k < vocab) {  // largest thr with count(key >= thr) >= top_k
      uint32_t t = 0;
      for (int bit = 31; bit >= 0; --bit) {
        uint32_t cand = t | (1u << bit);
        float cnt = 0.f;
        for (int i = tid; i < vocab; i += kThreads) cnt += order_key(l[i]) >= cand ? 1.f : 0.f;
        if (block_sum(cnt, s_f) >= (float)top_k) t = cand;
      }
      thr = t;
    }
    if (top_p < 1.f) {  // largest t >= thr with mass(key >= t) >= top_p * mass(key >= thr)
      float m0 = 0.f;
      for (int i = tid; i < vocab; i += kThreads)
        if (order_key(l[i]) >= thr) m0 += __expf((l[i] - mx) * inv_t);
      const float need = top_p * block_sum(m0, s_f);
      uint32_t t = 0;
      for (int bit = 31; bit >= 0; --bit) {
        uint32_t cand = t | (1u << bit);
        uint32_t eff = cand > thr ? cand : thr;
        float m = 0.f;
        for (int i = tid; i < vocab; i += kThreads)
          if (order_key(l[i]) >= eff) m += __expf((l[i] - mx) * inv_t);
        if (block_sum(m, s_f) >= need) t = cand;
      }
      if (t > thr) thr = t;
    }
    // Inverse CDF in vocab order: thread `tid` owns the contiguous chunk [lo, hi).
    const int chunk = (vocab + kThreads - 1) / kThreads;
    const int lo = min(vocab, tid * chunk), hi = min(vocab, lo + chunk);
    float mine = 0.f;
    int last_kept = -1;
    for (int i = lo; i < hi; ++i)
      if (order_key(l[i]) >= thr) { mine += __expf((l[i] - mx) * inv_t); last_kept = i; }
    s_chunk_mass[tid] = mine;
    // Fallback when rounding leaves the target past the total: the last kept token.
    float lk = (float)last_kept;
    int lk_owner = tid;
    block_argmax(lk, lk_owner, s_f, s_i);
    __syncthreads();
    if (tid == 0) {
      float total = 0.f;
      for (int j = 0; j < kThreads; ++j) total += s_chunk_mass[j];
      const uint64_t seed = ((uint64_t)p.seed_hi[row] << 32) | p.seed_lo[row];
      const float target = sample_uniform(seed, p.step[row]) * total;
      int tok = (int)lk;
      float acc = 0.f;
      for (int j = 0; j < kThreads; ++j) {
        if (acc + s_chunk_mass[j] > target && s_chunk_mass[j] > 0.f) {
          const int jl = min(vocab, j * chunk), jh = min(vocab, jl + chunk);
          for (int i = jl; i < jh; ++i) {
            if (order_key(l[i]) < thr) continue;
            acc += __expf((l[i] - mx) * inv_t);
            tok = i;
            if (acc > target) break;
          }
          break;
        }
        acc += s_chunk_mass[j];
      }
      s_token = tok;
    }
    __syncthreads();
    token = s_token;
  }
  if (tid == 0) {
    token_out[row] = token;
    logprob_out[row] = l[token] - lse;
  }
}

void sample_forward(int32_t* token_out, float* logprob_out, const float* logits, int rows, int vocab,
                    const SampleParamsDev& params, cudaStream_t stream) {
  if (rows == 0) return;
  sample_kernel<<<rows, kThreads, 0, stream>>>(token_out, logprob_out, logits, vocab, params);
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
