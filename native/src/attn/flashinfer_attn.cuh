// Glue to FlashInfer's header-only FA2 templates (v0.5.3 / v0.6.9, via -DFLASHINFER_INCLUDE_DIR):
// the workspaces, and one function per FlashInfer entry point we call (a template over the element
// type T, instantiated for half and __nv_bfloat16 in the .cu files). Head dims 64 and 128,
// NHD page layout ([pages, page_size, H_kv, D], ours). Instantiations are split over two files so
// they compile in parallel: flashinfer_attn.cu (plans, decode, ragged prefill) and
// flashinfer_paged_prefill.cu (paged prefill, for chunks with earlier context).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <flashinfer/attention/scheduler.cuh>

namespace attnbench::fi {

// Sizes as in FlashInfer's Python defaults.
constexpr size_t kFloatWorkspaceBytes = 128u << 20;
constexpr size_t kIntWorkspaceBytes = 8u << 20;

struct Workspace {
  void* float_ws = nullptr;
  void* int_ws = nullptr;
  void* int_host = nullptr;  // pinned mirror of int_ws
};

struct PagedArgs {  // device arrays in FlashInfer's CSR page-table form
  void* k = nullptr;  // the cache's K and V, of the run's element type
  void* v = nullptr;
  int32_t* indices = nullptr;    // page ids, sequence after sequence
  int32_t* indptr = nullptr;     // [batch + 1] into indices
  int32_t* last_len = nullptr;   // [batch] tokens in each sequence's last page
  int page_size = 16;
  int batch = 0;
};

struct Heads {
  int qo = 0, kv = 0, dim = 0;
  float scale = 0.f;
};

// The fields every params struct we fill shares (decode, ragged and paged prefill; same names):
// attention of `q` ([tokens, qo heads, D]) into `o`, no LSE output, no sliding window, no soft cap,
// and rope constants left at their defaults (no rope is applied).
template <uint32_t D, class Params, class T>
void fill_attention_common(Params& p, const Heads& h, const T* q, T* o) {
  p.q = const_cast<T*>(q);
  p.o = o;
  p.lse = nullptr;
  p.num_qo_heads = h.qo;
  p.q_stride_n = h.qo * D;
  p.q_stride_h = D;
  p.window_left = -1;
  p.logits_soft_cap = 0.f;
  p.sm_scale = h.scale;
  p.rope_rcp_scale = 1.f;
  p.rope_rcp_theta = 1.f / 1e4f;
}

// The further fields ragged and paged prefill params share: causal, no custom mask, no rope offsets,
// no alibi.
template <uint32_t D, class Params, class T>
void fill_prefill_common(Params& p, const Heads& h, const T* q, T* o, int32_t* qo_indptr) {
  fill_attention_common<D>(p, h, q, o);
  p.maybe_custom_mask = nullptr;
  p.q_indptr = qo_indptr;
  p.maybe_mask_indptr = nullptr;
  p.maybe_q_rope_offset = nullptr;
  p.maybe_alibi_slopes = nullptr;
  p.group_size = flashinfer::uint_fastdiv(h.qo / h.kv);
}

// Points ragged or paged prefill params (same field names) at the plan's work lists in the int
// workspace; returns through tmp_v/tmp_s the split-KV scratch in the float workspace (null if no split).
template <class Params, class T>
void wire_prefill_plan(Params& p, const Workspace& ws, const flashinfer::PrefillPlanInfo& info, T*& tmp_v,
                       float*& tmp_s) {
  using flashinfer::GetPtrFromBaseOffset;
  p.request_indices = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.request_indices_offset);
  p.qo_tile_indices = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.qo_tile_indices_offset);
  p.kv_tile_indices = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.kv_tile_indices_offset);
  p.o_indptr = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.o_indptr_offset);
  p.kv_chunk_size_ptr = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.kv_chunk_size_ptr_offset);
  p.merge_indptr = nullptr;
  p.block_valid_mask = nullptr;
  p.total_num_rows = nullptr;
  p.partition_kv = false;
  tmp_v = nullptr;
  tmp_s = nullptr;
  if (info.split_kv) {
    p.merge_indptr = GetPtrFromBaseOffset<int32_t>(ws.int_ws, info.merge_indptr_offset);
    tmp_v = GetPtrFromBaseOffset<T>(ws.float_ws, info.v_offset);
    tmp_s = GetPtrFromBaseOffset<float>(ws.float_ws, info.s_offset);
  }
  p.padded_batch_size = info.padded_batch_size;
  p.max_total_num_rows = info.total_num_rows;
}

cudaError_t prefill_plan(Workspace& ws, flashinfer::PrefillPlanInfo& info, int32_t* qo_indptr_h, int32_t* kv_indptr_h,
                         uint32_t total_rows, uint32_t batch, const Heads& h, uint32_t page_size, cudaStream_t s);
// T: half or __nv_bfloat16 (explicitly instantiated for those two).
template <class T>
cudaError_t ragged_prefill_run(const Workspace& ws, const flashinfer::PrefillPlanInfo& info, const Heads& h,
                               const T* q, const T* k, const T* v, T* o, int32_t* qo_indptr,
                               int32_t* kv_indptr, cudaStream_t s);
template <class T>
cudaError_t paged_prefill_run(const Workspace& ws, const flashinfer::PrefillPlanInfo& info, const Heads& h,
                              const T* q, const PagedArgs& kv, T* o, int32_t* qo_indptr, cudaStream_t s);
// enable_cuda_graph: FlashInfer's graph-stable plan (grid, split and workspace offsets depend only on
// the batch size), required when the runner replays decode steps from captured graphs.
// The plan depends on the element type (the kernel's shared-memory use sets the split).
template <class T>
cudaError_t decode_plan(Workspace& ws, flashinfer::DecodePlanInfo& info, int32_t* kv_indptr_h, uint32_t batch,
                        const Heads& h, uint32_t page_size, bool enable_cuda_graph, cudaStream_t s);
template <class T>
cudaError_t decode_run(const Workspace& ws, const flashinfer::DecodePlanInfo& info, const Heads& h, const T* q,
                       const PagedArgs& kv, T* o, cudaStream_t s);

}  // namespace attnbench::fi
