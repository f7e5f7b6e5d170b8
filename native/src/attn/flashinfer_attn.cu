// `flashinfer` prefill and decode: FlashInfer's own FA2 kernels from the user's header-only copy
// (-DFLASHINFER_INCLUDE_DIR; none of its code lives in this repo), driven as its Python wrappers
// drive them: plan on the host once per step (FlashInfer's scheduler splits the work and copies its
// work lists from a pinned buffer), run per layer.
//   prefill: every ctx_len 0 -> BatchPrefillWithRaggedKVCache on this step's contiguous k_new/v_new;
//            otherwise BatchPrefillWithPagedKVCache over the cache (flashinfer_paged_prefill.cu).
//   decode:  BatchDecodeWithPagedKVCache over the cache (CSR page table built from block_tables).
// fp16 and bf16, head dims 64 and 128, GQA group sizes 1, 2, 3, 4, 8. plan() uploads the page table
// (fixed device addresses, pinned staging) and waits for it and FlashInfer's own upload, so it is a
// host sync point; run() does not sync or allocate. When the runner captures decode graphs
// (AttnDims::cuda_graph), decode is planned in FlashInfer's CUDA-graph mode: grid, split decision
// and workspace offsets depend on the batch size only, and padded work items are masked.
#include <flashinfer/attention/decode.cuh>
#include <flashinfer/attention/default_decode_params.cuh>
#include <flashinfer/attention/default_prefill_params.cuh>
#include <flashinfer/attention/prefill.cuh>
#include <flashinfer/attention/scheduler.cuh>
#include <flashinfer/attention/variants.cuh>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "attn/flashinfer_attn.cuh"
#include "attn/registry.h"
#include "core/cuda_check.h"

namespace attnbench::fi {

using namespace flashinfer;
using Variant = DefaultAttention<false, false, false, false>;
template <class T>
using RaggedParams = BatchPrefillRaggedParams<T, T, T, int32_t>;
template <class T>
using DecodeParams = BatchDecodeParams<T, T, T, int32_t>;

cudaError_t prefill_plan(Workspace& ws, PrefillPlanInfo& info, int32_t* qo_indptr_h, int32_t* kv_indptr_h,
                         uint32_t total_rows, uint32_t batch, const Heads& h, uint32_t page_size, cudaStream_t s) {
  return PrefillPlan<int32_t>(ws.float_ws, kFloatWorkspaceBytes, ws.int_ws, ws.int_host, kIntWorkspaceBytes, info,
                              qo_indptr_h, kv_indptr_h, total_rows, batch, h.qo, h.kv, h.dim, h.dim, page_size,
                              /*enable_cuda_graph=*/false, /*sizeof_dtype_o=*/2, /*window_left=*/-1,
                              /*fixed_split_size=*/-1, /*disable_split_kv=*/false, /*num_colocated_ctas=*/0, s);
}

template <class T, uint32_t D>
static cudaError_t ragged_run_d(const Workspace& ws, const PrefillPlanInfo& info, const Heads& h, const T* q,
                                const T* k, const T* v, T* o, int32_t* qo_indptr, int32_t* kv_indptr,
                                cudaStream_t s) {
  RaggedParams<T> p;
  fill_prefill_common<D>(p, h, q, o, qo_indptr);
  p.k = const_cast<T*>(k);
  p.v = const_cast<T*>(v);
  p.kv_indptr = kv_indptr;
  p.maybe_k_rope_offset = nullptr;
  p.num_kv_heads = h.kv;
  p.k_stride_n = p.v_stride_n = h.kv * D;
  p.k_stride_h = p.v_stride_h = D;
  T* tmp_v;
  float* tmp_s;
  wire_prefill_plan(p, ws, info, tmp_v, tmp_s);
  cudaError_t st = cudaSuccess;
  DISPATCH_CTA_TILE_Q(info.cta_tile_q, CTA_TILE_Q, {
    st = BatchPrefillWithRaggedKVCacheDispatched<CTA_TILE_Q, D, D, PosEncodingMode::kNone, false, MaskMode::kCausal,
                                                 Variant, RaggedParams<T>>(p, tmp_v, tmp_s, false, s);
  });
  return st;
}

template <class T>
cudaError_t ragged_prefill_run(const Workspace& ws, const PrefillPlanInfo& info, const Heads& h, const T* q,
                               const T* k, const T* v, T* o, int32_t* qo_indptr, int32_t* kv_indptr,
                               cudaStream_t s) {
  if (h.dim == 64) return ragged_run_d<T, 64>(ws, info, h, q, k, v, o, qo_indptr, kv_indptr, s);
  if (h.dim == 128) return ragged_run_d<T, 128>(ws, info, h, q, k, v, o, qo_indptr, kv_indptr, s);
  return cudaErrorInvalidValue;
}

template <class T, uint32_t D>
static cudaError_t decode_plan_d(Workspace& ws, DecodePlanInfo& info, int32_t* kv_indptr_h, uint32_t batch,
                                 const Heads& h, uint32_t page_size, bool graph, cudaStream_t s) {
  cudaError_t st = cudaErrorInvalidValue;
  DISPATCH_GQA_GROUP_SIZE(h.qo / h.kv, GROUP_SIZE, {
    auto est = BatchDecodeWithPagedKVCacheWorkEstimationDispatched<GROUP_SIZE, D, PosEncodingMode::kNone, Variant,
                                                                   DecodeParams<T>>;
    st = DecodePlan<D, PosEncodingMode::kNone, Variant, DecodeParams<T>>(ws.float_ws, kFloatWorkspaceBytes, ws.int_ws,
                                                                         ws.int_host, kIntWorkspaceBytes, info,
                                                                         kv_indptr_h, batch, h.qo, page_size,
                                                                         /*enable_cuda_graph=*/graph, s, est);
  });
  return st;
}

template <class T>
cudaError_t decode_plan(Workspace& ws, DecodePlanInfo& info, int32_t* kv_indptr_h, uint32_t batch, const Heads& h,
                        uint32_t page_size, bool graph, cudaStream_t s) {
  if (h.dim == 64) return decode_plan_d<T, 64>(ws, info, kv_indptr_h, batch, h, page_size, graph, s);
  if (h.dim == 128) return decode_plan_d<T, 128>(ws, info, kv_indptr_h, batch, h, page_size, graph, s);
  return cudaErrorInvalidValue;
}

template <class T, uint32_t D>
static cudaError_t decode_run_d(const Workspace& ws, const DecodePlanInfo& info, const Heads& h, const T* q,
                                const PagedArgs& kv, T* o, cudaStream_t s) {
  paged_kv_t<T, int32_t> paged(h.kv, kv.page_size, D, kv.batch, QKVLayout::kNHD, static_cast<T*>(kv.k),
                               static_cast<T*>(kv.v), kv.indices, kv.indptr, kv.last_len);
  DecodeParams<T> p;
  fill_attention_common<D>(p, h, q, o);
  p.paged_kv = paged;
  p.request_indices = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.request_indices_offset);
  p.kv_tile_indices = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.kv_tile_indices_offset);
  p.o_indptr = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.o_indptr_offset);
  p.kv_chunk_size_ptr = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.kv_chunk_size_ptr_offset);
  p.block_valid_mask = nullptr;
  p.partition_kv = false;
  T* tmp_v = nullptr;
  float* tmp_s = nullptr;
  if (info.split_kv) {
    tmp_v = GetPtrFromBaseOffset<T>(ws.float_ws, info.v_offset);
    tmp_s = GetPtrFromBaseOffset<float>(ws.float_ws, info.s_offset);
    // In graph mode the grid is padded past the real work items: the mask turns the rest off.
    p.block_valid_mask = GetPtrFromBaseOffset<bool>(ws.int_ws, info.block_valid_mask_offset);
  }
  p.padded_batch_size = info.padded_batch_size;
  return BatchDecodeWithPagedKVCacheDispatched<D, PosEncodingMode::kNone, Variant>(p, tmp_v, tmp_s, false, s);
}

template <class T>
cudaError_t decode_run(const Workspace& ws, const DecodePlanInfo& info, const Heads& h, const T* q,
                       const PagedArgs& kv, T* o, cudaStream_t s) {
  if (h.dim == 64) return decode_run_d<T, 64>(ws, info, h, q, kv, o, s);
  if (h.dim == 128) return decode_run_d<T, 128>(ws, info, h, q, kv, o, s);
  return cudaErrorInvalidValue;
}

#define ATTNBENCH_FI_INSTANTIATE(T)                                                                                    \
  template cudaError_t ragged_prefill_run<T>(const Workspace&, const PrefillPlanInfo&, const Heads&, const T*,       \
                                             const T*, const T*, T*, int32_t*, int32_t*, cudaStream_t);              \
  template cudaError_t decode_plan<T>(Workspace&, DecodePlanInfo&, int32_t*, uint32_t, const Heads&, uint32_t, bool, \
                                      cudaStream_t);                                                                 \
  template cudaError_t decode_run<T>(const Workspace&, const DecodePlanInfo&, const Heads&, const T*,                \
                                     const PagedArgs&, T*, cudaStream_t);
ATTNBENCH_FI_INSTANTIATE(half)
ATTNBENCH_FI_INSTANTIATE(__nv_bfloat16)
#undef ATTNBENCH_FI_INSTANTIATE

}  // namespace attnbench::fi

namespace attnbench {
namespace {

std::string flashinfer_status(const AttnDims* d) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return "unavailable: no CUDA device";
  if (!d) return "ok";
  if (d->dtype != DType::F16 && d->dtype != DType::BF16) return "unavailable: the flashinfer backend is built for fp16 and bf16";
  if (d->head_dim != 64 && d->head_dim != 128) return "unavailable: flashinfer backend built for head_dim 64 and 128";
  const int g = d->num_kv_heads > 0 ? d->num_heads / d->num_kv_heads : 0;
  if (g * d->num_kv_heads != d->num_heads || !(g == 1 || g == 2 || g == 3 || g == 4 || g == 8))
    return "unavailable: flashinfer GQA group sizes are 1, 2, 3, 4, 8";
  return "ok";
}

// Workspaces plus the device copy of the CSR page table at FIXED addresses: a captured decode graph
// bakes the indptr / last_len / indices pointers into its kernels, so they must not move between
// steps. (They used to: indptr sat right after this step's indices, so its address moved with the
// page count and a replayed graph read page ids as indptr -- kv lengths of billions: the hang.)
class FiState {
 public:
  static constexpr size_t kMaxBatch = 1u << 16;  // sequences per step
  static constexpr size_t kMaxPages = 1u << 22;  // pages referenced per step (16 M tokens at page 16... x16)

  explicit FiState(const AttnDims& d) : dims_(d) {
    const std::string st = flashinfer_status(&d);
    if (st != "ok") throw std::runtime_error("flashinfer: " + st);
    CUDA_CHECK(cudaMalloc(&ws_.float_ws, fi::kFloatWorkspaceBytes));
    CUDA_CHECK(cudaMalloc(&ws_.int_ws, fi::kIntWorkspaceBytes));
    CUDA_CHECK(cudaMallocHost(&ws_.int_host, fi::kIntWorkspaceBytes));
    CUDA_CHECK(cudaMalloc(&d_table_, kTableWords * 4));
    CUDA_CHECK(cudaMallocHost(&h_table_, kTableWords * 4));
    heads_ = {d.num_heads, d.num_kv_heads, d.head_dim, d.scale};
    pages_.indptr = d_table_;
    pages_.last_len = d_table_ + kMaxBatch + 1;
    pages_.indices = d_table_ + 2 * kMaxBatch + 1;
    pages_.page_size = d.block_size;
  }
  ~FiState() {
    cudaFree(ws_.float_ws);
    cudaFree(ws_.int_ws);
    cudaFreeHost(ws_.int_host);
    cudaFree(d_table_);
    cudaFreeHost(h_table_);
  }
  // CSR page table of slices [first, first + count): indices, indptr (pages), last page lengths.
  // Enqueued on the legacy stream; plan() synchronises it before returning.
  void upload_pages(const StepBatch& h, int first, int count) {
    const int bs = dims_.block_size;
    if ((size_t)count > kMaxBatch) throw std::runtime_error("flashinfer: batch of " + std::to_string(count) + " sequences exceeds the page-table capacity");
    int32_t* indptr = h_table_;
    int32_t* last = h_table_ + kMaxBatch + 1;
    int32_t* indices = h_table_ + 2 * kMaxBatch + 1;
    indptr_h_.assign(1, 0);
    indptr[0] = 0;
    size_t n = 0;
    for (int s = first; s < first + count; ++s) {
      const int len = h.seq_lens_k[s], pages = (len + bs - 1) / bs;
      if (n + pages > kMaxPages) throw std::runtime_error("flashinfer: step references more than " + std::to_string(kMaxPages) + " pages");
      const int32_t* row = &h.block_tables[(size_t)s * h.max_blocks_per_seq];
      for (int j = 0; j < pages; ++j) indices[n++] = row[j];
      indptr_h_.push_back((int32_t)n);
      indptr[s - first + 1] = (int32_t)n;
      last[s - first] = len - (pages - 1) * bs;
    }
    CUDA_CHECK(cudaMemcpyAsync(pages_.indptr, indptr, (count + 1) * 4, cudaMemcpyHostToDevice, nullptr));
    CUDA_CHECK(cudaMemcpyAsync(pages_.last_len, last, count * 4, cudaMemcpyHostToDevice, nullptr));
    if (n) CUDA_CHECK(cudaMemcpyAsync(pages_.indices, indices, n * 4, cudaMemcpyHostToDevice, nullptr));
    pages_.batch = count;
  }

 protected:
  static constexpr size_t kTableWords = 2 * kMaxBatch + 1 + kMaxPages;
  // f(TypeTag<T>{}) with T the element type: __nv_bfloat16 or half (flashinfer_status refuses the rest).
  template <class T> struct TypeTag { using type = T; };
  template <class F>
  cudaError_t for_dtype(F&& f) const {
    return dims_.dtype == DType::BF16 ? f(TypeTag<__nv_bfloat16>{}) : f(TypeTag<half>{});
  }
  AttnDims dims_;
  fi::Workspace ws_;
  fi::Heads heads_;
  fi::PagedArgs pages_;
  std::vector<int32_t> indptr_h_;
  int32_t* d_table_ = nullptr;
  int32_t* h_table_ = nullptr;  // pinned staging, same layout
};

class FlashInferPrefill final : public PrefillAttn, FiState {
 public:
  explicit FlashInferPrefill(const AttnDims& d) : FiState(d) {}
  void plan(const AttnMetadata& md) override {
    const StepBatch& h = *md.host;
    B_ = md.num_prefill_seqs;
    if (B_ == 0) return;
    paged_ = false;
    for (int s = 0; s < B_; ++s) paged_ |= h.ctx_lens[s] > 0;
    std::vector<int32_t> qo(h.cu_seqlens_q.begin(), h.cu_seqlens_q.begin() + B_ + 1);
    cudaError_t e;
    if (!paged_) {
      std::vector<int32_t> kv = qo;
      e = fi::prefill_plan(ws_, info_, qo.data(), kv.data(), qo.back(), B_, heads_, 1, nullptr);
    } else {
      upload_pages(h, 0, B_);
      e = fi::prefill_plan(ws_, info_, qo.data(), indptr_h_.data(), qo.back(), B_, heads_, dims_.block_size, nullptr);
    }
    CUDA_CHECK(e);
    SYNC_STREAM(nullptr);  // our page table and FlashInfer's pinned-buffer upload are done
  }
  void run(int, const void* q, const void* k_new, const void* v_new, const PagedKv& cache, void* out,
           const AttnMetadata& md, void* stream) override {
    if (B_ == 0) return;
    auto s = static_cast<cudaStream_t>(stream);
    auto* cu = const_cast<int32_t*>(md.cu_seqlens_q);
    CUDA_CHECK(for_dtype([&](auto t) { return run_t<typename decltype(t)::type>(q, k_new, v_new, cache, out, cu, s); }));
  }

 private:
  template <class T>
  cudaError_t run_t(const void* q, const void* k_new, const void* v_new, const PagedKv& cache, void* out, int32_t* cu,
                    cudaStream_t s) {
    if (!paged_)
      return fi::ragged_prefill_run(ws_, info_, heads_, static_cast<const T*>(q), static_cast<const T*>(k_new),
                                    static_cast<const T*>(v_new), static_cast<T*>(out), cu, cu, s);
    fi::PagedArgs kv = pages_;
    kv.k = cache.k;
    kv.v = cache.v;
    return fi::paged_prefill_run(ws_, info_, heads_, static_cast<const T*>(q), kv, static_cast<T*>(out), cu, s);
  }
  int B_ = 0;
  bool paged_ = false;
  flashinfer::PrefillPlanInfo info_;
};

class FlashInferDecode final : public DecodeAttn, FiState {
 public:
  explicit FlashInferDecode(const AttnDims& d) : FiState(d) {}
  void plan(const AttnMetadata& md) override {
    B_ = md.num_decode_seqs;
    if (B_ == 0) return;
    upload_pages(*md.host, md.num_prefill_seqs, B_);
    CUDA_CHECK(for_dtype([&](auto t) {
      return fi::decode_plan<typename decltype(t)::type>(ws_, info_, indptr_h_.data(), B_, heads_, dims_.block_size,
                                                         dims_.cuda_graph, nullptr);
    }));
    SYNC_STREAM(nullptr);
  }
  // With AttnDims::cuda_graph, plan() is FlashInfer's graph mode (grid, split and workspace offsets
  // depend on the batch size only) and uploads the page table to fixed addresses: replanning before
  // each replay is what the captured graph needs.
  bool supports_graph() const override { return true; }
  void prepare_for_replay(const AttnMetadata& md) override { plan(md); }
  void run(int, const void* q, const PagedKv& cache, void* out, const AttnMetadata&, void* stream) override {
    if (B_ == 0) return;
    fi::PagedArgs kv = pages_;
    kv.k = cache.k;
    kv.v = cache.v;
    const auto s = static_cast<cudaStream_t>(stream);
    CUDA_CHECK(for_dtype([&](auto t) {
      using T = typename decltype(t)::type;
      return fi::decode_run(ws_, info_, heads_, static_cast<const T*>(q), kv, static_cast<T*>(out), s);
    }));
  }

 private:
  int B_ = 0;
  flashinfer::DecodePlanInfo info_;
};

std::unique_ptr<PrefillAttn> make_fi_prefill(const AttnDims& d) { return std::make_unique<FlashInferPrefill>(d); }
std::unique_ptr<DecodeAttn> make_fi_decode(const AttnDims& d) { return std::make_unique<FlashInferDecode>(d); }

}  // namespace

ATTNBENCH_REGISTER_PREFILL(flashinfer, CUDA, make_fi_prefill, flashinfer_status);
ATTNBENCH_REGISTER_DECODE(flashinfer, CUDA, make_fi_decode, flashinfer_status);

}  // namespace attnbench
