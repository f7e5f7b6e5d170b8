// defines: cuda_device_status
// Whether this binary can run on a CUDA device: "ok" or "unavailable: <reason>" (no CUDA build, no
// device, ...). Implemented in cuda/device_status.cu, or in runner/cuda_unavailable.cpp when the
// binary is built without CUDA. Low in the stack so that the attention registry can ask it.
#pragma once
#include <string>

namespace attnbench {

std::string cuda_device_status();

}  // namespace attnbench
