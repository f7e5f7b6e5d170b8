// Compiled instead of the CUDA runner when the build has no CUDA: the engine still starts on CPU and
// reports why CUDA is missing.
#include <stdexcept>

#include "core/device_status.h"
#include "runner/model_runner.h"

#ifndef ATTNBENCH_CUDA_REASON
#define ATTNBENCH_CUDA_REASON "built without CUDA"
#endif

namespace attnbench {

std::string cuda_device_status() { return std::string("unavailable: ") + ATTNBENCH_CUDA_REASON; }

std::unique_ptr<ModelRunner> make_cuda_runner(const ModelWeights&, const RunnerOptions&) {
  throw std::runtime_error("--device cuda: " + cuda_device_status());
}

}  // namespace attnbench
