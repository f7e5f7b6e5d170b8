// defines: default_request_seed
#pragma once
#include <cstdint>
#include <string>

#include "core/rng.h"

namespace attnbench {

// The seed of a request that did not give one: the engine seed mixed with a hash of its id (FNV-1a),
// so a request's tokens do not depend on when it arrived or what ran beside it.
inline uint64_t default_request_seed(uint64_t engine_seed, const std::string& request_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : request_id) h = (h ^ c) * 1099511628211ull;
  return splitmix64(engine_seed ^ h);
}

}  // namespace attnbench
