// defines: fatal_hook
// A process-wide hook for failures the engine cannot recover from and must not wait out (a GPU
// stream that never drains: every later CUDA call, cudaFree included, would block behind it).
// main() sets it to print the `fatal` event and _Exit; code that detects such a failure calls it
// before throwing, so even a hang during warm-up or unwinding ends the process with a fatal event.
#pragma once
#include <functional>
#include <string>

namespace attnbench {

inline std::function<void(const std::string&)>& fatal_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

}  // namespace attnbench
