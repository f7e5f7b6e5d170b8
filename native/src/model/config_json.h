// GPT-2 config.json -> ModelConfig, refusing options that would change the math we implement.
#pragma once
#include <string>

#include "core/types.h"

namespace attnbench {

// `path` is used in error messages only. Throws std::runtime_error naming the file and field.
ModelConfig parse_gpt2_config(const std::string& json_text, const std::string& path);

}  // namespace attnbench
