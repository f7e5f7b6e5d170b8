#include "model/config_json.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace attnbench {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

int get_int(const json& j, const std::string& path, const char* key, bool required, int fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(path, std::string("missing field \"") + key + "\"");
    return fallback;
  }
  if (!it->is_number_integer()) fail(path, std::string("field \"") + key + "\" must be an integer");
  long long v = it->get<long long>();
  if (v <= 0 || v > (1 << 30)) fail(path, std::string("field \"") + key + "\" out of range: " + std::to_string(v));
  return (int)v;
}

// A boolean option whose non-default value we do not implement.
void refuse_if(const json& j, const std::string& path, const char* key, bool unsupported_value, const char* why) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_boolean()) fail(path, std::string("field \"") + key + "\" must be a boolean");
  if (it->get<bool>() == unsupported_value)
    fail(path, std::string("unsupported \"") + key + "\": " + (unsupported_value ? "true" : "false") + " (" + why + ")");
}

}  // namespace

ModelConfig parse_gpt2_config(const std::string& json_text, const std::string& path) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const std::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(path, "not a JSON object");

  if (j.contains("model_type") && j["model_type"].is_string() && j["model_type"] != "gpt2")
    fail(path, "unsupported \"model_type\": \"" + j["model_type"].get<std::string>() + "\" (only gpt2)");
  if (j.contains("activation_function")) {
    const auto& a = j["activation_function"];
    if (!a.is_string() || (a != "gelu_new" && a != "gelu_pytorch_tanh"))
      fail(path, "unsupported \"activation_function\": " + a.dump() + " (only gelu_new, gelu_pytorch_tanh)");
  }
  refuse_if(j, path, "scale_attn_by_inverse_layer_idx", true, "per-layer attention scaling is not implemented");
  refuse_if(j, path, "scale_attn_weights", false, "unscaled attention is not implemented");
  refuse_if(j, path, "add_cross_attention", true, "cross-attention is not implemented");
  // reorder_and_upcast_attn only changes precision handling in fp16; irrelevant for our fp32 math.

  ModelConfig c;
  c.vocab_size = get_int(j, path, "vocab_size", true, 0);
  // Old configs spell the context n_ctx; n_positions wins when both exist.
  c.n_ctx = j.contains("n_positions") ? get_int(j, path, "n_positions", true, 0) : get_int(j, path, "n_ctx", true, 0);
  c.n_embd = get_int(j, path, "n_embd", true, 0);
  c.n_layer = get_int(j, path, "n_layer", true, 0);
  c.n_head = get_int(j, path, "n_head", true, 0);
  c.n_kv_head = c.n_head;
  c.n_inner = get_int(j, path, "n_inner", false, 4 * c.n_embd);
  if (c.n_embd % c.n_head != 0)
    fail(path, "n_embd " + std::to_string(c.n_embd) + " is not divisible by n_head " + std::to_string(c.n_head));
  if (j.contains("layer_norm_epsilon") && !j["layer_norm_epsilon"].is_null()) {
    if (!j["layer_norm_epsilon"].is_number()) fail(path, "field \"layer_norm_epsilon\" must be a number");
    c.layer_norm_epsilon = j["layer_norm_epsilon"].get<float>();
    if (!(c.layer_norm_epsilon > 0.0f)) fail(path, "field \"layer_norm_epsilon\" must be > 0");
  }
  c.eos_token_id = 50256;
  if (j.contains("eos_token_id") && j["eos_token_id"].is_number_integer()) c.eos_token_id = j["eos_token_id"].get<int>();
  if (c.eos_token_id < 0 || c.eos_token_id >= c.vocab_size) c.eos_token_id = -1;  // no EOS in this vocab
  return c;
}

}  // namespace attnbench
