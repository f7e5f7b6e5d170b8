// Only for the standalone build of attnbench-kernels (scripts/gpu/kernels-check.sh's fallback when
// the full engine does not configure): the registry asks whether CUDA is usable (core/device_status.h).
#include <string>

namespace attnbench {
std::string cuda_device_status() { return "ok"; }
}  // namespace attnbench
