// The engine's JSON-lines protocol (docs/protocol.md): parsing ops from stdin lines and formatting
// events for stdout. No engine state here, so every rule is testable on strings.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attn/backend.h"
#include "core/types.h"
#include "engine/engine_options.h"
#include "models/model_config.h"

namespace attnbench {

constexpr size_t kMaxLineBytes = 1 << 20;  // longer lines get error code line_too_long

struct AddRequest {
  std::string id;
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SamplingParams sampling;
  bool has_seed = false;
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;
};

enum class OpKind { Add, Abort, Stats, Shutdown };

struct Op {
  OpKind kind = OpKind::Stats;
  AddRequest add;  // kind == Add
  std::string id;  // Add and Abort
};

// A line that is not a valid op. `code` is one of docs/protocol.md's error codes. For an add whose id
// is valid but some other field is not, `add_rejected` is true: the request ends with done/error.
struct ParseError {
  std::string code, id, message;
  bool add_rejected = false;
};

struct ParsedLine {
  std::optional<Op> op;
  std::optional<ParseError> error;
};

// `vocab_size` bounds prompt and stop token ids.
ParsedLine parse_op_line(const std::string& line, int vocab_size);
// Blank lines (spaces, tabs, a CR) are not ops: skipped without an event.
inline bool is_blank_line(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

uint64_t monotonic_ns();

// Event lines (no trailing newline).
// `top` (when not null): the token's top_logprobs alternatives, written as "top_logprobs":[[[id,lp],...]].
using TopLogprobs = std::vector<std::pair<int32_t, float>>;
std::string tok_event(const std::string& id, int32_t token, const float* logprob, uint64_t t_ns,
                      const TopLogprobs* top = nullptr);
std::string tok_event_slow(const std::string& id, int32_t token, const float* logprob, uint64_t t_ns,
                           const TopLogprobs* top = nullptr);  // reference
// cached_tokens >= 0 adds "cached_tokens" (prompt tokens served from the prefix cache).
std::string done_event(const std::string& id, const char* finish, int prompt_tokens, int output_tokens, int preemptions,
                       const std::string& error, uint64_t t_ns, int cached_tokens = -1);
std::string error_event(const std::string& code, const std::string& id, const std::string& message);
std::string fatal_event(const std::string& message);
std::string bye_event(uint64_t t_ns);

// `ready`: the model, device, backends (name -> "ok" or "unavailable: ..." per phase) and the engine's
// resolved configuration.
std::string ready_event(const ModelConfig& model, const EngineOptions& opt, const std::string& device_name,
                        int num_kv_blocks, size_t kv_cache_bytes, const std::vector<BackendStatus>& prefill,
                        const std::vector<BackendStatus>& decode, uint64_t t_ns);

struct EngineStats {
  int kv_blocks_total = 0, kv_blocks_free = 0, running = 0, waiting = 0;
  uint64_t steps = 0, preemptions = 0, finished = 0;
  // Prefix caching (zeros when off): tokens served from / computed past the cache at admissions,
  // cached blocks reused for other content, blocks registered in the cache now.
  uint64_t prefix_cache_hit_tokens = 0, prefix_cache_miss_tokens = 0, prefix_cache_evicted_blocks = 0;
  int kv_blocks_cached = 0;
};
std::string stats_event(const EngineStats& s, uint64_t t_ns);

}  // namespace attnbench
