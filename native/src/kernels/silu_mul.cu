// SiLU(gate) * up. When F % 8 == 0 (and 16-byte aligned rows): a grid of (row, block of chunks),
// each thread 8 outputs from 16-byte loads. Rows in grid x, so there is no 64-bit divide for the row
// index (session 6's 1D grid paid one per thread), and a fast divide for the sigmoid: at
// Llama-3.1-8B shapes (F 14336) a prefill step's call moves 705 MB (docs/perf-notes.md, session 7).
// Otherwise one thread per output.
#include "kernels/silu_mul.cuh"

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/mma.cuh"

namespace attnbench {

namespace {

__device__ __forceinline__ float silu(float g) { return g / (1.f + __expf(-g)); }
// The same with __fdividef: 1 + e^-g >= 1; where it exceeds 2^126 or overflows to inf the quotient is
// (-)0, as the IEEE divide's result rounds to there anyway.
__device__ __forceinline__ float silu_fast(float g) { return __fdividef(g, 1.f + __expf(-g)); }

constexpr int kVecThreads = 256;

// grid (rows, ceil(F / 8 / kVecThreads)); thread: chunk of 8 outputs blockIdx.y * kVecThreads + tid.
template <class T>
__global__ void __launch_bounds__(kVecThreads) silu_mul_vec_kernel(T* y, const T* x, int F) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int r = blockIdx.x, ch = blockIdx.y * kVecThreads + threadIdx.x;
  if (ch >= F / 8) return;
  const T* g = x + (long long)r * 2 * F + ch * 8;
  float gf[8], uf[8];
  mma::unpack8<T>(*reinterpret_cast<const uint4*>(g), gf);
  mma::unpack8<T>(*reinterpret_cast<const uint4*>(g + F), uf);
  uint4 ov;
  uint32_t* op = reinterpret_cast<uint32_t*>(&ov);
#pragma unroll
  for (int j = 0; j < 4; ++j)
    op[j] = mma::pack2<T>(silu_fast(gf[2 * j]) * uf[2 * j], silu_fast(gf[2 * j + 1]) * uf[2 * j + 1]);
  *reinterpret_cast<uint4*>(y + (long long)r * F + ch * 8) = ov;
}

template <class T>
__global__ void silu_mul_kernel(T* y, const T* x, int rows, int F) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)rows * F) return;
  const int r = (int)(i / F), c = (int)(i % F);
  const T* g = x + (long long)r * 2 * F + c;
  y[(long long)r * F + c] = from_f32<T>(silu(to_f32(g[0])) * to_f32(g[F]));
}

}  // namespace

void silu_mul_forward(void* y, const void* x, int rows, int F, DType dtype, cudaStream_t stream) {
  if (rows == 0) return;
  const bool vec = F % 8 == 0 && ((uintptr_t)x % 16) == 0 && ((uintptr_t)y % 16) == 0;
  DISPATCH_DTYPE(dtype, T, {
    if (vec) {
      const dim3 grid((unsigned)rows, (unsigned)ceil_div(F / 8, kVecThreads));
      launch_pdl(silu_mul_vec_kernel<T>, grid, dim3(kVecThreads), 0, stream, (T*)y, (const T*)x, F);
    } else {
      const int threads = 256;
      const dim3 grid((unsigned)(((long long)rows * F + threads - 1) / threads));
      launch_pdl(silu_mul_kernel<T>, grid, dim3(threads), 0, stream, (T*)y, (const T*)x, rows, F);
    }
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
