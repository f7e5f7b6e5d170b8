// GPT-2 (GPT2LMHeadModel): LayerNorm with bias, learned positions, GELU (tanh) MLP, biases everywhere,
// tied embeddings. HF stores its projections as Conv1D [in, out]; they are transposed to [out, in] here.
#include <cstdio>
#include <stdexcept>

#include "models/registry.h"
#include "models/synthetic.h"

namespace attnbench {

namespace {

ModelConfig parse_gpt2(const ConfigFields& cfg) {
  const auto& j = cfg.json();
  if (cfg.present("activation_function")) {
    const auto& a = j["activation_function"];
    if (!a.is_string() || (a != "gelu_new" && a != "gelu_pytorch_tanh"))
      cfg.fail("unsupported \"activation_function\": " + a.dump() + " (only gelu_new, gelu_pytorch_tanh)");
  }
  cfg.refuse_if("scale_attn_by_inverse_layer_idx", true, "per-layer attention scaling is not implemented");
  cfg.refuse_if("scale_attn_weights", false, "unscaled attention is not implemented");
  cfg.refuse_if("add_cross_attention", true, "cross-attention is not implemented");
  // reorder_and_upcast_attn only changes precision handling in fp16; irrelevant for our fp32 math.

  ModelConfig c;
  c.vocab_size = cfg.positive_int("vocab_size", true, 0);
  // Old configs spell the context n_ctx; n_positions wins when both exist.
  c.max_context = cfg.present("n_positions") ? cfg.positive_int("n_positions", true, 0) : cfg.positive_int("n_ctx", true, 0);
  c.hidden_size = cfg.positive_int("n_embd", true, 0);
  c.num_layers = cfg.positive_int("n_layer", true, 0);
  c.num_heads = cfg.positive_int("n_head", true, 0);
  c.num_kv_heads = c.num_heads;
  c.ffn_size = cfg.positive_int("n_inner", false, 4 * c.hidden_size);
  if (c.hidden_size % c.num_heads != 0)
    cfg.fail("n_embd " + std::to_string(c.hidden_size) + " is not divisible by n_head " + std::to_string(c.num_heads));
  c.head_dim = c.hidden_size / c.num_heads;
  c.norm = NormKind::LayerNorm;
  c.norm_eps = cfg.number("layer_norm_epsilon", 1e-5f);
  if (!(c.norm_eps > 0.0f)) cfg.fail("field \"layer_norm_epsilon\" must be > 0");
  c.activation = Activation::GeluTanh;
  c.positions = PositionKind::Learned;
  c.qkv_bias = c.attn_out_bias = c.mlp_bias = true;
  c.tied_embeddings = true;  // an lm_head.weight in the file, when different, is used (load_weights)
  c.eos_token_ids = cfg.eos_ids(c.vocab_size, {50256});
  return c;
}

// Hub checkpoints name tensors "h.0.attn.c_attn.weight"; save_pretrained writes
// "transformer.h.0.attn.c_attn.weight". Both map to the short name; attention mask buffers are ignored.
std::string normalize_gpt2(const std::string& key) {
  const std::string prefix = "transformer.";
  const std::string name = key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
  auto ends_with = [&](const std::string& s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias") ? "" : name;
}

// [rows, cols] -> [cols, rows]
std::vector<float> transpose(const std::vector<float>& a, int rows, int cols) {
  std::vector<float> t(a.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t[(size_t)c * rows + r] = a[(size_t)r * cols + c];
  return t;
}

// A Conv1D weight [in, out] and bias [out] as a LinearWeights [out, in].
LinearWeights conv1d(std::vector<float> w_in_out, std::vector<float> b, int in, int out) {
  LinearWeights l;
  l.in = in;
  l.out = out;
  l.w = transpose(w_in_out, in, out);
  l.b = std::move(b);
  return l;
}

void load_gpt2(ModelWeights& w, Checkpoint& ix) {
  const ModelConfig& c = w.config;
  const int64_t V = c.vocab_size, P = c.max_context, E = c.hidden_size, I = c.ffn_size;
  w.tok_emb = ix.read("wte.weight", {V, E});
  w.pos_emb = ix.read("wpe.weight", {P, E});
  w.layers.resize(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[l];
    L.attn_norm = {ix.read(h + "ln_1.weight", {E}), ix.read(h + "ln_1.bias", {E})};
    L.qkv = conv1d(ix.read(h + "attn.c_attn.weight", {E, 3 * E}), ix.read(h + "attn.c_attn.bias", {3 * E}), E, 3 * E);
    L.attn_out = conv1d(ix.read(h + "attn.c_proj.weight", {E, E}), ix.read(h + "attn.c_proj.bias", {E}), E, E);
    L.mlp_norm = {ix.read(h + "ln_2.weight", {E}), ix.read(h + "ln_2.bias", {E})};
    L.up = conv1d(ix.read(h + "mlp.c_fc.weight", {E, I}), ix.read(h + "mlp.c_fc.bias", {I}), E, I);
    L.down = conv1d(ix.read(h + "mlp.c_proj.weight", {I, E}), ix.read(h + "mlp.c_proj.bias", {E}), I, E);
  }
  w.final_norm = {ix.read("ln_f.weight", {E}), ix.read("ln_f.bias", {E})};
  if (ix.has("lm_head.weight")) {
    w.lm_head = ix.read("lm_head.weight", {V, E});
    if (w.lm_head == w.tok_emb) w.lm_head.clear();  // tied: keep one copy
    else w.config.tied_embeddings = false;
  }
  for (const auto& name : ix.unused()) {
    if (name.compare(0, 2, "h.") == 0)
      throw std::runtime_error(ix.dir() + ": tensor \"" + name + "\" is not part of a " + std::to_string(c.num_layers) +
                               "-layer GPT-2 (does config.json's n_layer match the checkpoint?)");
    std::fprintf(stderr, "attnbench: %s: ignoring unexpected tensor \"%s\"\n", ix.dir().c_str(), name.c_str());
  }
}

// The tensors in the order (and Conv1D layout) of the seed engine's generator, so synthetic GPT-2
// models keep their exact weights. Always eager: the transposes need the values.
void synthetic_gpt2(ModelWeights& w, uint64_t seed, bool /*lazy*/) {
  const ModelConfig& c = w.config;
  const int E = c.hidden_size, I = c.ffn_size;
  SyntheticTensors r(seed);
  w.tok_emb = r.linear((size_t)c.vocab_size * E);
  w.pos_emb = r.linear((size_t)c.max_context * E);
  w.layers.resize(c.num_layers);
  for (auto& L : w.layers) {
    L.attn_norm.w = r.norm(E);
    L.attn_norm.b = r.linear(E);
    auto qkv_w = r.linear((size_t)E * 3 * E);
    L.qkv = conv1d(qkv_w, r.linear(3 * E), E, 3 * E);
    auto proj_w = r.linear((size_t)E * E);
    L.attn_out = conv1d(proj_w, r.linear(E), E, E);
    L.mlp_norm.w = r.norm(E);
    L.mlp_norm.b = r.linear(E);
    auto fc_w = r.linear((size_t)E * I);
    L.up = conv1d(fc_w, r.linear(I), E, I);
    auto fc_proj_w = r.linear((size_t)I * E);
    L.down = conv1d(fc_proj_w, r.linear(E), I, E);
  }
  w.final_norm.w = r.norm(E);
  w.final_norm.b = r.linear(E);
}

SyntheticPreset preset(const char* name, int vocab, int n_ctx, int hidden, int layers, int heads, int eos) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.max_context = n_ctx;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.num_heads = c.num_kv_heads = heads;
  c.head_dim = hidden / heads;
  c.ffn_size = 4 * hidden;
  c.norm = NormKind::LayerNorm;
  c.norm_eps = 1e-5f;
  c.activation = Activation::GeluTanh;
  c.positions = PositionKind::Learned;
  c.qkv_bias = c.attn_out_bias = c.mlp_bias = true;
  c.tied_embeddings = true;
  c.eos_token_ids = {eos};
  return {name, c};
}

ModelFamily gpt2_family() {
  ModelFamily f;
  f.name = "gpt2";
  f.architectures = {"GPT2LMHeadModel"};
  f.model_types = {"gpt2"};
  f.parse_config = parse_gpt2;
  f.normalize_name = normalize_gpt2;
  f.load_weights = load_gpt2;
  f.make_synthetic = synthetic_gpt2;
  f.presets = {
      preset("tiny", 1024, 256, 64, 2, 4, 1023),
      preset("gpt2", 50257, 1024, 768, 12, 12, 50256),
      preset("gpt2-medium", 50257, 1024, 1024, 24, 16, 50256),
      preset("gpt2-large", 50257, 1024, 1280, 36, 20, 50256),
      preset("gpt2-xl", 50257, 1024, 1600, 48, 25, 50256),
  };
  return f;
}

}  // namespace

ATTNBENCH_REGISTER_MODEL(gpt2_family());

}  // namespace attnbench
