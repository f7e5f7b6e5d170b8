// Only for the standalone build of attnbench-kernels (scripts/gpu/kernels-check.sh's fallback when
// the full engine does not configure): the registry asks the CUDA runner whether CUDA is usable.
#include <string>

namespace attnbench {
std::string cuda_runner_status() { return "ok"; }
}  // namespace attnbench
