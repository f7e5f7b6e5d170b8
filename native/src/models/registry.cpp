#include "models/registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace attnbench {

namespace {

// Function-local, so registrations from other files' static initialisers never see it uninitialised.
std::vector<ModelFamily>& families() {
  static std::vector<ModelFamily> f;
  return f;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string known_architectures() {
  std::string s;
  for (const auto& f : families())
    for (const auto& a : f.architectures) s += (s.empty() ? "" : ", ") + a;
  return s;
}

// By "architectures" (the first entry a family reads), else by "model_type".
const ModelFamily& family_for(const ConfigFields& cfg) {
  const auto& j = cfg.json();
  std::vector<std::string> archs;
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a.is_string()) archs.push_back(a.get<std::string>());
  for (const auto& a : archs)
    for (const auto& f : families())
      if (contains(f.architectures, a)) return f;
  const std::string type = cfg.string("model_type", "");
  for (const auto& f : families())
    if (contains(f.model_types, type)) return f;
  // A config naming neither (hand-written ones, old exports) is read as GPT-2, as the engine read
  // every config before it knew other families; its own checks then name what is missing.
  if (archs.empty() && type.empty()) return model_family("gpt2");
  std::string seen = archs.empty() ? "" : "architectures " + nlohmann::json(archs).dump();
  if (!type.empty()) seen += std::string(seen.empty() ? "" : ", ") + "model_type \"" + type + "\"";
  cfg.fail("unsupported model (" + (seen.empty() ? std::string("no \"architectures\" or \"model_type\"") : seen) +
           "; supported: " + known_architectures() + ")");
}

// A JSON file that must hold an object; errors name the file.
nlohmann::json read_json_object(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::runtime_error(path + ": not a JSON object");
  return j;
}

// generation_config.json's eos_token_id joins config.json's: it is what HF generate() stops on, and
// instruct checkpoints list more there (Qwen2.5/Qwen3: <|im_end|> in config.json, <|endoftext|> too
// in generation_config.json; Llama 3 instruct: <|eot_id|> and <|eom_id|>).
void add_generation_eos(ModelConfig& c, const std::string& path) {
  if (!is_regular_file(path)) return;
  const nlohmann::json g = read_json_object(path);
  for (int32_t id : ConfigFields(g, path).eos_ids(c.vocab_size, {}))
    if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) == c.eos_token_ids.end()) c.eos_token_ids.push_back(id);
}

ModelWeights load_directory(const std::string& spec) {
  std::string dir = spec;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error(dir + ": not a directory (expected a Hugging Face model directory or synthetic:<preset>)");
  const std::string config_path = dir + "/config.json";
  if (!is_regular_file(config_path)) throw std::runtime_error(config_path + ": missing");
  const nlohmann::json j = read_json_object(config_path);
  const ConfigFields cfg(j, config_path);
  const ModelFamily& fam = family_for(cfg);
  ModelWeights w;
  w.config = fam.parse_config(cfg);
  w.config.family = fam.name;
  w.config.name = spec;
  validate_config(w.config, config_path);
  add_generation_eos(w.config, dir + "/generation_config.json");
  Checkpoint ckpt(dir, fam.normalize_name);
  fam.load_weights(w, ckpt);
  return w;
}

}  // namespace

bool register_model_family(const ModelFamily& family) {
  families().push_back(family);
  return true;
}

const ModelFamily& model_family(const std::string& name) {
  for (const auto& f : families())
    if (f.name == name) return f;
  throw std::runtime_error("unknown model family \"" + name + "\"");
}

std::vector<std::string> synthetic_preset_names() {
  std::vector<std::string> names;
  for (const auto& f : families())
    for (const auto& p : f.presets) names.push_back(p.name);
  return names;
}

ModelConfig synthetic_config(const std::string& preset) {
  for (const auto& f : families())
    for (const auto& p : f.presets)
      if (p.name == preset) {
        ModelConfig c = p.config;
        c.family = f.name;
        c.name = "synthetic:" + preset;
        validate_config(c, c.name);
        return c;
      }
  std::string known;
  for (const auto& n : synthetic_preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::runtime_error("unknown synthetic preset \"" + preset + "\" (known: " + known + ")");
}

ModelWeights load_model(const std::string& model_spec, uint64_t seed, bool lazy_synthetic) {
  const std::string synth = "synthetic:";
  if (model_spec.compare(0, synth.size(), synth) != 0) return load_directory(model_spec);
  ModelWeights w;
  w.config = synthetic_config(model_spec.substr(synth.size()));
  model_family(w.config.family).make_synthetic(w, seed, lazy_synthetic);
  return w;
}

void validate_config(const ModelConfig& c, const std::string& where) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(where + ": " + what); };
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 ||
      c.head_dim <= 0 || c.ffn_size <= 0 || c.max_context <= 0)
    fail("every size must be positive");
  if (c.num_heads % c.num_kv_heads != 0)
    fail("num_attention_heads " + std::to_string(c.num_heads) + " is not a multiple of num_key_value_heads " +
         std::to_string(c.num_kv_heads));
  if (c.positions == PositionKind::Rope && c.head_dim % 2 != 0) fail("rotary embedding needs an even head_dim");
  if (!(c.norm_eps > 0.0f)) fail("the norm epsilon must be > 0");
}

}  // namespace attnbench
