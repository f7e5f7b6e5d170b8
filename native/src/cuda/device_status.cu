// defines: cuda_device_status (core/device_status.h) for builds with CUDA.
#include <cuda_runtime.h>

#include "core/device_status.h"

namespace attnbench {

std::string cuda_device_status() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("unavailable: ") + cudaGetErrorString(err);
  }
  if (n == 0) return "unavailable: no CUDA device";
  return "ok";
}

}  // namespace attnbench
