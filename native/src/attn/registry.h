// Backend registry. Each backend file registers itself with one line at namespace scope:
//
//   ATTNBENCH_REGISTER_PREFILL(fused, CUDA, make_fused_prefill_cuda, fused_cuda_status);   // CPU or CUDA
//
// where the factory is `std::unique_ptr<PrefillAttn>(const AttnDims&)` (DecodeAttn for decode) and
// the status function returns "ok" or "unavailable: <reason>" (checked at run time: device present,
// head_dim supported ...). Backend sources are linked into the engine as objects (not a static
// library), so the registrars are never dropped by the linker.
//
// Names the registry knows even when their file was not compiled (so `ready` can say why):
// kKnownBackends in registry.cpp, with the build's reason (e.g. "built without FLASHINFER_INCLUDE_DIR").
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "attn/backend.h"

namespace attnbench {

using PrefillFactory = std::function<std::unique_ptr<PrefillAttn>(const AttnDims&)>;
using DecodeFactory = std::function<std::unique_ptr<DecodeAttn>(const AttnDims&)>;
using StatusFn = std::function<std::string(const AttnDims*)>;  // dims may be null: general availability

bool register_prefill(const char* name, Device device, PrefillFactory factory, StatusFn status);
bool register_decode(const char* name, Device device, DecodeFactory factory, StatusFn status);

// Record why a known backend was not built (called from registry.cpp with CMake-provided reasons).
void note_not_built(const char* name, Device device, AttnPhase phase, const std::string& reason);

}  // namespace attnbench

#define ATTNBENCH_REGISTER_PREFILL(NAME, DEVICE, FACTORY, STATUS) \
  static const bool attnbench_reg_prefill_##NAME##_##DEVICE##_ =  \
      ::attnbench::register_prefill(#NAME, ::attnbench::Device::DEVICE, FACTORY, STATUS)
#define ATTNBENCH_REGISTER_DECODE(NAME, DEVICE, FACTORY, STATUS) \
  static const bool attnbench_reg_decode_##NAME##_##DEVICE##_ =  \
      ::attnbench::register_decode(#NAME, ::attnbench::Device::DEVICE, FACTORY, STATUS)
