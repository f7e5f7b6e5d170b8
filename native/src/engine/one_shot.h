// One-shot mode: generate for one prompt and print {"tokens":[...],"logprobs":[...]}.
#pragma once
#include "engine/engine_options.h"

namespace attnbench {

// Returns the process exit code (0 ok, 1 failure).
int run_one_shot(const EngineOptions& opt);

}  // namespace attnbench
