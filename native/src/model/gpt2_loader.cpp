// load_gpt2: a Hugging Face GPT-2 directory (config.json + model.safetensors, or a sharded
// model.safetensors.index.json) or synthetic:<preset>.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "model/config_json.h"
#include "model/gpt2_weights.h"
#include "model/safetensors.h"
#include "model/synthetic.h"

namespace attnbench {

namespace {

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Hub checkpoints name tensors "h.0.attn.c_attn.weight"; save_pretrained writes
// "transformer.h.0.attn.c_attn.weight". Both map to the short name.
std::string short_name(const std::string& key) {
  const std::string prefix = "transformer.";
  return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
}

bool is_ignored_buffer(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias");
}

// Every tensor of the checkpoint, by short name, with the file that holds it.
class TensorIndex {
 public:
  void add_file(const std::string& path) {
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    const SafetensorsFile* f = files_.back().get();
    for (const auto& kv : f->tensors()) {
      const std::string name = short_name(kv.first);
      if (is_ignored_buffer(name)) continue;
      if (where_.count(name))
        throw std::runtime_error(path + ": tensor \"" + kv.first + "\" appears twice (also in " +
                                 where_[name].first->path() + ")");
      where_[name] = {f, kv.first};
    }
  }
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  std::vector<float> read(const std::string& name, std::vector<int64_t> shape) {
    auto it = where_.find(name);
    if (it == where_.end()) {
      std::string files;
      for (const auto& f : files_) files += (files.empty() ? "" : ", ") + f->path();
      throw std::runtime_error(files + ": missing tensor \"" + name + "\" (or \"transformer." + name + "\")");
    }
    used_.insert(name);
    return it->second.first->read_f32(it->second.second, shape);
  }
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& kv : where_)
      if (!used_.count(kv.first)) out.push_back(kv.first);
    return out;
  }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, std::string>> where_;
  std::set<std::string> used_;
};

void open_checkpoint(const std::string& dir, TensorIndex& index) {
  const std::string single = dir + "/model.safetensors";
  const std::string sharded = dir + "/model.safetensors.index.json";
  if (file_exists(single)) {
    index.add_file(single);
    return;
  }
  if (!file_exists(sharded))
    throw std::runtime_error(dir + ": no model.safetensors or model.safetensors.index.json (only safetensors "
                                   "checkpoints are read; pytorch_model.bin is not)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(sharded));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(sharded + ": not valid JSON: " + e.what());
  }
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    throw std::runtime_error(sharded + ": missing object \"weight_map\"");
  std::set<std::string> shards;
  for (const auto& kv : j["weight_map"].items()) {
    if (!kv.value().is_string()) throw std::runtime_error(sharded + ": weight_map[\"" + kv.key() + "\"] is not a file name");
    const std::string shard = kv.value().get<std::string>();
    if (shard.find('/') != std::string::npos) throw std::runtime_error(sharded + ": shard name \"" + shard + "\" has a '/'");
    shards.insert(shard);
  }
  if (shards.empty()) throw std::runtime_error(sharded + ": weight_map is empty");
  for (const auto& s : shards) index.add_file(dir + "/" + s);
}

}  // namespace

Gpt2Weights load_gpt2(const std::string& model_spec, uint64_t seed) {
  const std::string synth = "synthetic:";
  if (model_spec.compare(0, synth.size(), synth) == 0) return make_synthetic_gpt2(model_spec.substr(synth.size()), seed);

  std::string dir = model_spec;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error(dir + ": not a directory (expected a Hugging Face GPT-2 directory or synthetic:<preset>)");
  const std::string config_path = dir + "/config.json";
  if (!file_exists(config_path)) throw std::runtime_error(config_path + ": missing");

  Gpt2Weights w;
  w.config = parse_gpt2_config(read_text(config_path), config_path);
  w.config.name = model_spec;
  const ModelConfig& c = w.config;
  const int64_t V = c.vocab_size, P = c.n_ctx, E = c.n_embd, I = c.n_inner;

  TensorIndex ix;
  open_checkpoint(dir, ix);
  w.wte = ix.read("wte.weight", {V, E});
  w.wpe = ix.read("wpe.weight", {P, E});
  w.layers.resize(c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2Layer& L = w.layers[l];
    L.ln_1_w = ix.read(h + "ln_1.weight", {E});
    L.ln_1_b = ix.read(h + "ln_1.bias", {E});
    L.attn_c_attn_w = ix.read(h + "attn.c_attn.weight", {E, 3 * E});
    L.attn_c_attn_b = ix.read(h + "attn.c_attn.bias", {3 * E});
    L.attn_c_proj_w = ix.read(h + "attn.c_proj.weight", {E, E});
    L.attn_c_proj_b = ix.read(h + "attn.c_proj.bias", {E});
    L.ln_2_w = ix.read(h + "ln_2.weight", {E});
    L.ln_2_b = ix.read(h + "ln_2.bias", {E});
    L.mlp_c_fc_w = ix.read(h + "mlp.c_fc.weight", {E, I});
    L.mlp_c_fc_b = ix.read(h + "mlp.c_fc.bias", {I});
    L.mlp_c_proj_w = ix.read(h + "mlp.c_proj.weight", {I, E});
    L.mlp_c_proj_b = ix.read(h + "mlp.c_proj.bias", {E});
  }
  w.ln_f_w = ix.read("ln_f.weight", {E});
  w.ln_f_b = ix.read("ln_f.bias", {E});
  if (ix.has("lm_head.weight")) {
    w.lm_head = ix.read("lm_head.weight", {V, E});
    if (w.lm_head == w.wte) w.lm_head.clear();  // tied: keep one copy
  }
  for (const auto& name : ix.unused()) {
    if (name.compare(0, 2, "h.") == 0)
      throw std::runtime_error(dir + ": tensor \"" + name + "\" is not part of a " + std::to_string(c.n_layer) +
                               "-layer GPT-2 (does config.json's n_layer match the checkpoint?)");
    std::fprintf(stderr, "attnbench: %s: ignoring unexpected tensor \"%s\"\n", dir.c_str(), name.c_str());
  }
  return w;
}

}  // namespace attnbench
