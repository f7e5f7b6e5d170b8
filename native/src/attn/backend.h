// The attention backend interface. Adding a backend = one new file + one line in attn/registry.cpp.
//
// plan() runs once per step on the host, before any layer; run() is called per layer and must not
// synchronise with the device or allocate (so CUDA decode steps can be captured in a graph).
// Pointers are host pointers for Device::CPU backends and device pointers for Device::CUDA ones.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/experiments.h"
#include "core/step_batch.h"
#include "core/types.h"

namespace attnbench {

struct AttnDims {
  int num_heads = 0;
  int num_kv_heads = 0;  // GQA: num_heads % num_kv_heads == 0
  int head_dim = 0;
  float scale = 0.0f;    // 1/sqrt(head_dim) for GPT-2
  int block_size = 16;   // tokens per KV block
  DType dtype = DType::F32;
  // The runner captures decode steps in CUDA graphs (a backend whose plan() sizes its launches, like
  // FlashInfer's, must then plan in its graph-stable mode: same grid and buffers for a batch size).
  bool cuda_graph = false;
  ExperimentSwitches exp;  // the engine's experiment switches (core/experiments.h)
};

// One layer's paged cache. K and V are separate, each [num_blocks, block_size, num_kv_heads, head_dim]
// (FlashInfer's NHD page layout), so slot s holds token s % block_size of block s / block_size.
struct PagedKv {
  void* k = nullptr;
  void* v = nullptr;
  int num_blocks = 0;
};

// Step metadata where the backend can read it (host arrays on CPU, device arrays on CUDA).
// Slices [0, num_prefill_seqs) are prefill, the rest decode; see core/step_batch.h.
struct AttnMetadata {
  int num_seqs = 0, num_prefill_seqs = 0, num_decode_seqs = 0;
  int num_tokens = 0, num_prefill_tokens = 0;
  int max_q_len = 0, max_k_len = 0, max_blocks_per_seq = 0;
  const int32_t* cu_seqlens_q = nullptr;  // [num_seqs + 1]
  const int32_t* ctx_lens = nullptr;      // [num_seqs]
  const int32_t* seq_lens_k = nullptr;    // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  const StepBatch* host = nullptr;        // always the host copy, for plan()
};

// Metadata pointing at the StepBatch's own host arrays (CPU backends, tests). The CUDA runner
// builds its own, pointing at device copies.
inline AttnMetadata host_attn_metadata(const StepBatch& b) {
  AttnMetadata md;
  md.num_seqs = b.num_seqs();
  md.num_prefill_seqs = b.num_prefill_seqs;
  md.num_decode_seqs = b.num_decode_seqs;
  md.num_tokens = b.num_tokens();
  md.num_prefill_tokens = b.num_prefill_tokens();
  md.max_q_len = b.max_q_len();
  md.max_k_len = b.max_k_len();
  md.max_blocks_per_seq = b.max_blocks_per_seq;
  md.cu_seqlens_q = b.cu_seqlens_q.data();
  md.ctx_lens = b.ctx_lens.data();
  md.seq_lens_k = b.seq_lens_k.data();
  md.block_tables = b.block_tables.data();
  md.host = &b;
  return md;
}

// What prefill and decode backends share: planning, and the CUDA-graph contract (mini-sglang's
// init_capture_graph / prepare_for_capture / prepare_for_replay). The runner captures steps of a fixed
// shape -- a bucket: a pure-decode batch padded to a bucket size, or one prompt padded to a GEMM row
// count -- and replays the graph for every later step of that bucket; what the backend planned
// before the capture is baked into the graph.
class AttnBackend {
 public:
  virtual ~AttnBackend() = default;
  // An eager step: plan from this step's metadata (md.host has the host arrays).
  virtual void plan(const AttnMetadata& /*md*/) {}
  // May the runner capture steps that use this backend? A decode backend must, to run with CUDA
  // graphs (every CUDA decode backend here does); a prefill backend that does not is run eagerly.
  virtual bool supports_graph() const { return false; }
  // Before capturing a bucket: plan from md's scalars only (max_q_len = the bucket's rows, max_k_len =
  // the context limit), never from host lengths, since every replay of the bucket reuses this plan.
  virtual void prepare_for_capture(const AttnMetadata& md) { prepare_for_replay(md); }
  // Before each replay of a bucket (and before an eager step of a bucket's padded shape): bring what
  // the graph reads at fixed addresses (page tables, for example) up to this step; same sizes as at
  // capture.
  virtual void prepare_for_replay(const AttnMetadata& /*md*/) {
    throw std::logic_error("this attention backend does not support CUDA graphs");
  }
};

// Prefill: causal attention of this step's prefill tokens over their sequence's keys.
//   q      [num_prefill_tokens, num_heads, head_dim]   (packed by cu_seqlens_q)
//   k_new  [num_prefill_tokens, num_kv_heads, head_dim] this step's keys (also already in `cache`)
//   v_new  same
//   out    [num_prefill_tokens, num_heads, head_dim]
// Query i of slice s sits at position ctx_lens[s] + i and sees keys [0, ctx_lens[s] + i].
class PrefillAttn : public AttnBackend {
 public:
  virtual void run(int layer, const void* q, const void* k_new, const void* v_new, const PagedKv& cache,
                   void* out, const AttnMetadata& md, void* stream) = 0;
};

// Decode: one query per decode slice over its whole paged context (seq_lens_k keys, own key included).
//   q   [num_decode_seqs, num_heads, head_dim]  (row j is slice num_prefill_seqs + j)
//   out same shape
class DecodeAttn : public AttnBackend {
 public:
  virtual void run(int layer, const void* q, const PagedKv& cache, void* out, const AttnMetadata& md,
                   void* stream) = 0;
};

// The decode rows of the QKV GEMM's output, for a decode backend that reads them directly.
struct DecodeQkvRows {
  const void* qkv = nullptr;              // first decode row: [num_decode_seqs, row_stride]
  int row_stride = 0;                     // elements: (num_heads + 2 * num_kv_heads) * head_dim
  const int32_t* slot_mapping = nullptr;  // [num_decode_seqs] cache slot of each new token (-1: none)
  // The q/k transform of rotary models (see applies_qk_transform): null rope_inv_freq = none.
  const float* rope_inv_freq = nullptr;  // [head_dim / 2]
  const int32_t* positions = nullptr;    // [num_decode_seqs] position of each new token
  const float* q_norm_w = nullptr;       // [head_dim] per-head RMSNorm weights (Qwen3), both or neither
  const float* k_norm_w = nullptr;
  float norm_eps = 0.f;
};

// An optional side interface of a decode backend, detected once by the runner (dynamic_cast): the
// backend takes q and this step's K/V straight from the QKV rows and appends K/V to the cache itself,
// so the runner's split/append kernel covers the prefill rows only (one launch a layer fewer in a
// decode step). Used when reads_qkv_rows() (an experiment switch can turn it off) and the model needs
// nothing between the QKV GEMM and the cache, or only the rotary embedding (with or without q/k
// norms) and applies_qk_transform(): then the backend applies it to q and the new key itself.
class DecodeFromQkvRows {
 public:
  virtual ~DecodeFromQkvRows() = default;
  virtual bool reads_qkv_rows() const = 0;
  virtual bool applies_qk_transform() const { return false; }
  virtual void run_qkv(int layer, const DecodeQkvRows& rows, const PagedKv& cache, void* out, const AttnMetadata& md,
                       void* stream) = 0;
};

enum class AttnPhase { Prefill, Decode };

// "ok" or "unavailable: <reason>", per backend name, for the `ready` event.
struct BackendStatus {
  std::string name;
  std::string status;
};

// attn/registry.cpp
std::vector<BackendStatus> list_backends(Device device, AttnPhase phase);
// Throws std::runtime_error naming the available backends when `name` is unknown or unavailable.
std::unique_ptr<PrefillAttn> make_prefill_attn(const std::string& name, Device device, const AttnDims& dims);
std::unique_ptr<DecodeAttn> make_decode_attn(const std::string& name, Device device, const AttnDims& dims);

}  // namespace attnbench
