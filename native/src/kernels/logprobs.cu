// Log-probability of a given token per row: one block per row, max then sum-exp (log-sum-exp).
#include "kernels/logprobs.cuh"

#include <cfloat>

#include "core/cuda_check.h"

namespace attnbench {

__global__ void target_logprob_kernel(float* out, const float* logits, const int32_t* targets, int vocab) {
  __shared__ float s_red[256];
  const int r = blockIdx.x, tid = threadIdx.x;
  const float* l = logits + (long long)r * vocab;
  float mx = -FLT_MAX;
  for (int i = tid; i < vocab; i += 256) mx = fmaxf(mx, l[i]);
  s_red[tid] = mx;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if (tid < w) s_red[tid] = fmaxf(s_red[tid], s_red[tid + w]);
    __syncthreads();
  }
  mx = s_red[0];
  __syncthreads();
  float sum = 0.f;
  for (int i = tid; i < vocab; i += 256) sum += expf(l[i] - mx);
  s_red[tid] = sum;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if (tid < w) s_red[tid] += s_red[tid + w];
    __syncthreads();
  }
  if (tid == 0) out[r] = l[targets[r]] - (mx + logf(s_red[0]));
}

void target_logprob_forward(float* out, const float* logits, const int32_t* targets, int rows, int vocab,
                            cudaStream_t stream) {
  if (rows == 0) return;
  target_logprob_kernel<<<rows, 256, 0, stream>>>(out, logits, targets, vocab);
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
