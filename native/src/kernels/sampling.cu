// GPU sampling, one block of 1024 threads per row. Greedy (the hot path) is one max/argmax pass and
// one sum-exp pass. Top-k and top-p find their logit threshold by a 32-step bisection on the
// order-preserving integer image of the float logits (exact, no sort): each step is one block-wide
// count or mass reduction. Speed matters less than being exactly the documented rule.
#include "kernels/sampling.cuh"

#include <cfloat>

#include "core/rng.h"
#include "core/cuda_check.h"
#include "core/pdl.cuh"

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
                                                          int vocab, int ld, SampleParamsDev p) {
  __shared__ float s_f[32];
  __shared__ int s_i[32];
  __shared__ int s_token;
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int row = blockIdx.x, tid = threadIdx.x;
  const float* l = logits + (long long)row * ld;

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
    // Inverse CDF in the CPU sampler's order (cpu/sampling.cpp): by logit descending, ties by
    // index. Bisection again: the chosen token's key is the largest t with mass(key >= t) > u * Z.
    float z = 0.f;
    for (int i = tid; i < vocab; i += kThreads)
      if (order_key(l[i]) >= thr) z += __expf((l[i] - mx) * inv_t);
    z = block_sum(z, s_f);
    const uint64_t seed = ((uint64_t)p.seed_hi[row] << 32) | p.seed_lo[row];
    const float target = sample_uniform(seed, p.step[row]) * z;
    uint32_t sel = 0;  // f(t) is true for every t <= thr (u < 1), so the result is >= thr
    for (int bit = 31; bit >= 0; --bit) {
      uint32_t cand = sel | (1u << bit);
      uint32_t eff = cand > thr ? cand : thr;
      float m = 0.f;
      for (int i = tid; i < vocab; i += kThreads)
        if (order_key(l[i]) >= eff) m += __expf((l[i] - mx) * inv_t);
      if (block_sum(m, s_f) > target) sel = cand;
    }
    // Tokens tied at `sel` are walked in index order after the mass strictly above them.
    float above = 0.f, ties = 0.f;
    int first_tie = 0x7fffffff;
    for (int i = tid; i < vocab; i += kThreads) {
      uint32_t k = order_key(l[i]);
      if (k > sel) above += __expf((l[i] - mx) * inv_t);
      if (k == sel) { ties += 1.f; first_tie = min(first_tie, i); }
    }
    above = block_sum(above, s_f);
    ties = block_sum(ties, s_f);
    float neg_first = -(float)first_tie;
    int unused = 0;
    block_argmax(neg_first, unused, s_f, s_i);
    __syncthreads();
    if (tid == 0) {
      int tok = (int)(-neg_first);
      if (ties < 1.f) {
        tok = amax;  // sums of two reductions disagreed by rounding: no token at `sel`
      } else if (ties > 1.f) {  // rare: equal logits; walk them serially
        const float w = __expf((l[tok] - mx) * inv_t);
        float acc = above;
        for (int i = tok; i < vocab; ++i) {
          if (order_key(l[i]) != sel) continue;
          tok = i;
          acc += w;
          if (acc > target) break;
        }
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
                    const SampleParamsDev& params, cudaStream_t stream, int ld) {
  if (rows == 0) return;
  launch_pdl(sample_kernel, dim3(rows), dim3(kThreads), 0, stream, token_out, logprob_out, logits, vocab, ld > 0 ? ld : vocab,
             params);
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
