// Token (+ learned position) embedding into the fp32 residual stream. One thread per element pair; the
// tables are in the activation dtype (wte doubles as the LM head).
#include "kernels/embedding.cuh"

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"

namespace attnbench {

template <class T, bool POS>
__global__ void embedding_kernel(float* x, const int32_t* tokens, const int32_t* positions, const T* wte,
                                 const T* wpe, int num_tokens, int C) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)num_tokens * C) return;
  int t = (int)(i / C), c = (int)(i % C);
  const float tok = to_f32(wte[(int64_t)tokens[t] * C + c]);
  x[i] = POS ? tok + to_f32(wpe[(int64_t)positions[t] * C + c]) : tok;
}

void embedding_forward(float* x, const int32_t* tokens, const int32_t* positions, const void* wte,
                       const void* wpe, int num_tokens, int C, DType dtype, cudaStream_t stream) {
  if (num_tokens == 0) return;
  const int threads = 256;
  int blocks = (int)(((int64_t)num_tokens * C + threads - 1) / threads);
  DISPATCH_DTYPE(dtype, T, {
    launch_pdl(wpe ? embedding_kernel<T, true> : embedding_kernel<T, false>, dim3(blocks), dim3(threads), 0, stream, x,
               tokens, positions, (const T*)wte, (const T*)wpe, num_tokens, C);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
