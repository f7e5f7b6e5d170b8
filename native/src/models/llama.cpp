// Llama-style decoders: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
// RMSNorm, rotary embedding (default or llama3 scaling), SwiGLU MLP, GQA/MQA, untied or tied
// embeddings; Qwen2 adds q/k/v biases, Qwen3 per-head q/k RMSNorm and an explicit head_dim.
// Tensors are nn.Linear [out, in] already: q | k | v and gate | up are concatenated on load.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "models/registry.h"
#include "models/synthetic.h"

namespace attnbench {

namespace {

enum class Variant { Llama, Mistral, Qwen2, Qwen3 };

Variant variant_of(const ConfigFields& cfg) {
  const auto& j = cfg.json();
  std::vector<std::string> archs;
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a.is_string()) archs.push_back(a.get<std::string>());
  const std::string type = cfg.string("model_type", "");
  auto is = [&](const char* arch, const char* mtype) {
    return std::find(archs.begin(), archs.end(), arch) != archs.end() || (archs.empty() && type == mtype);
  };
  if (is("Qwen3ForCausalLM", "qwen3")) return Variant::Qwen3;
  if (is("Qwen2ForCausalLM", "qwen2")) return Variant::Qwen2;
  if (is("MistralForCausalLM", "mistral")) return Variant::Mistral;
  return Variant::Llama;
}

// rope_parameters (transformers >= 5) or rope_theta + rope_scaling (the hub's older configs).
RopeConfig parse_rope(const ConfigFields& cfg, int max_context) {
  const auto& j = cfg.json();
  RopeConfig r;
  r.theta = cfg.number("rope_theta", 10000.0f);
  const char* key = cfg.present("rope_parameters") ? "rope_parameters" : cfg.present("rope_scaling") ? "rope_scaling" : nullptr;
  if (!key) return r;
  const auto& p = j[key];
  if (!p.is_object()) cfg.fail(std::string("field \"") + key + "\" must be an object");
  const ConfigFields rp(p, cfg.path() + " (" + key + ")");
  if (rp.present("rope_theta")) r.theta = rp.number("rope_theta", r.theta);
  r.type = rp.string("rope_type", rp.string("type", "default"));
  if (r.type == "default") return r;
  if (r.type != "llama3")
    cfg.fail(std::string("unsupported \"") + key + "\" rope_type \"" + r.type + "\" (supported: default, llama3)");
  r.factor = rp.number("factor", 0.0f);
  r.low_freq_factor = rp.number("low_freq_factor", 0.0f);
  r.high_freq_factor = rp.number("high_freq_factor", 0.0f);
  r.original_max_position = rp.positive_int("original_max_position_embeddings", false, max_context);
  if (!(r.factor > 0) || !(r.low_freq_factor > 0) || !(r.high_freq_factor > r.low_freq_factor))
    cfg.fail(std::string("\"") + key + "\" (llama3) needs factor > 0 and high_freq_factor > low_freq_factor > 0");
  return r;
}

ModelConfig parse_llama(const ConfigFields& cfg) {
  const Variant v = variant_of(cfg);
  ModelConfig c;
  c.vocab_size = cfg.positive_int("vocab_size", true, 0);
  c.hidden_size = cfg.positive_int("hidden_size", true, 0);
  c.ffn_size = cfg.positive_int("intermediate_size", true, 0);
  c.num_layers = cfg.positive_int("num_hidden_layers", true, 0);
  c.num_heads = cfg.positive_int("num_attention_heads", true, 0);
  c.num_kv_heads = cfg.positive_int("num_key_value_heads", false, c.num_heads);
  c.max_context = cfg.positive_int("max_position_embeddings", false, v == Variant::Qwen2 || v == Variant::Qwen3 ? 32768 : 2048);
  // Qwen3's default head_dim is 128; the others derive it unless the config gives it.
  const int derived = c.hidden_size / c.num_heads;
  c.head_dim = cfg.positive_int("head_dim", false, v == Variant::Qwen3 ? 128 : derived);
  if (!cfg.present("head_dim") && v != Variant::Qwen3 && c.hidden_size % c.num_heads != 0)
    cfg.fail("hidden_size " + std::to_string(c.hidden_size) + " is not divisible by num_attention_heads " +
             std::to_string(c.num_heads) + " (and no head_dim is given)");
  c.norm = NormKind::RMSNorm;
  c.norm_eps = cfg.number("rms_norm_eps", 1e-6f);
  if (!(c.norm_eps > 0.0f)) cfg.fail("field \"rms_norm_eps\" must be > 0");
  const std::string act = cfg.string("hidden_act", cfg.string("hidden_activation", "silu"));
  if (act != "silu" && act != "swish") cfg.fail("unsupported \"hidden_act\": \"" + act + "\" (only silu)");
  c.activation = Activation::Silu;
  c.gated_mlp = true;
  c.positions = PositionKind::Rope;
  c.rope = parse_rope(cfg, c.max_context);
  if (cfg.present("partial_rotary_factor") && cfg.number("partial_rotary_factor", 1.0f) != 1.0f)
    cfg.fail("unsupported \"partial_rotary_factor\" (rotary embedding over part of a head is not implemented)");
  const bool attn_bias = cfg.boolean("attention_bias", false);
  c.qkv_bias = v == Variant::Qwen2 || attn_bias;    // Qwen2: q/k/v always have biases, o_proj never
  c.attn_out_bias = v != Variant::Qwen2 && attn_bias;
  c.mlp_bias = cfg.boolean("mlp_bias", false);
  c.qk_norm = v == Variant::Qwen3;
  c.tied_embeddings = cfg.boolean("tie_word_embeddings", false);
  // Sliding-window attention changes the math past the window: refused (Qwen) or, for Mistral, the
  // context is limited to the window, inside which the model is exact.
  if (v == Variant::Qwen2 || v == Variant::Qwen3) {
    if (cfg.boolean("use_sliding_window", false))
      cfg.fail("unsupported \"use_sliding_window\": true (sliding-window attention is not implemented)");
    if (cfg.present("layer_types")) {
      for (const auto& t : cfg.json()["layer_types"])
        if (!t.is_string() || t != "full_attention")
          cfg.fail("unsupported \"layer_types\" entry " + t.dump() + " (only full_attention)");
    }
  } else if (v == Variant::Mistral) {
    const int window = cfg.json().contains("sliding_window") ? cfg.positive_int("sliding_window", false, 0) : 4096;
    if (window > 0 && window < c.max_context) {
      std::fprintf(stderr, "attnbench: %s: sliding_window %d < max_position_embeddings %d: context limited to %d tokens\n",
                   cfg.path().c_str(), window, c.max_context, window);
      c.max_context = window;
    }
  }
  const std::string dt = cfg.string("torch_dtype", cfg.string("dtype", "float32"));
  c.file_dtype = dt == "bfloat16" ? DType::BF16 : dt == "float16" ? DType::F16 : DType::F32;
  c.eos_token_ids = cfg.eos_ids(c.vocab_size, {});
  return c;
}

// Stored names -> the names load_llama reads. Rotary buffers some exports include are ignored.
std::string normalize_llama(const std::string& key) {
  const std::string suffix = "rotary_emb.inv_freq";
  if (key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) return "";
  return key;
}

std::vector<float> concat(std::initializer_list<const std::vector<float>*> parts) {
  size_t n = 0;
  for (const auto* p : parts) n += p->size();
  std::vector<float> out;
  out.reserve(n);
  for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

void load_llama(ModelWeights& w, Checkpoint& ix) {
  const ModelConfig& c = w.config;
  const int64_t V = c.vocab_size, E = c.hidden_size, F = c.ffn_size, QD = c.q_dim(), KD = c.kv_dim(), D = c.head_dim;
  w.tok_emb = ix.read("model.embed_tokens.weight", {V, E});
  w.layers.resize(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[l];
    L.attn_norm.w = ix.read(p + "input_layernorm.weight", {E});
    const auto q = ix.read(p + "self_attn.q_proj.weight", {QD, E}), k = ix.read(p + "self_attn.k_proj.weight", {KD, E}),
               vv = ix.read(p + "self_attn.v_proj.weight", {KD, E});
    L.qkv.out = (int)(QD + 2 * KD);
    L.qkv.in = (int)E;
    L.qkv.w = concat({&q, &k, &vv});
    if (c.qkv_bias) {
      const auto qb = ix.read(p + "self_attn.q_proj.bias", {QD}), kb = ix.read(p + "self_attn.k_proj.bias", {KD}),
                 vb = ix.read(p + "self_attn.v_proj.bias", {KD});
      L.qkv.b = concat({&qb, &kb, &vb});
    }
    if (c.qk_norm) {
      L.q_norm.w = ix.read(p + "self_attn.q_norm.weight", {D});
      L.k_norm.w = ix.read(p + "self_attn.k_norm.weight", {D});
    }
    L.attn_out.out = (int)E;
    L.attn_out.in = (int)QD;
    L.attn_out.w = ix.read(p + "self_attn.o_proj.weight", {E, QD});
    if (c.attn_out_bias) L.attn_out.b = ix.read(p + "self_attn.o_proj.bias", {E});
    L.mlp_norm.w = ix.read(p + "post_attention_layernorm.weight", {E});
    const auto gate = ix.read(p + "mlp.gate_proj.weight", {F, E}), up = ix.read(p + "mlp.up_proj.weight", {F, E});
    L.up.out = (int)(2 * F);
    L.up.in = (int)E;
    L.up.w = concat({&gate, &up});
    L.down.out = (int)E;
    L.down.in = (int)F;
    L.down.w = ix.read(p + "mlp.down_proj.weight", {E, F});
    if (c.mlp_bias) {
      const auto gb = ix.read(p + "mlp.gate_proj.bias", {F}), ub = ix.read(p + "mlp.up_proj.bias", {F});
      L.up.b = concat({&gb, &ub});
      L.down.b = ix.read(p + "mlp.down_proj.bias", {E});
    }
  }
  w.final_norm.w = ix.read("model.norm.weight", {E});
  if (ix.has("lm_head.weight")) {
    w.lm_head = ix.read("lm_head.weight", {V, E});
    if (w.lm_head == w.tok_emb) w.lm_head.clear();  // tied in fact: keep one copy
  } else if (!c.tied_embeddings) {
    throw std::runtime_error(ix.dir() + ": missing tensor \"lm_head.weight\" (tie_word_embeddings is false)");
  }
  w.config.tied_embeddings = !w.lm_head.present();
  for (const auto& name : ix.unused()) {
    if (name.compare(0, 13, "model.layers.") == 0)
      throw std::runtime_error(ix.dir() + ": tensor \"" + name + "\" is not part of this " +
                               std::to_string(c.num_layers) + "-layer model (does config.json match the checkpoint?)");
    throw std::runtime_error(ix.dir() + ": unexpected tensor \"" + name + "\" (not read by this model family)");
  }
}

// Canonical layout straight away (q | k | v, gate | up), so the tensors can stay recipes.
void synthetic_llama(ModelWeights& w, uint64_t seed, bool lazy) {
  const ModelConfig& c = w.config;
  const size_t E = c.hidden_size, F = c.ffn_size;
  SyntheticTensors r(seed, lazy);
  w.tok_emb = r.linear((size_t)c.vocab_size * E);
  w.layers.resize(c.num_layers);
  for (auto& L : w.layers) {
    L.attn_norm.w = r.norm(E);
    L.qkv = {c.qkv_dim(), (int)E, r.linear((size_t)c.qkv_dim() * E), {}};
    if (c.qkv_bias) L.qkv.b = r.linear(c.qkv_dim());
    if (c.qk_norm) {
      L.q_norm.w = r.norm(c.head_dim);
      L.k_norm.w = r.norm(c.head_dim);
    }
    L.attn_out = {(int)E, c.q_dim(), r.linear(E * c.q_dim()), {}};
    if (c.attn_out_bias) L.attn_out.b = r.linear(E);
    L.mlp_norm.w = r.norm(E);
    L.up = {(int)(2 * F), (int)E, r.linear(2 * F * E), {}};
    L.down = {(int)E, (int)F, r.linear(E * F), {}};
  }
  w.final_norm.w = r.norm(E);
  if (!c.tied_embeddings) w.lm_head = r.linear((size_t)c.vocab_size * E);
}

struct Shape {
  int vocab, ctx, hidden, layers, heads, kv_heads, head_dim, ffn;
};

ModelConfig llama_config(const Shape& s, float theta, bool llama3_scaling, float factor, bool tied, float eps,
                         std::vector<int32_t> eos) {
  ModelConfig c;
  c.vocab_size = s.vocab;
  c.max_context = s.ctx;
  c.hidden_size = s.hidden;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.ffn_size = s.ffn;
  c.norm = NormKind::RMSNorm;
  c.norm_eps = eps;
  c.activation = Activation::Silu;
  c.gated_mlp = true;
  c.positions = PositionKind::Rope;
  c.rope.theta = theta;
  if (llama3_scaling) {
    c.rope.type = "llama3";
    c.rope.factor = factor;
    c.rope.low_freq_factor = 1.0f;
    c.rope.high_freq_factor = 4.0f;
    c.rope.original_max_position = 8192;
  }
  c.tied_embeddings = tied;
  c.file_dtype = DType::BF16;
  c.eos_token_ids = std::move(eos);
  return c;
}

ModelFamily llama_family() {
  ModelFamily f;
  f.name = "llama";
  f.architectures = {"LlamaForCausalLM", "MistralForCausalLM"};
  f.model_types = {"llama", "mistral"};
  f.parse_config = parse_llama;
  f.normalize_name = normalize_llama;
  f.load_weights = load_llama;
  f.make_synthetic = synthetic_llama;
  // Llama 3's: <|end_of_text|> 128001, <|eom_id|> 128008, <|eot_id|> 128009. The tiny one's vocabulary
  // is test/fixtures/tokenizer-tiny's (1024 ids): <|end_of_text|> 1020, <|eot_id|> 1023.
  f.presets = {
      {"llama-tiny", llama_config({1024, 8192, 256, 2, 4, 2, 64, 512}, 500000.0f, true, 8.0f, false, 1e-5f, {1020, 1023})},
      {"llama-3.2-1b", llama_config({128256, 131072, 2048, 16, 32, 8, 64, 8192}, 500000.0f, true, 32.0f, true, 1e-5f,
                                    {128001, 128008, 128009})},
      {"llama-3.1-8b", llama_config({128256, 131072, 4096, 32, 32, 8, 128, 14336}, 500000.0f, true, 8.0f, false, 1e-5f,
                                    {128001, 128008, 128009})},
  };
  return f;
}

ModelFamily qwen_family(const char* name, const char* arch, const char* type, bool qwen3) {
  ModelFamily f;
  f.name = name;
  f.architectures = {arch};
  f.model_types = {type};
  f.parse_config = parse_llama;
  f.normalize_name = normalize_llama;
  f.load_weights = load_llama;
  f.make_synthetic = synthetic_llama;
  auto qwen = [&](const Shape& s, bool tied, std::vector<int32_t> eos) {
    ModelConfig c = llama_config(s, 1000000.0f, false, 1.0f, tied, 1e-6f, std::move(eos));
    c.qk_norm = qwen3;
    c.qkv_bias = !qwen3;
    return c;
  };
  // <|endoftext|> 151643, <|im_end|> 151645; the tiny ones use test/fixtures/tokenizer-tiny's ids.
  if (qwen3) {
    f.presets = {
        {"qwen3-tiny", qwen({1024, 8192, 256, 2, 4, 2, 64, 512}, true, {1020, 1023})},
        {"qwen3-0.6b", qwen({151936, 40960, 1024, 28, 16, 8, 128, 3072}, true, {151643, 151645})},
        {"qwen3-8b", qwen({151936, 40960, 4096, 36, 32, 8, 128, 12288}, false, {151643, 151645})},
    };
  } else {
    f.presets = {{"qwen2-tiny", qwen({1024, 8192, 256, 2, 4, 1, 64, 512}, true, {1020, 1023})}};
  }
  return f;
}

}  // namespace

ATTNBENCH_REGISTER_MODEL(llama_family());
ATTNBENCH_REGISTER_MODEL(qwen_family("qwen2", "Qwen2ForCausalLM", "qwen2", false));
ATTNBENCH_REGISTER_MODEL(qwen_family("qwen3", "Qwen3ForCausalLM", "qwen3", true));

}  // namespace attnbench
