// defines: CUDA_CHECK, CUDA_CHECK_LAUNCH, CUBLAS_CHECK, cuda_fail
// Every CUDA runtime call and every kernel launch goes through these: a failure throws a
// std::runtime_error naming the call, file and line, so the engine reports it instead of computing
// on garbage. CUBLAS_CHECK takes any cublasStatus_t without including cuBLAS here, so kernels and
// their tests compile where cuBLAS headers are absent.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace attnbench {

[[noreturn]] inline void cuda_fail(const std::string& what, const char* expr, const char* file, int line) {
  throw std::runtime_error(what + " at " + file + ":" + std::to_string(line) + ": " + expr);
}

}  // namespace attnbench

#define CUDA_CHECK(expr)                                                                       \
  do {                                                                                         \
    cudaError_t err_ = (expr);                                                                 \
    if (err_ != cudaSuccess)                                                                   \
      ::attnbench::cuda_fail(std::string("CUDA error ") + cudaGetErrorString(err_), #expr,     \
                             __FILE__, __LINE__);                                              \
  } while (0)

// After a <<<...>>> launch: catches bad configurations at once (cheap: no synchronisation).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(expr)                                                                     \
  do {                                                                                         \
    int st_ = (int)(expr);                                                                     \
    if (st_ != 0)                                                                              \
      ::attnbench::cuda_fail("cuBLAS status " + std::to_string(st_), #expr, __FILE__, __LINE__); \
  } while (0)
