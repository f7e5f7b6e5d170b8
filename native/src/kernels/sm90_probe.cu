#include "kernels/sm90_probe.cuh"

#include <cuda_runtime.h>

#include "core/cuda_check.h"

namespace attnbench {
namespace {

__global__ void sm90a_probe_kernel(int* out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  *out = 1;
#else
  *out = 0;
#endif
}

bool probe() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (major != 9 || minor != 0) return false;  // no sm_90 code to launch the probe with
  int* d = nullptr;
  int h = 0;
  CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
  sm90a_probe_kernel<<<1, 1>>>(d);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d));
  return h == 1;
}

}  // namespace

bool built_for_sm90a() {
  static const bool yes = probe();
  return yes;
}

}  // namespace attnbench
