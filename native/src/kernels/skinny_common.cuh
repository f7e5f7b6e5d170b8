// defines: ld_stream_u4 (device), skinny_dispatch
// What the two weight-stream GEMMs (skinny_gemm.cu on CUDA cores, skinny_gemm_tc.cu on tensor cores)
// share: the 16-byte weight load that bypasses L1, and the dtype dispatch of their entry points.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/dtype.cuh"

namespace attnbench {

// Each weight is read once per GEMM: keep it out of L1 (non-coherent, no L1 allocation).
__device__ __forceinline__ uint4 ld_stream_u4(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// Calls launch(T{}, TO{}, gelu) for input type T (fp16 / bf16) and output type TO (T, or fp32 without
// gelu); other combinations throw, naming the kernel.
template <class Launch>
void skinny_dispatch(const char* name, DType in, DType out, bool gelu, Launch&& launch) {
  DISPATCH_DTYPE(in, T, {
    if (out == DType::F32) {
      if (gelu) throw std::runtime_error(std::string(name) + ": gelu with fp32 output is not built");
      launch(T{}, float{}, false);
    } else if (out == in) {
      launch(T{}, T{}, gelu);
    } else {
      throw std::runtime_error(std::string(name) + ": output type must be the input type or fp32");
    }
  });
}

}  // namespace attnbench
