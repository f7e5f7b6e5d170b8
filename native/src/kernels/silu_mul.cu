// SiLU(gate) * up: one thread per 8 outputs (16-byte loads) when F % 8 == 0, else one per output.
#include "kernels/silu_mul.cuh"

#include "core/cuda_check.h"
#include "core/pdl.cuh"
#include "kernels/dtype.cuh"

namespace attnbench {

namespace {

__device__ __forceinline__ float silu(float g) { return g / (1.f + __expf(-g)); }

template <class T, int VEC>
__global__ void silu_mul_kernel(T* y, const T* x, int rows, int F) {
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int per_row = F / VEC;
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)rows * per_row) return;
  const int r = (int)(i / per_row), c = (int)(i % per_row) * VEC;
  const T* g = x + (long long)r * 2 * F + c;
  const T* u = g + F;
  T* o = y + (long long)r * F + c;
  if constexpr (VEC == 8) {
    const uint4 gv = *reinterpret_cast<const uint4*>(g), uv = *reinterpret_cast<const uint4*>(u);
    const T* gh = reinterpret_cast<const T*>(&gv);
    const T* uh = reinterpret_cast<const T*>(&uv);
    uint4 ov;
    T* oh = reinterpret_cast<T*>(&ov);
#pragma unroll
    for (int j = 0; j < 8; ++j) oh[j] = from_f32<T>(silu(to_f32(gh[j])) * to_f32(uh[j]));
    *reinterpret_cast<uint4*>(o) = ov;
  } else {
    o[0] = from_f32<T>(silu(to_f32(g[0])) * to_f32(u[0]));
  }
}

}  // namespace

void silu_mul_forward(void* y, const void* x, int rows, int F, DType dtype, cudaStream_t stream) {
  if (rows == 0) return;
  const int threads = 256;
  const bool vec = F % 8 == 0 && ((uintptr_t)x % 16) == 0 && ((uintptr_t)y % 16) == 0;
  const long long n = (long long)rows * (vec ? F / 8 : F);
  const dim3 grid((unsigned)((n + threads - 1) / threads));
  DISPATCH_DTYPE(dtype, T, {
    if (vec) launch_pdl(silu_mul_kernel<T, 8>, grid, dim3(threads), 0, stream, (T*)y, (const T*)x, rows, F);
    else launch_pdl(silu_mul_kernel<T, 1>, grid, dim3(threads), 0, stream, (T*)y, (const T*)x, rows, F);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
