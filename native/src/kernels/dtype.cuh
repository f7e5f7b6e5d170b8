// defines: to_f32, from_f32 (half / bf16 / float), DISPATCH_DTYPE
// Kernels are templates over the activation type `T` (__half or __nv_bfloat16) and do their
// arithmetic in fp32; host launchers take void* plus a DType and dispatch here.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>

#include "core/types.h"

namespace attnbench {

__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(float x) { return x; }

template <class T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace attnbench

// DISPATCH_DTYPE(dtype, T, { body using T }) for the 16-bit activation types.
#define DISPATCH_DTYPE(DT, T, ...)                                               \
  do {                                                                           \
    if ((DT) == ::attnbench::DType::F16) {                                       \
      using T = __half;                                                          \
      __VA_ARGS__;                                                               \
    } else if ((DT) == ::attnbench::DType::BF16) {                               \
      using T = __nv_bfloat16;                                                   \
      __VA_ARGS__;                                                               \
    } else {                                                                     \
      throw std::runtime_error("CUDA kernels take fp16 or bf16 activations");    \
    }                                                                            \
  } while (0)
