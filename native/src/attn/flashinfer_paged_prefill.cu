// FlashInfer paged prefill (BatchPrefillWithPagedKVCacheDispatched, causal, fp16 / bf16), for prefill
// chunks that attend to earlier context; see flashinfer_attn.cuh.
#include <flashinfer/attention/default_prefill_params.cuh>
#include <flashinfer/attention/prefill.cuh>
#include <flashinfer/attention/variants.cuh>

#include "attn/flashinfer_attn.cuh"

namespace attnbench::fi {

using namespace flashinfer;
using Variant = DefaultAttention<false, false, false, false>;
template <class T>
using PagedParams = BatchPrefillPagedParams<T, T, T, int32_t>;

template <class T, uint32_t D>
static cudaError_t paged_run_d(const Workspace& ws, const PrefillPlanInfo& info, const Heads& h, const T* q,
                               const PagedArgs& kv, T* o, int32_t* qo_indptr, cudaStream_t s) {
  paged_kv_t<T, int32_t> paged(h.kv, kv.page_size, D, kv.batch, QKVLayout::kNHD, static_cast<T*>(kv.k),
                               static_cast<T*>(kv.v), kv.indices, kv.indptr, kv.last_len);
  PagedParams<T> p;
  fill_prefill_common<D>(p, h, q, o, qo_indptr);
  p.paged_kv = paged;
  p.maybe_prefix_len_ptr = nullptr;
  p.maybe_token_pos_in_items_ptr = nullptr;
  p.token_pos_in_items_len = 0;
  p.maybe_max_item_len_ptr = nullptr;
  T* tmp_v;
  float* tmp_s;
  wire_prefill_plan(p, ws, info, tmp_v, tmp_s);
  cudaError_t st = cudaSuccess;
  DISPATCH_CTA_TILE_Q(info.cta_tile_q, CTA_TILE_Q, {
    st = BatchPrefillWithPagedKVCacheDispatched<CTA_TILE_Q, D, D, PosEncodingMode::kNone, false, MaskMode::kCausal,
                                                Variant, PagedParams<T>>(p, tmp_v, tmp_s, false, s);
  });
  return st;
}

template <class T>
cudaError_t paged_prefill_run(const Workspace& ws, const PrefillPlanInfo& info, const Heads& h, const T* q,
                              const PagedArgs& kv, T* o, int32_t* qo_indptr, cudaStream_t s) {
  if (h.dim == 64) return paged_run_d<T, 64>(ws, info, h, q, kv, o, qo_indptr, s);
  if (h.dim == 128) return paged_run_d<T, 128>(ws, info, h, q, kv, o, qo_indptr, s);
  return cudaErrorInvalidValue;
}

template cudaError_t paged_prefill_run<half>(const Workspace&, const PrefillPlanInfo&, const Heads&, const half*,
                                             const PagedArgs&, half*, int32_t*, cudaStream_t);
template cudaError_t paged_prefill_run<__nv_bfloat16>(const Workspace&, const PrefillPlanInfo&, const Heads&,
                                                      const __nv_bfloat16*, const PagedArgs&, __nv_bfloat16*, int32_t*,
                                                      cudaStream_t);

}  // namespace attnbench::fi
