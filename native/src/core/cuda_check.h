// defines: CUDA_CHECK, CUDA_CHECK_LAUNCH, CUBLAS_CHECK, cuda_fail
// Every CUDA runtime call and every kernel launch goes through these: a failure throws a
// std::runtime_error naming the call, file and line, so the engine reports it instead of computing
// on garbage. CUBLAS_CHECK takes any cublasStatus_t without including cuBLAS here, so kernels and
// their tests compile where cuBLAS headers are absent.
#pragma once
#include <cuda_runtime.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "core/fatal_hook.h"

namespace attnbench {

[[noreturn]] inline void cuda_fail(const std::string& what, const char* expr, const char* file, int line) {
  throw std::runtime_error(what + " at " + file + ":" + std::to_string(line) + ": " + expr);
}

// Seconds a stream may take to drain before sync_stream gives up (ExperimentSwitches::gpu_timeout_s,
// ATTNBENCH_GPU_TIMEOUT_S, default 60; the CUDA runner sets it at start-up): a kernel that never ends
// (e.g. a backend reading a stale plan) must become an error the engine reports, not a process that
// hangs forever in cudaStreamSynchronize.
inline double& gpu_timeout_setting() {
  static double t = 60.0;
  return t;
}
inline double gpu_timeout_s() { return gpu_timeout_setting(); }

// cudaStreamSynchronize with a deadline: spins on cudaStreamQuery (as the default spin-wait sync
// does), throws on an error or when the stream is still busy after gpu_timeout_s().
inline void sync_stream(cudaStream_t s, const char* what, const char* file, int line) {
  cudaError_t e = cudaStreamQuery(s);
  if (e == cudaErrorNotReady) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto limit = std::chrono::duration<double>(gpu_timeout_s());
    for (unsigned i = 1;; ++i) {
      e = cudaStreamQuery(s);
      if (e != cudaErrorNotReady) break;
      if ((i & 255) == 0 && std::chrono::steady_clock::now() - t0 > limit) {
        const std::string msg = "GPU work did not finish within " + std::to_string((int)gpu_timeout_s()) +
                                " s (ATTNBENCH_GPU_TIMEOUT_S) at " + file + ":" + std::to_string(line) + ": " + what;
        if (fatal_hook()) fatal_hook()(msg);  // main: fatal event + _Exit (no cudaFree behind a hung kernel)
        throw std::runtime_error(msg);
      }
    }
  }
  if (e != cudaSuccess) cuda_fail(std::string("CUDA error ") + cudaGetErrorString(e), what, file, line);
}

}  // namespace attnbench

#define SYNC_STREAM(s) ::attnbench::sync_stream((s), "cudaStreamSynchronize(" #s ")", __FILE__, __LINE__)

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
