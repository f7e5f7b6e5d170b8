// defines: ModelFamily, ATTNBENCH_REGISTER_MODEL, load_model, synthetic_config, synthetic_preset_names,
//          model_family
// Model families by the checkpoint's config.json (`architectures`, else `model_type`), in the manner of
// mini-sglang's models/register and nano-vllm's models/: a family is one file (models/<family>.cpp)
// that parses its config, maps its tensors onto ModelWeights, names its synthetic presets and its
// forward, and registers itself with one line:
//
//   ATTNBENCH_REGISTER_MODEL(gpt2_family());
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "models/forward.h"
#include "models/model_weights.h"

namespace attnbench {

struct SyntheticPreset {
  std::string name;     // "synthetic:<name>"
  ModelConfig config;   // family and shape; name is filled in
};

struct ModelFamily {
  std::string name;                        // "gpt2"
  std::vector<std::string> architectures;  // config.json "architectures" entries it reads
  std::vector<std::string> model_types;    // config.json "model_type" values it reads
  // config.json -> ModelConfig; errors (and unsupported options) name the file and the field.
  ModelConfig (*parse_config)(const ConfigFields& cfg);
  // Stored tensor name -> the name load_weights reads ("" to ignore the tensor).
  std::string (*normalize_name)(const std::string& stored);
  // Reads every tensor into w (w.config is set); throws naming the tensor at fault.
  void (*load_weights)(ModelWeights& w, Checkpoint& ckpt);
  // Seeded random weights for w.config: element i of tensor t depends only on (seed, t, i). lazy:
  // recipes (Tensor::recipe) where the family can make them in the runner's layout.
  void (*make_synthetic)(ModelWeights& w, uint64_t seed, bool lazy);
  std::vector<SyntheticPreset> presets;
  void (*forward)(const ModelConfig& c, ForwardOps& ops) = decoder_forward;
};

bool register_model_family(const ModelFamily& family);

// A Hugging Face model directory or synthetic:<preset>. Throws std::runtime_error naming the file,
// field or tensor at fault (or the known presets / architectures). lazy_synthetic: a synthetic model's
// tensors may stay recipes, for a runner that generates them itself (the CUDA runner).
ModelWeights load_model(const std::string& model_spec, uint64_t seed, bool lazy_synthetic = false);
ModelConfig synthetic_config(const std::string& preset);  // throws listing the known presets
std::vector<std::string> synthetic_preset_names();
const ModelFamily& model_family(const std::string& family_name);

}  // namespace attnbench

#define ATTNBENCH_MODEL_CONCAT2(a, b) a##b
#define ATTNBENCH_MODEL_CONCAT(a, b) ATTNBENCH_MODEL_CONCAT2(a, b)
#define ATTNBENCH_REGISTER_MODEL(FAMILY)                                                   \
  static const bool ATTNBENCH_MODEL_CONCAT(attnbench_model_reg_, __LINE__) = \
      ::attnbench::register_model_family(FAMILY)
