// Glue to FlashInfer's Hopper (sm_90a, "FA3") batch prefill templates (v0.5.3, header-only, via
// -DFLASHINFER_INCLUDE_DIR plus CUTLASS/CuTe headers via -DCUTLASS_INCLUDE_DIR; none of their code
// lives in this repo). Causal, fp16 / bf16, head dims 64 and 128, any GQA group.
//   ragged: every slice has ctx_len 0 -> K/V are this step's contiguous k_new / v_new ([tokens, H_kv, D],
//           kv_indptr = qo_indptr); FlashInfer loads them with TMA.
//   paged:  K/V read from the engine's paged cache through FlashInfer's "vector-sparse" form: one
//           index per key token (its cache slot, block_tables[s][t / bs] * bs + t % bs; the row
//           stride is H_kv * D), so any page size works. FlashInfer's Python wrapper does the same
//           conversion (block_sparse_indices_to_vector_sparse_offsets) before its fa3 paged kernel.
// Instantiations are split over flashinfer_sm90_prefill.cu (plan, ragged, the backend) and
// flashinfer_sm90_paged.cu (paged), so the two CuTe-heavy files compile in parallel.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <flashinfer/attention/scheduler.cuh>

// FlashInfer's flashinfer/cutlass_utils.cuh (included by the hopper headers) also pulls in CUTLASS's
// host utilities (tools/util/include: host tensors, reference GEMMs), which need cuRAND's headers and
// which the attention kernels never use. We take its place: the CUTLASS/CuTe headers it includes from
// CUTLASS's include/, and the element-type mapping the hopper kernels read (cutlass_dtype_t), for
// the two types we build. Its include guard, defined here, keeps FlashInfer's copy out; include this
// header before any flashinfer/attention/hopper header.
#ifndef FLASHINFER_CUTLASS_UTILS_CUH_
#define FLASHINFER_CUTLASS_UTILS_CUH_
#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/collective/default_epilogue.hpp>
#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/layout/matrix.h>
#include <cutlass/numeric_types.h>
#include <cutlass/tensor_ref.h>
namespace flashinfer {
template <typename T>
struct cutlass_dtype {
  using type = T;
};
template <>
struct cutlass_dtype<half> {
  using type = cutlass::half_t;
};
template <>
struct cutlass_dtype<__nv_bfloat16> {
  using type = cutlass::bfloat16_t;
};
template <typename T>
using cutlass_dtype_t = typename cutlass_dtype<T>::type;
}  // namespace flashinfer
#endif

namespace attnbench::fi90 {

// One step's prefill as the sm90 kernels see it (device pointers).
struct Sm90Problem {
  int qo_heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 0.f;
  int64_t nnz_qo = 0;  // query rows (packed by the plan's qo_indptr)
  int64_t nnz_kv = 0;  // ragged: key rows of k / v
  const void* q = nullptr;
  const void* k = nullptr;  // ragged: k_new; paged: the cache's K ([slots, H_kv, D])
  const void* v = nullptr;
  void* o = nullptr;
  void* int_ws = nullptr;  // FlashInfer's int workspace, filled by PrefillSM90Plan
  const flashinfer::PrefillPlanSM90Info* info = nullptr;
  const int32_t* kv_slots = nullptr;  // paged: cache slot of each key token, sequence after sequence
};

// T: half or __nv_bfloat16. Return cudaErrorNotSupported for a plan that chose FlashInfer's
// same-schedule-for-all-heads mode (only the per-head persistent schedule is instantiated; FlashInfer
// switches above 4096 query tiles per head, i.e. half a million query rows in one step).
template <class T>
cudaError_t sm90_ragged_run(const Sm90Problem& p, cudaStream_t s);
template <class T>
cudaError_t sm90_paged_run(const Sm90Problem& p, cudaStream_t s);

// Fills the int-workspace fields every sm90 params struct shares (same names in ragged and paged).
template <class Params>
void sm90_wire_plan(Params& p, const Sm90Problem& pb) {
  using flashinfer::GetPtrFromBaseOffset;
  using Id = typename Params::IdType;
  const flashinfer::PrefillPlanSM90Info& info = *pb.info;
  p.qo_tile_indices = GetPtrFromBaseOffset<Id>(pb.int_ws, info.qo_tile_indices_offset);
  p.qo_indptr = GetPtrFromBaseOffset<Id>(pb.int_ws, info.qo_indptr_offset);
  p.kv_indptr = GetPtrFromBaseOffset<Id>(pb.int_ws, info.kv_indptr_offset);
  p.qo_lens = GetPtrFromBaseOffset<Id>(pb.int_ws, info.qo_len_offset);
  p.kv_lens = GetPtrFromBaseOffset<Id>(pb.int_ws, info.kv_len_offset);
  p.head_indices = GetPtrFromBaseOffset<Id>(pb.int_ws, info.head_indices_offset);
  p.work_indptr = GetPtrFromBaseOffset<Id>(pb.int_ws, info.work_indptr_offset);
  p.batch_indices = GetPtrFromBaseOffset<Id>(pb.int_ws, info.batch_indices_offset);
}

// The rest both share: strides of Q / O ([rows, H, D]) and K / V rows ([rows, H_kv, D]), heads,
// causal, no sliding window, no soft cap, no LSE, no multi-item scoring.
template <int D, class Params>
void sm90_fill_common(Params& p, const Sm90Problem& pb) {
  using TQ = typename Params::DTypeQ;
  using TKV = typename Params::DTypeKV;
  using TO = typename Params::DTypeO;
  p.q_ptr = static_cast<TQ*>(const_cast<void*>(pb.q));
  p.k_ptr = static_cast<TKV*>(const_cast<void*>(pb.k));
  p.v_ptr = static_cast<TKV*>(const_cast<void*>(pb.v));
  p.o_ptr = static_cast<TO*>(pb.o);
  p.lse_ptr = nullptr;
  p.q_stride_n = p.o_stride_n = (int64_t)pb.qo_heads * D;
  p.q_stride_h = p.o_stride_h = D;
  p.k_stride_n = p.v_stride_n = (int64_t)pb.kv_heads * D;
  p.k_stride_h = p.v_stride_h = D;
  p.nnz_qo = pb.nnz_qo;
  p.num_qo_heads = pb.qo_heads;
  p.num_kv_heads = pb.kv_heads;
  p.group_size = pb.qo_heads / pb.kv_heads;
  p.window_left = -1;
  p.causal = true;
  p.additional_params.logits_soft_cap = 0.f;
  p.additional_params.sm_scale = pb.scale;
  p.additional_params.maybe_prefix_len_ptr = nullptr;
  p.additional_params.maybe_token_pos_in_items_ptr = nullptr;
  p.additional_params.token_pos_in_items_len = 0;
  p.additional_params.maybe_max_item_len_ptr = nullptr;
  sm90_wire_plan(p, pb);
}

}  // namespace attnbench::fi90
