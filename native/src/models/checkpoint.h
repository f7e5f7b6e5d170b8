// defines: Checkpoint (a Hugging Face model directory: config.json + safetensors, single or sharded),
//          ConfigFields (typed reads of config.json that name the file and field on error)
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/safetensors.h"

namespace attnbench {

std::string read_text_file(const std::string& path);  // throws naming the path
bool is_regular_file(const std::string& path);

// Every tensor of a checkpoint directory (model.safetensors, or the shards model.safetensors.index.json
// names), by name. `normalize` maps a stored name to the name the family reads (e.g. strips
// "transformer."), or to "" for buffers to ignore.
class Checkpoint {
 public:
  using Normalize = std::function<std::string(const std::string&)>;
  Checkpoint(const std::string& dir, Normalize normalize);

  const std::string& dir() const { return dir_; }
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  // The tensor converted to fp32; throws naming the files when absent, or the shapes when they differ.
  std::vector<float> read(const std::string& name, const std::vector<int64_t>& shape);
  // The stored element type of a tensor ("F32", "BF16", ...).
  std::string dtype_of(const std::string& name) const;
  // Names never read.
  std::vector<std::string> unused() const;

 private:
  void add_file(const std::string& path, const Normalize& normalize);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, std::string>> where_;
  std::set<std::string> used_;
};

// Typed access to config.json; every error names the file and the field.
class ConfigFields {
 public:
  ConfigFields(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const;
  bool present(const char* key) const;  // present and not null
  // A positive integer (0 < v <= 2^30); `fallback` when absent and not required.
  int positive_int(const char* key, bool required, int fallback) const;
  float number(const char* key, float fallback) const;
  bool boolean(const char* key, bool fallback) const;
  std::string string(const char* key, const std::string& fallback) const;
  // A boolean option whose `unsupported_value` we do not implement.
  void refuse_if(const char* key, bool unsupported_value, const char* why) const;
  // eos_token_id as an integer or a list, kept where inside [0, vocab).
  std::vector<int32_t> eos_ids(int vocab_size, std::vector<int32_t> fallback) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace attnbench
