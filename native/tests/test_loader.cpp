// Loader and registry errors: every failure names the file, tensor or field at fault.
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attn/backend.h"
#include "core/device_status.h"
#include "models/registry.h"
#include "test_util.h"

using namespace attnbench;

static std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
static bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

static std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
static void spit(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

int main() {
  attnbench_test::init();
  const std::string fx = std::string(ATTNBENCH_FIXTURES_DIR) + "/gpt2-fp32";
  const std::string tmp = std::string(ATTNBENCH_TEST_TMP) + "/loader";
  ::mkdir(ATTNBENCH_TEST_TMP, 0755);
  ::mkdir(tmp.c_str(), 0755);
  const std::string config = slurp(fx + "/config.json"), weights = slurp(fx + "/model.safetensors");
  auto load = [&](const std::string& cfg, const std::string& st) {
    spit(tmp + "/config.json", cfg);
    spit(tmp + "/model.safetensors", st);
    return error_of([&] { load_model(tmp, 0); });
  };
  auto with = [&](const std::string& key_json) {  // config.json with one field replaced/added
    nlohmann::json j = nlohmann::json::parse(config);
    j.update(nlohmann::json::parse("{" + key_json + "}"));
    return j.dump();
  };

  CHECK(load(config, weights).empty(), "the untouched copy loads");
  std::string e = error_of([&] { load_model(tmp + "/nonexistent", 0); });
  CHECK(has(e, "nonexistent") && has(e, "not a directory"), "missing directory named: " + e);
  e = load(config, weights.substr(0, weights.size() - 100));
  CHECK(has(e, "model.safetensors") && has(e, "outside the data section"), "truncated file named: " + e);
  e = load(config, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8) + weights.substr(8));
  CHECK(has(e, "model.safetensors") && has(e, "header length"), "corrupt header length named: " + e);
  e = load(config, std::string(4, '\0'));
  CHECK(has(e, "model.safetensors") && has(e, "shorter than"), "tiny file named: " + e);
  std::string bad_json = weights;
  bad_json[9] = '#';
  e = load(config, bad_json);
  CHECK(has(e, "model.safetensors") && has(e, "not valid JSON"), "corrupt header JSON named: " + e);
  e = load(with("\"activation_function\": \"relu\""), weights);
  CHECK(has(e, "config.json") && has(e, "activation_function"), "unsupported activation named: " + e);
  CHECK(load(with("\"activation_function\": \"gelu_pytorch_tanh\""), weights).empty(), "gelu_pytorch_tanh accepted");
  e = load(with("\"scale_attn_by_inverse_layer_idx\": true"), weights);
  CHECK(has(e, "scale_attn_by_inverse_layer_idx"), "scale_attn_by_inverse_layer_idx named: " + e);
  e = load(with("\"add_cross_attention\": true"), weights);
  CHECK(has(e, "add_cross_attention"), "add_cross_attention named: " + e);
  e = load(with("\"n_embd\": 32"), weights);
  CHECK(has(e, "wte.weight") && has(e, "[256, 64]") && has(e, "[256, 32]"), "shape mismatch names tensor and shapes: " + e);
  e = load(with("\"n_layer\": 1"), weights);
  CHECK(has(e, "h.1.") && has(e, "n_layer"), "extra layers in the file named: " + e);
  e = load(with("\"n_layer\": 3"), weights);
  CHECK(has(e, "h.2.") && has(e, "missing tensor"), "missing layer tensor named: " + e);
  e = load("{\"n_embd\": 64}", weights);
  CHECK(has(e, "config.json") && has(e, "vocab_size"), "missing config field named: " + e);
  spit(tmp + "/config.json", config);
  ::remove((tmp + "/model.safetensors").c_str());
  e = error_of([&] { load_model(tmp, 0); });
  CHECK(has(e, "model.safetensors") && has(e, "model.safetensors.index.json"), "absent weights named: " + e);

  e = error_of([&] { load_model("synthetic:gpt5", 0); });
  CHECK(has(e, "gpt5") && has(e, "gpt2-xl") && has(e, "tiny"), "unknown preset lists the known ones: " + e);
  const ModelConfig xl = synthetic_config("gpt2-xl");
  CHECK(xl.hidden_size == 1600 && xl.num_layers == 48 && xl.num_heads == 25 && xl.vocab_size == 50257 && xl.max_context == 1024,
        "gpt2-xl preset has GPT-2 XL's shape");
  const ModelWeights a = load_model("synthetic:tiny", 3), b = load_model("synthetic:tiny", 3), c = load_model("synthetic:tiny", 4);
  CHECK(a.tok_emb == b.tok_emb && a.layers[1].up.w == b.layers[1].up.w && a.tok_emb != c.tok_emb, "synthetic weights are seeded");

  // Llama-family configs: unsupported options are refused by name.
  {
    const std::string lfx = std::string(ATTNBENCH_FIXTURES_DIR) + "/llama-gqa";
    const std::string lconfig = slurp(lfx + "/config.json"), lweights = slurp(lfx + "/model.safetensors");
    auto lwith = [&](const std::string& key_json) {
      nlohmann::json j = nlohmann::json::parse(lconfig);
      j.update(nlohmann::json::parse("{" + key_json + "}"));
      return j.dump();
    };
    CHECK(load(lconfig, lweights).empty(), "the Llama fixture loads");
    e = load(lwith("\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"rope_theta\": 10000.0}"), lweights);
    CHECK(has(e, "config.json") && has(e, "yarn") && has(e, "llama3"), "unsupported rope type named: " + e);
    e = load(lwith("\"rope_parameters\": null, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"), lweights);
    CHECK(has(e, "rope_scaling") && has(e, "linear"), "old-style rope_scaling type named: " + e);
    e = load(lwith("\"hidden_act\": \"gelu\""), lweights);
    CHECK(has(e, "hidden_act") && has(e, "gelu"), "unsupported activation named: " + e);
    e = load(lwith("\"partial_rotary_factor\": 0.5"), lweights);
    CHECK(has(e, "partial_rotary_factor"), "partial rotary named: " + e);
    e = load(lwith("\"architectures\": [\"FalconForCausalLM\"], \"model_type\": \"falcon\""), lweights);
    CHECK(has(e, "FalconForCausalLM") && has(e, "LlamaForCausalLM") && has(e, "Qwen3ForCausalLM"),
          "unknown architecture lists the supported ones: " + e);
    e = load(lwith("\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"use_sliding_window\": true"), lweights);
    CHECK(has(e, "use_sliding_window"), "Qwen sliding window named: " + e);
    e = load(lwith("\"num_key_value_heads\": 3"), lweights);
    CHECK(has(e, "num_key_value_heads") || has(e, "multiple"), "heads not a multiple of kv heads named: " + e);
    e = load(lwith("\"num_hidden_layers\": 3"), lweights);
    CHECK(has(e, "model.layers.2.") && has(e, "missing tensor"), "missing Llama layer tensor named: " + e);
    e = load(lwith("\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": \"qwen3\", \"head_dim\": 16"), lweights);
    CHECK(has(e, "q_norm"), "Qwen3 without q/k norm tensors named: " + e);
    // Fields as real hub configs write them: nulls (Qwen2.5 / Qwen3 / Llama 2: "rope_scaling": null;
    // Mistral v0.3: "sliding_window": null; "head_dim": null), Qwen2.5's sliding-window fields with the
    // window off, Llama 2's pretraining_tp.
    CHECK(load(lwith("\"rope_scaling\": null, \"rope_parameters\": null, \"head_dim\": null, \"pretraining_tp\": 1"), lweights).empty(),
          "null rope_scaling / head_dim and pretraining_tp load");
    CHECK(load(lwith("\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"attention_bias\": false, "
                     "\"use_sliding_window\": false, \"sliding_window\": 131072, \"max_window_layers\": 28"),
               lweights).find("use_sliding_window") == std::string::npos,
          "Qwen2.5's sliding-window fields with the window off are not refused");
    auto config_of = [&](const std::string& cfg) {
      spit(tmp + "/config.json", cfg);
      spit(tmp + "/model.safetensors", lweights);
      return load_model(tmp, 0).config;
    };
    const std::string mistral = "\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"max_position_embeddings\": 32768";
    CHECK(config_of(lwith(mistral + ", \"sliding_window\": null")).max_context == 32768, "Mistral sliding_window null: full context");
    CHECK(config_of(lwith(mistral + ", \"sliding_window\": 4096")).max_context == 4096, "Mistral sliding_window 4096: context 4096");
    // generation_config.json's EOS ids join config.json's (what HF generate() stops on).
    spit(tmp + "/generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [7, 9, 100000], \"do_sample\": true}");
    const ModelConfig gen = config_of(lwith("\"eos_token_id\": 9"));
    CHECK(gen.eos_token_ids == std::vector<int32_t>({9, 7}), "EOS from config.json then generation_config.json, in-vocabulary, once each");
    spit(tmp + "/generation_config.json", "{\"eos_token_id\": ");
    e = load(lconfig, lweights);
    CHECK(has(e, "generation_config.json") && has(e, "not valid JSON"), "a broken generation_config.json is named: " + e);
    ::remove((tmp + "/generation_config.json").c_str());
    const ModelConfig l8 = synthetic_config("llama-3.1-8b");
    CHECK(l8.hidden_size == 4096 && l8.num_layers == 32 && l8.num_kv_heads == 8 && l8.head_dim == 128 &&
              l8.ffn_size == 14336 && l8.vocab_size == 128256 && l8.rope.type == "llama3" && !l8.tied_embeddings,
          "llama-3.1-8b preset has Llama 3.1 8B's shape");
    const ModelConfig q8 = synthetic_config("qwen3-8b");
    CHECK(q8.hidden_size == 4096 && q8.num_layers == 36 && q8.head_dim == 128 && q8.qk_norm && q8.ffn_size == 12288,
          "qwen3-8b preset has Qwen3 8B's shape");
    ModelWeights lazy = load_model("synthetic:llama-tiny", 5, true), eager = load_model("synthetic:llama-tiny", 5);
    CHECK(!lazy.materialized() && eager.materialized(), "lazy synthetic weights stay recipes");
    lazy.materialize();
    CHECK(lazy.layers[1].up.w == eager.layers[1].up.w && lazy.tok_emb == eager.tok_emb, "a recipe expands to the eager values");
  }

  // Registry.
  bool naive_ok = false, fused_ok = false, fi_cuda_only = false;
  for (const auto& s : list_backends(Device::CPU, AttnPhase::Decode)) {
    naive_ok |= s.name == "naive" && s.status == "ok";
    fused_ok |= s.name == "fused" && s.status == "ok";
    fi_cuda_only |= s.name == "flashinfer" && s.status == "unavailable: CUDA only";
  }
  CHECK(naive_ok && fused_ok && fi_cuda_only, "CPU backends listed with their status");
  int cuda_listed = 0;
  for (const auto& s : list_backends(Device::CUDA, AttnPhase::Prefill)) {
    cuda_listed++;
    if (cuda_device_status() != "ok") CHECK(has(s.status, "unavailable: "), "CUDA backend " + s.name + ": " + s.status);
  }
  CHECK(cuda_listed >= 5, "every known CUDA backend listed");
  AttnDims dims;
  dims.num_heads = dims.num_kv_heads = 4;
  dims.head_dim = 16;
  dims.scale = 0.25f;
  dims.block_size = 16;
  dims.dtype = DType::F32;
  e = error_of([&] { make_prefill_attn("warp-speed", Device::CPU, dims); });
  CHECK(has(e, "warp-speed") && has(e, "unknown") && has(e, "naive, fused"), "unknown backend lists available: " + e);
  e = error_of([&] { make_decode_attn("flashinfer", Device::CPU, dims); });
  CHECK(has(e, "CUDA only") && has(e, "naive"), "CUDA-only backend refused on CPU: " + e);
  return attnbench_test::finish("test_loader");
}
