// Token (+ learned position) embedding into the fp32 residual stream; the tables are in the
// activation dtype (wte doubles as the LM head). When C % 8 == 0 and the pointers are 16-byte
// aligned: a grid of (token, block of chunks), a thread per 8 elements (16-byte table reads, two
// 16-byte writes), no 64-bit divide. Otherwise one thread per element.
#include "kernels/embedding.cuh"

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/mma.cuh"

namespace attnbench {

namespace {

constexpr int kVecThreads = 256;

// grid (num_tokens, ceil(C / 8 / kVecThreads)).
template <class T, bool POS>
__global__ void __launch_bounds__(kVecThreads) embedding_vec_kernel(float* x, const int32_t* tokens, const int32_t* positions,
                                                                    const T* wte, const T* wpe, int C) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int t = blockIdx.x, c = (blockIdx.y * kVecThreads + threadIdx.x) * 8;
  if (c >= C) return;
  float f[8];
  mma::unpack8<T>(*reinterpret_cast<const uint4*>(wte + (int64_t)tokens[t] * C + c), f);
  if constexpr (POS) {
    float p[8];
    mma::unpack8<T>(*reinterpret_cast<const uint4*>(wpe + (int64_t)positions[t] * C + c), p);
#pragma unroll
    for (int j = 0; j < 8; ++j) f[j] += p[j];
  }
  float4* o = reinterpret_cast<float4*>(x + (int64_t)t * C + c);
  o[0] = make_float4(f[0], f[1], f[2], f[3]);
  o[1] = make_float4(f[4], f[5], f[6], f[7]);
}

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

}  // namespace

void embedding_forward(float* x, const int32_t* tokens, const int32_t* positions, const void* wte,
                       const void* wpe, int num_tokens, int C, DType dtype, cudaStream_t stream) {
  if (num_tokens == 0) return;
  auto aligned = [](const void* p) { return ((uintptr_t)p % 16) == 0; };
  const bool vec = C % 8 == 0 && aligned(x) && aligned(wte) && (!wpe || aligned(wpe));
  DISPATCH_DTYPE(dtype, T, {
    if (vec) {
      const dim3 grid((unsigned)num_tokens, (unsigned)ceil_div(C / 8, kVecThreads));
      launch_pdl(wpe ? embedding_vec_kernel<T, true> : embedding_vec_kernel<T, false>, grid, dim3(kVecThreads), 0, stream, x,
                 tokens, positions, (const T*)wte, (const T*)wpe, C);
    } else {
      const int threads = 256;
      const int blocks = (int)(((int64_t)num_tokens * C + threads - 1) / threads);
      launch_pdl(wpe ? embedding_kernel<T, true> : embedding_kernel<T, false>, dim3(blocks), dim3(threads), 0, stream, x,
                 tokens, positions, (const T*)wte, (const T*)wpe, num_tokens, C);
    }
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
