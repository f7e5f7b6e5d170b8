#include "protocol.h"

#include <time.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace attnbench {

using json = nlohmann::ordered_json;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

namespace {

// Messages may quote raw input, which need not be UTF-8: replace bad bytes instead of throwing.
std::string dumps(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct FieldError {
  std::string message;
};

int64_t int_field(const json& j, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw FieldError{std::string("\"") + key + "\" must be an integer"};
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    throw FieldError{std::string("\"") + key + "\" = " + std::to_string(v) + " out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]"};
  return v;
}

double num_field(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw FieldError{std::string("\"") + key + "\" must be a number"};
  const double v = it->get<double>();
  if (!std::isfinite(v)) throw FieldError{std::string("\"") + key + "\" must be finite"};
  return v;
}

bool bool_field(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw FieldError{std::string("\"") + key + "\" must be true or false"};
  return it->get<bool>();
}

std::vector<int32_t> token_array(const json& j, const char* key, int vocab_size, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw FieldError{std::string("missing \"") + key + "\""};
    return {};
  }
  if (!it->is_array()) throw FieldError{std::string("\"") + key + "\" must be an array of token ids"};
  std::vector<int32_t> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= vocab_size)
      throw FieldError{std::string("\"") + key + "\"[" + std::to_string(i) + "] = " + t.dump() +
                       " is not a token id in [0, " + std::to_string(vocab_size) + ")"};
    out.push_back((int32_t)t.get<int64_t>());
  }
  return out;
}

AddRequest parse_add(const json& j, int vocab_size) {
  AddRequest a;
  a.id = j["id"].get<std::string>();
  a.prompt = token_array(j, "prompt", vocab_size, true);
  if (a.prompt.empty()) throw FieldError{"\"prompt\" must not be empty"};
  a.max_tokens = (int)int_field(j, "max_tokens", 16, 1, 1 << 30);
  const double temp = num_field(j, "temperature", 1.0);
  if (temp < 0) throw FieldError{"\"temperature\" must be >= 0"};
  a.sampling.temperature = (float)temp;
  const double top_p = num_field(j, "top_p", 1.0);
  if (!(top_p > 0 && top_p <= 1)) throw FieldError{"\"top_p\" must be in (0, 1]"};
  a.sampling.top_p = (float)top_p;
  a.sampling.top_k = (int)int_field(j, "top_k", 0, 0, 1 << 30);
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer()) throw FieldError{"\"seed\" must be an integer"};
    a.sampling.seed = j["seed"].is_number_unsigned() ? j["seed"].get<uint64_t>() : (uint64_t)j["seed"].get<int64_t>();
    a.has_seed = true;
  }
  a.ignore_eos = bool_field(j, "ignore_eos", false);
  a.stop_token_ids = token_array(j, "stop_token_ids", vocab_size, false);
  a.sampling.want_logprobs = bool_field(j, "logprobs", false);
  a.sampling.top_logprobs = (int)int_field(j, "top_logprobs", 0, 0, kMaxTopLogprobs);
  return a;
}

}  // namespace

ParsedLine parse_op_line(const std::string& line, int vocab_size) {
  ParsedLine r;
  auto fail = [&](const std::string& code, const std::string& id, const std::string& msg, bool add_rejected = false) {
    r.error = ParseError{code, id, msg, add_rejected};
    return r;
  };
  if (line.size() > kMaxLineBytes)
    return fail("line_too_long", "", "line of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                                         std::to_string(kMaxLineBytes));
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    return fail("bad_json", "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return fail("bad_json", "", "a line must be a JSON object");
  auto op_it = j.find("op");
  if (op_it == j.end() || !op_it->is_string()) return fail("bad_op", "", "missing string field \"op\"");
  const std::string op = op_it->get<std::string>();
  Op out;
  if (op == "stats") {
    out.kind = OpKind::Stats;
  } else if (op == "shutdown") {
    out.kind = OpKind::Shutdown;
  } else if (op == "add" || op == "abort") {
    auto id_it = j.find("id");
    if (id_it == j.end() || !id_it->is_string() || id_it->get<std::string>().empty())
      return fail("bad_field", "", "\"" + op + "\" needs a non-empty string \"id\"");
    out.id = id_it->get<std::string>();
    if (op == "abort") {
      out.kind = OpKind::Abort;
    } else {
      out.kind = OpKind::Add;
      try {
        out.add = parse_add(j, vocab_size);
      } catch (const FieldError& e) {
        return fail("bad_field", out.id, e.message, true);
      }
    }
  } else {
    return fail("bad_op", j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "",
                "unknown op \"" + op + "\" (add, abort, stats, shutdown)");
  }
  r.op = out;
  return r;
}

// The hot event (one per request per step): formatted by hand, byte for byte what
// dumps(json{...}) gave (tok_event_slow in test_protocol checks it), without building an ordered map
// per event. The id and the logprob still go through the JSON library (escaping, float format).
std::string tok_event(const std::string& id, int32_t token, const float* logprob, uint64_t t_ns, const TopLogprobs* top) {
  std::string out;
  out.reserve(64 + id.size());
  out += "{\"ev\":\"tok\",\"id\":";
  out += json(id).dump(-1, ' ', false, json::error_handler_t::replace);
  out += ",\"tokens\":[";
  out += std::to_string(token);
  out += "],\"t_ns\":";
  out += std::to_string(t_ns);
  if (logprob) {
    out += ",\"logprobs\":[";
    out += json(*logprob).dump();
    out += ']';
  }
  if (top) {  // rare (a client asked for alternatives): built with the JSON library
    json per_token = json::array();
    for (const auto& [t, lp] : *top) per_token.push_back(json::array({t, lp}));
    out += ",\"top_logprobs\":[";
    out += per_token.dump();
    out += ']';
  }
  out += '}';
  return out;
}

std::string tok_event_slow(const std::string& id, int32_t token, const float* logprob, uint64_t t_ns, const TopLogprobs* top) {
  json j = {{"ev", "tok"}, {"id", id}, {"tokens", {token}}, {"t_ns", t_ns}};
  if (logprob) j["logprobs"] = {*logprob};
  if (top) {
    json per_token = json::array();
    for (const auto& [t, lp] : *top) per_token.push_back(json::array({t, lp}));
    j["top_logprobs"] = json::array({per_token});
  }
  return dumps(j);
}

std::string done_event(const std::string& id, const char* finish, int prompt_tokens, int output_tokens, int preemptions,
                       const std::string& error, uint64_t t_ns, int cached_tokens) {
  json j = {{"ev", "done"},          {"id", id},           {"finish", finish}, {"prompt_tokens", prompt_tokens},
            {"output_tokens", output_tokens}, {"t_ns", t_ns}, {"preemptions", preemptions}};
  if (cached_tokens >= 0) j["cached_tokens"] = cached_tokens;
  if (!error.empty()) j["error"] = error;
  return dumps(j);
}

std::string error_event(const std::string& code, const std::string& id, const std::string& message) {
  json j = {{"ev", "error"}, {"code", code}, {"message", message}};
  if (!id.empty()) j["id"] = id;
  return dumps(j);
}

std::string fatal_event(const std::string& message) { return dumps(json({{"ev", "fatal"}, {"message", message}})); }

std::string bye_event(uint64_t t_ns) { return dumps(json({{"ev", "bye"}, {"t_ns", t_ns}})); }

std::string ready_event(const ModelConfig& c, const EngineOptions& opt, const std::string& device_name,
                        int num_kv_blocks, size_t kv_cache_bytes, const std::vector<BackendStatus>& prefill,
                        const std::vector<BackendStatus>& decode, uint64_t t_ns) {
  auto statuses = [](const std::vector<BackendStatus>& list) {
    json m = json::object();
    for (const auto& b : list) m[b.name] = b.status;
    return m;
  };
  const int eos = c.eos_token_id();
  json ready = {
      {"ev", "ready"},
      {"t_ns", t_ns},
      // n_layer / n_head / n_embd / n_ctx: the names of protocol v1 (GPT-2's), kept for old readers.
      {"model",
       {{"name", c.name}, {"family", c.family}, {"n_layer", c.num_layers}, {"n_head", c.num_heads},
        {"n_embd", c.hidden_size}, {"n_ctx", c.max_context}, {"vocab_size", c.vocab_size},
        {"eos_token_id", eos >= 0 ? json(eos) : json(nullptr)}, {"eos_token_ids", c.eos_token_ids},
        {"num_kv_heads", c.num_kv_heads}, {"head_dim", c.head_dim}, {"ffn_size", c.ffn_size}}},
      {"device",
       {{"kind", opt.device == Device::CPU ? "cpu" : "cuda"}, {"name", device_name}, {"dtype", dtype_name(opt.dtype)}}},
      {"backends", {{"prefill", statuses(prefill)}, {"decode", statuses(decode)}}},
      {"config",
       {{"prefill_attn_backend", opt.prefill_backend}, {"decode_attn_backend", opt.decode_backend},
        {"block_size", opt.block_size}, {"num_kv_blocks", num_kv_blocks}, {"kv_cache_bytes", kv_cache_bytes},
        // The longest request (prompt + output) the pool can hold at all.
        {"max_context_fit", std::min<long long>(c.max_context, (long long)num_kv_blocks * opt.block_size)},
        {"gpu_memory_utilization",
         opt.device == Device::CUDA && opt.num_kv_blocks <= 0 && opt.kv_cache_gb <= 0 ? json(opt.gpu_memory_utilization)
                                                                                        : json(nullptr)},
        {"max_num_seqs", opt.max_num_seqs},
        {"max_num_batched_tokens", opt.max_num_batched_tokens}, {"cuda_graph", opt.cuda_graph == 1},
        {"seed", opt.seed}, {"step_delay_us", opt.step_delay_us}, {"enable_prefix_caching", opt.enable_prefix_caching}}},
      {"version", "0.1.0"},
  };
  // The ATTNBENCH_* switches in effect (docs/experiments.md): not defaults, so results must say so.
  json experiments = json::object();
  for (const auto& [name, value] : opt.exp.set_vars) experiments[name] = value;
  ready["config"]["experiments"] = experiments;
  return dumps(ready);
}

std::string stats_event(const EngineStats& s, uint64_t t_ns) {
  json j = {{"ev", "stats"},
            {"t_ns", t_ns},
            {"kv_blocks_total", s.kv_blocks_total},
            {"kv_blocks_free", s.kv_blocks_free},
            {"running", s.running},
            {"waiting", s.waiting},
            {"steps", s.steps},
            {"preemptions", s.preemptions},
            {"finished", s.finished},
            {"prefix_cache_hit_tokens", s.prefix_cache_hit_tokens},
            {"prefix_cache_miss_tokens", s.prefix_cache_miss_tokens},
            {"prefix_cache_evicted_blocks", s.prefix_cache_evicted_blocks},
            {"kv_blocks_cached", s.kv_blocks_cached}};
  return dumps(j);
}

}  // namespace attnbench
