// defines: pdl_wait, pdl_launch_dependents, pdl_enabled, launch_pdl
// Programmatic dependent launch (Hopper): a kernel launched with launch_pdl may be scheduled while
// the kernel before it on the stream is still finishing; it waits in pdl_wait() until that kernel
// has completed and its writes are visible. In a CUDA graph (stream capture) the dependency becomes
// a programmatic edge. What it saves is the launch gap between dependent kernels, which is most of
// a small kernel's cost: at 2 sequences a decode step is ~100 kernels in 0.48 ms, and a LayerNorm
// of 2 rows costs ~2.4 us, nearly all of it launch and drain (docs/perf-notes.md).
//
// The rule for a kernel launched with launch_pdl: call pdl_wait() before its first global memory
// access (read or write), then pdl_launch_dependents(). Waiting first keeps at most one waiting
// kernel behind a running one; triggering right after lets the next kernel's CTAs be resident
// while this one's last CTAs drain. Without PDL (other archs, ATTNBENCH_PDL=0) both are no-ops.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "core/cuda_check.h"

namespace attnbench {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether launches may use PDL: set once at start-up from ExperimentSwitches::pdl (ATTNBENCH_PDL=0 turns
// it off to compare; the CUDA runner sets it), and only on compute capability >= 9.0.
inline bool& pdl_requested() {
  static bool on = true;
  return on;
}
inline bool pdl_enabled() {
  static const bool arch_ok = [] {
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
    return major >= 9;
  }();
  return arch_ok && pdl_requested();
}

// kernel<<<grid, block, smem, stream>>>(args...), with the programmatic-serialization attribute when
// pdl_enabled(). The kernel must follow the rule above.
template <typename... KArgs, typename... Args>
inline void launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                       Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace attnbench
