// `fused` prefill on CUDA: our FlashAttention-2-style causal varlen kernel over the paged cache
// (kernel in attn/fused_prefill_cuda.cuh; how it was tuned: docs/perf-notes.md), or on sm_90 the
// Hopper kernel (attn/fused_prefill_sm90.cuh: wgmma, TMA, producer/consumer warpgroups, mbarriers).
// Which one: ATTNBENCH_PREFILL_SM90 (core/experiments.h). 2 (default): the Hopper kernel where it was
// measured faster than FA2 on the H200 -- pages TMA takes (power of two >= 8 keys) on an sm_90a
// build; head dim 128 always; head dim 64 on steps without cached context at every length, and on
// steps with context whose longest slice is >= kSm90MinQLenD64 -- and FA2 elsewhere (other pages,
// other GPUs, short head-dim-64 steps with context). 1: the Hopper kernel on every shape of an sm_90
// device. 0: FA2 everywhere.
// The Hopper kernel reads the K/V of slices without cached context from the step's own contiguous
// rows (k_new / v_new) by TMA rather than from the paged cache (kSm90Ragged):
//   - eager steps where no slice has context: lab v34 (persistent: one CTA an SM walking work items)
//     or v32 (one CTA a work item), by ATTNBENCH_PREFILL_PERSIST and use_persistent(); at head dim 64
//     with three consumer warpgroups (BM 192) from kSm90ThreeWGMinQLen on (use_three_wg());
//   - steps where some slices have context, and captured graph steps (whose slices' contexts change
//     between replays): v35, rows or cache chosen per slice on the device;
//   - ATTNBENCH_PREFILL_RAGGED=0: every slice from the cache (v33).
// plan() records the grid (prefill slices x query tiles); run() launches one kernel, no sync.
#include <cuda_runtime.h>

#include <cstdlib>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "attn/backend.h"
#include "attn/fused_prefill_cuda.cuh"
#include "attn/fused_prefill_sm90.cuh"
#include "attn/registry.h"
#include "core/cuda_check.h"
#include "core/device_buffer.h"
#include "kernels/sm90_probe.cuh"

namespace attnbench {

// Shared with fused decode: device present and sm_80+, 16-bit dtype, head dim 64 or 128, GQA shape.
std::string fused_cuda_status(const AttnDims* d) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return "unavailable: no CUDA device";
  int dev = 0, major = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (major < 8) return "unavailable: needs compute capability 8.0+ (mma.sync bf16, cp.async)";
  if (!d) return "ok";
  if (d->dtype == DType::F32) return "unavailable: fused CUDA kernels take fp16 or bf16, not fp32";
  if (d->head_dim != 64 && d->head_dim != 128)
    return "unavailable: head_dim " + std::to_string(d->head_dim) + " (fused CUDA supports 64 and 128)";
  if (d->num_kv_heads <= 0 || d->num_heads % d->num_kv_heads != 0)
    return "unavailable: num_heads must be a multiple of num_kv_heads";
  if (d->block_size < 1) return "unavailable: block_size must be >= 1";
  return "ok";
}

namespace {

// Head dim 64 under rule 2, steps with cached context (v35 / v33, one CTA a work item): the Hopper
// kernel (lab v27) beat FA2 at prompts of 2048 (277 vs 228 TFLOPS at 16x2048x12x64; 213 vs 185 on
// varlen 256-2048) and lost at 256 (86 vs 110 at 128x256x12x64), where one or two key tiles leave its
// pipeline nothing to overlap and each CTA's start and end are exposed (session 6 run 1). Nothing was
// measured in between; 1024 is the log-midpoint rounded up to the longer side. Steps without context
// take the persistent kernel at every length instead, which hides those starts and ends: 152 vs 114
// TFLOPS at 128x256x12x64, 216 vs 158 on gpt2 varlen64 (session 8 run 2, batched timing).
constexpr int kSm90MinQLenD64 = 1024;

class FusedPrefillCuda final : public PrefillAttn {
 public:
  explicit FusedPrefillCuda(const AttnDims& dims) : dims_(dims) {
    const std::string st = fused_cuda_status(&dims);
    if (st != "ok") throw std::runtime_error("fused prefill (cuda): " + st);
    int dev = 0, major = 0, minor = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    const bool hopper = major == 9 && minor == 0;
    if (dims.exp.prefill_sm90 == 1) {
      sm90_ = hopper;  // forced (an sm_90-only build then traps: the switch is for experiments)
      sm90_min_q_len_ = 0;
    } else if (dims.exp.prefill_sm90 == 2 && hopper && sm90_tma_kv_ok(dims.block_size, 1) && built_for_sm90a()) {
      sm90_ = true;
      sm90_min_q_len_ = dims.head_dim == 64 ? kSm90MinQLenD64 : 0;
    }
    if (sm90_ && dims.exp.prefill_persist != 0) item_counter_.resize(sizeof(int));  // here: run() must not allocate
  }

  void plan(const AttnMetadata& md) override {
    num_seqs_ = md.num_prefill_seqs;
    max_q_len_ = 0;
    no_ctx_ = true;
    captured_ = false;
    for (int s = 0; s < num_seqs_; ++s) {
      max_q_len_ = std::max(max_q_len_, md.host->cu_seqlens_q[s + 1] - md.host->cu_seqlens_q[s]);
      no_ctx_ = no_ctx_ && md.host->ctx_lens[s] == 0;
    }
  }
  // The plan is a few ints and the grid covers the bucket's rows: q tiles past a prompt's real length
  // exit. Captured steps read K/V from the paged cache (not the step's rows: those maps would be
  // fixed at capture, with the bucket's padding rows in them; not run on a GPU that way yet).
  bool supports_graph() const override { return true; }
  void prepare_for_replay(const AttnMetadata& md) override {
    num_seqs_ = md.num_prefill_seqs;
    max_q_len_ = md.max_q_len;
    captured_ = true;
  }

  void run(int /*layer*/, const void* q, const void* k_new, const void* v_new, const PagedKv& cache, void* out,
           const AttnMetadata& md, void* stream) override {
    FusedPrefillParams p{};
    p.q = q;
    p.k = cache.k;
    p.v = cache.v;
    p.out = out;
    p.cu_seqlens_q = md.cu_seqlens_q;
    p.ctx_lens = md.ctx_lens;
    p.block_tables = md.block_tables;
    p.max_blocks_per_seq = md.max_blocks_per_seq;
    p.block_size = dims_.block_size;
    p.num_heads = dims_.num_heads;
    p.num_kv_heads = dims_.num_kv_heads;
    p.scale_log2 = dims_.scale * 1.4426950408889634f;
    auto s = static_cast<cudaStream_t>(stream);
    // The step's own K/V rows. In a captured step the maps over them are fixed at capture: the
    // runner's bucket buffers keep their addresses, and its padding rows past the prompt hold finite
    // values (rows computed from token 0), so a tile reaching past the prompt reads masked, finite
    // keys; rows past the bucket read as zeros. So the maps cover the bucket (max_q_len), not only
    // the capture's stand-in prompt.
    const bool rows = dims_.exp.prefill_ragged && k_new != nullptr && v_new != nullptr;
    const int map_rows = captured_ ? std::max(md.num_prefill_tokens, md.max_q_len) : md.num_prefill_tokens;
    cudaError_t e;
    if (sm90_ && rows && no_ctx_ && !captured_ && (max_q_len_ >= sm90_min_q_len_ || use_persistent())) {
      const bool three = use_three_wg();
      const Sm90Maps& maps = step_maps(q, k_new, v_new, map_rows, three ? 192 : 128);
      int* counter = use_persistent() ? item_counter_.get<int>() : nullptr;  // non-null: persistent
      e = typed([&](auto t, auto d) {
        return launch_fused_prefill_sm90_rows<decltype(t), d>(p, num_seqs_, max_q_len_, s, maps, counter, three);
      });
    } else if (sm90_ && max_q_len_ >= sm90_min_q_len_) {
      const Sm90Maps* kv = kv_maps(p, (long long)cache.num_blocks * dims_.block_size);
      Sm90Maps maps{};
      if (kv) {
        const Sm90Maps& st = step_maps(q, rows ? k_new : nullptr, rows ? v_new : nullptr, map_rows, 128);
        maps = *kv;
        maps.q = st.q;
        maps.kr = st.kr;
        maps.vr = st.vr;
      }
      const Sm90Maps* m = kv ? &maps : nullptr;
      e = typed([&](auto t, auto d) {
        return launch_fused_prefill_sm90_best<decltype(t), d>(p, num_seqs_, max_q_len_, s, m, rows);
      });
    } else {
      e = typed([&](auto t, auto d) { return launch_fused_prefill_best<decltype(t), d>(p, num_seqs_, max_q_len_, s); });
    }
    CUDA_CHECK(e);
  }

 private:
  // Eager steps without cached context: the persistent kernel (lab v34) or one CTA a work item (v32).
  // Rule 2: persistent where the longest slice has at most kSm90PersistMaxQLen tokens. Session 8 run 3,
  // ncu at locked base clocks (median us, persistent vs v32): llama 8x2048 660 vs 692, 8x4096 2268 vs
  // 2312, 16x2048x12x64 385 vs 392, varlen16 195 vs 201, but 1x16384 4220 vs 4000 (items 64 key tiles
  // long on average, so hiding a CTA's start and end gains little there, and something per tile costs;
  // not found). Between 4096 and 16384 nothing was measured.
  static constexpr int kSm90PersistMaxQLen = 4096;
  // Head dim 64, the same steps: three consumer warpgroups (BM 192) from 1024-token slices on (session
  // 8 run 6, ncu at locked clocks: 16x2048x12x64 358 vs 382 us, varlen16 256-2048 195 vs 210; but
  // 128x256 158 vs 110, where a 256-token prompt is a 192-row tile and a third of another). Between
  // 256 and 1024 nothing was measured (gpt2 varlen64's slices are 32-1024: two-warpgroup kernel).
  static constexpr int kSm90ThreeWGMinQLen = 1024;
  bool use_three_wg() const {
    return dims_.head_dim == 64 && dims_.exp.prefill_three_wg && max_q_len_ >= kSm90ThreeWGMinQLen;
  }
  bool use_persistent() const {
    if (item_counter_.get<int>() == nullptr || dims_.exp.prefill_persist == 0) return false;
    return dims_.exp.prefill_persist == 1 || max_q_len_ <= kSm90PersistMaxQLen;
  }

  // f(T{}, std::integral_constant<int, D>{}) for this backend's element type and head dim (64 or 128):
  // the one place the runtime dtype and head dim become template arguments.
  template <class F>
  cudaError_t typed(F&& f) const {
    using D64 = std::integral_constant<int, 64>;
    using D128 = std::integral_constant<int, 128>;
    const bool bf16 = dims_.dtype == DType::BF16;
    if (dims_.head_dim == 64) return bf16 ? f(__nv_bfloat16{}, D64{}) : f(__half{}, D64{});
    return bf16 ? f(__nv_bfloat16{}, D128{}) : f(__half{}, D128{});
  }

  // The TMA tensor maps of a layer's cache (each layer has its own K/V tensors), encoded on first
  // use and kept; nullptr where TMA does not take the pages (the Hopper kernel then gathers).
  const Sm90Maps* kv_maps(const FusedPrefillParams& p, long long num_slots) {
    if (!sm90_tma_kv_ok(p.block_size, num_slots)) return nullptr;
    for (const CachedMaps& c : maps_)
      if (c.k == p.k && c.v == p.v && c.slots == num_slots) return &c.maps;
    CachedMaps c;
    c.k = p.k, c.v = p.v, c.slots = num_slots;
    CUDA_CHECK(typed([&](auto t, auto d) { return make_sm90_kv_maps<decltype(t), d, kSm90BestBN>(p, num_slots, &c.maps); }));
    maps_.push_back(c);
    return &maps_.back().maps;
  }

  // The maps of the step's query rows (q, kSm90TmaQ: boxes of bm rows, the kernel's BM) and, when
  // k_new / v_new are given, of its K/V rows (kr, vr, kSm90Ragged). Every layer passes the same
  // buffers, so one set of encodes per step, redone when the buffers, the token count or bm change.
  const Sm90Maps& step_maps(const void* q, const void* k_new, const void* v_new, int num_tokens, int bm) {
    StepMaps& m = step_maps_;
    if (m.q != q || m.k != k_new || m.v != v_new || m.tokens != num_tokens || m.bm != bm) {
      m.maps = Sm90Maps{};
      const int h = dims_.num_heads, hkv = dims_.num_kv_heads;
      CUDA_CHECK(typed([&](auto t, auto d) {
        return bm == 192 ? make_sm90_q_map<decltype(t), d, 192>(q, num_tokens, h, &m.maps)
                         : make_sm90_q_map<decltype(t), d, 128>(q, num_tokens, h, &m.maps);
      }));
      if (k_new != nullptr)
        CUDA_CHECK(typed([&](auto t, auto d) {
          return make_sm90_ragged_maps<decltype(t), d, kSm90BestBN>(k_new, v_new, num_tokens, hkv, &m.maps);
        }));
      m.q = q, m.k = k_new, m.v = v_new, m.tokens = num_tokens, m.bm = bm;
    }
    return m.maps;
  }

  struct CachedMaps {
    const void *k = nullptr, *v = nullptr;
    long long slots = 0;
    Sm90Maps maps{};
  };
  AttnDims dims_;
  int num_seqs_ = 0, max_q_len_ = 0;
  bool sm90_ = false;
  int sm90_min_q_len_ = 0;  // steps whose longest slice is shorter run FA2 (head dim 64 under rule 2)
  std::deque<CachedMaps> maps_;  // a deque: pointers to its elements stay valid as it grows
  struct StepMaps {
    const void *q = nullptr, *k = nullptr, *v = nullptr;
    int tokens = 0;  // the step's prefill tokens (the maps' rows)
    int bm = 0;      // rows of the q map's boxes
    Sm90Maps maps{};
  } step_maps_;
  bool no_ctx_ = false;          // plan(): no slice of this step has cached context
  bool captured_ = false;        // prepare_for_replay(): a captured step (a graph replays it)
  DeviceBuffer item_counter_;    // the persistent ragged kernel's work counter (one int)
};

std::unique_ptr<PrefillAttn> make_fused_prefill_cuda(const AttnDims& dims) {
  return std::make_unique<FusedPrefillCuda>(dims);
}

}  // namespace

ATTNBENCH_REGISTER_PREFILL(fused, CUDA, make_fused_prefill_cuda, fused_cuda_status);

}  // namespace attnbench
