// defines: cpu_attn_status, the availability check shared by the CPU attention backends.
#pragma once
#include <string>

#include "attn/backend.h"

namespace attnbench {

// CPU backends compute in fp32 and support any head dim and GQA group size.
inline std::string cpu_attn_status(const AttnDims* d) {
  if (d && (d->dtype != DType::F32)) return "unavailable: CPU attention is fp32 only";
  if (d && (d->num_kv_heads <= 0 || d->num_heads % d->num_kv_heads != 0))
    return "unavailable: num_heads must be a multiple of num_kv_heads";
  return "ok";
}

}  // namespace attnbench
