// top_logprobs: k passes of a block-wide argmax, each over the tokens that come after the previous
// pick in the order (logit descending, index ascending), so ties and repeats need no special case.
#include "kernels/top_logprobs.cuh"

#include <cfloat>

#include "core/cuda_check.h"

namespace attnbench {

namespace {

constexpr int kThreads = 256;

// (v, i) before (best_v, best_i) in the order: larger logit, or equal logit and lower index.
__device__ __forceinline__ bool before(float v, int i, float best_v, int best_i) {
  return v > best_v || (v == best_v && i < best_i);
}

// Block-wide: the first (v, i) in the order; every thread gets it.
__device__ void block_first(float& v, int& i, float* sv, int* si) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (before(ov, oi, v, i)) { v = ov; i = oi; }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) { sv[warp] = v; si[warp] = i; }
  __syncthreads();
  v = lane < kThreads / 32 ? sv[lane] : -INFINITY;
  i = lane < kThreads / 32 ? si[lane] : 0x7fffffff;
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (before(ov, oi, v, i)) { v = ov; i = oi; }
  }
}

__device__ float block_sum(float x, float* s) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) s[warp] = x;
  __syncthreads();
  x = lane < kThreads / 32 ? s[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__global__ void __launch_bounds__(kThreads) top_logprobs_kernel(int32_t* ids_out, float* lp_out, const float* logits,
                                                               const int32_t* rows, int vocab, int ld, int k) {
  __shared__ float s_v[kThreads / 32];
  __shared__ int s_i[kThreads / 32];
  const float* l = logits + (long long)rows[blockIdx.x] * ld;
  const int tid = threadIdx.x;

  // log-sum-exp of the row, as target_logprob_forward: max, then sum of exp.
  float mx = -FLT_MAX;
  int unused = 0x7fffffff;
  for (int i = tid; i < vocab; i += kThreads) mx = fmaxf(mx, l[i]);
  block_first(mx, unused, s_v, s_i);
  float se = 0.f;
  for (int i = tid; i < vocab; i += kThreads) se += expf(l[i] - mx);
  const float lse = mx + logf(block_sum(se, s_v));

  // Pass j picks the first token strictly after pick j-1 in the order.
  float prev_v = INFINITY;
  int prev_i = -1;
  for (int j = 0; j < k; ++j) {
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = tid; i < vocab; i += kThreads) {
      const float x = l[i];
      if (before(prev_v, prev_i, x, i) && before(x, i, v, idx)) { v = x; idx = i; }
    }
    block_first(v, idx, s_v, s_i);
    if (tid == 0) {
      const bool found = idx < vocab;
      ids_out[blockIdx.x * k + j] = found ? idx : -1;
      lp_out[blockIdx.x * k + j] = found ? v - lse : -INFINITY;
    }
    prev_v = v;
    prev_i = idx;
  }
}

}  // namespace

void top_logprobs_forward(int32_t* ids_out, float* lp_out, const float* logits, const int32_t* rows, int n_rows, int vocab,
                          int ld, int k, cudaStream_t stream) {
  if (n_rows == 0 || k <= 0) return;
  top_logprobs_kernel<<<n_rows, kThreads, 0, stream>>>(ids_out, lp_out, logits, rows, vocab, ld > 0 ? ld : vocab, k);
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
