#include "models/checkpoint.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnbench {

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool is_regular_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Checkpoint::Checkpoint(const std::string& dir, Normalize normalize) : dir_(dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string sharded = dir + "/model.safetensors.index.json";
  if (is_regular_file(single)) {
    add_file(single, normalize);
    return;
  }
  if (!is_regular_file(sharded))
    throw std::runtime_error(dir + ": no model.safetensors or model.safetensors.index.json (only safetensors "
                                   "checkpoints are read; pytorch_model.bin is not)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(sharded));
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
  for (const auto& s : shards) add_file(dir + "/" + s, normalize);
}

void Checkpoint::add_file(const std::string& path, const Normalize& normalize) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  const SafetensorsFile* f = files_.back().get();
  for (const auto& kv : f->tensors()) {
    const std::string name = normalize(kv.first);
    if (name.empty()) continue;
    if (where_.count(name))
      throw std::runtime_error(path + ": tensor \"" + kv.first + "\" appears twice (also in " + where_[name].first->path() + ")");
    where_[name] = {f, kv.first};
  }
}

std::vector<float> Checkpoint::read(const std::string& name, const std::vector<int64_t>& shape) {
  auto it = where_.find(name);
  if (it == where_.end()) {
    std::string files;
    for (const auto& f : files_) files += (files.empty() ? "" : ", ") + f->path();
    throw std::runtime_error(files + ": missing tensor \"" + name + "\"");
  }
  used_.insert(name);
  return it->second.first->read_f32(it->second.second, shape);
}

std::string Checkpoint::dtype_of(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? "" : it->second.first->tensors().at(it->second.second).dtype;
}

std::vector<std::string> Checkpoint::unused() const {
  std::vector<std::string> out;
  for (const auto& kv : where_)
    if (!used_.count(kv.first)) out.push_back(kv.first);
  return out;
}

void ConfigFields::fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

bool ConfigFields::present(const char* key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

int ConfigFields::positive_int(const char* key, bool required, int fallback) const {
  if (!present(key)) {
    if (required) fail(std::string("missing field \"") + key + "\"");
    return fallback;
  }
  const auto& v = j_.at(key);
  if (!v.is_number_integer()) fail(std::string("field \"") + key + "\" must be an integer");
  const long long n = v.get<long long>();
  if (n <= 0 || n > (1 << 30)) fail(std::string("field \"") + key + "\" out of range: " + std::to_string(n));
  return (int)n;
}

float ConfigFields::number(const char* key, float fallback) const {
  if (!present(key)) return fallback;
  if (!j_.at(key).is_number()) fail(std::string("field \"") + key + "\" must be a number");
  return j_.at(key).get<float>();
}

bool ConfigFields::boolean(const char* key, bool fallback) const {
  if (!present(key)) return fallback;
  if (!j_.at(key).is_boolean()) fail(std::string("field \"") + key + "\" must be a boolean");
  return j_.at(key).get<bool>();
}

std::string ConfigFields::string(const char* key, const std::string& fallback) const {
  if (!present(key)) return fallback;
  if (!j_.at(key).is_string()) fail(std::string("field \"") + key + "\" must be a string");
  return j_.at(key).get<std::string>();
}

void ConfigFields::refuse_if(const char* key, bool unsupported_value, const char* why) const {
  if (!present(key)) return;
  if (boolean(key, !unsupported_value) == unsupported_value)
    fail(std::string("unsupported \"") + key + "\": " + (unsupported_value ? "true" : "false") + " (" + why + ")");
}

std::vector<int32_t> ConfigFields::eos_ids(int vocab_size, std::vector<int32_t> fallback) const {
  std::vector<int32_t> ids;
  if (present("eos_token_id")) {
    const auto& v = j_.at("eos_token_id");
    if (v.is_number_integer()) {
      ids.push_back(v.get<int32_t>());
    } else if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_number_integer()) fail("field \"eos_token_id\" must be an integer or a list of integers");
        ids.push_back(e.get<int32_t>());
      }
    } else {
      fail("field \"eos_token_id\" must be an integer or a list of integers");
    }
  } else {
    ids = std::move(fallback);
  }
  std::vector<int32_t> in_vocab;
  for (int32_t id : ids)
    if (id >= 0 && id < vocab_size) in_vocab.push_back(id);  // an id outside this vocabulary: no EOS
  return in_vocab;
}

}  // namespace attnbench
