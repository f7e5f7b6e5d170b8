// FlashInfer's Hopper batch prefill over the engine's paged cache (BatchPrefillWithPagedKVCacheDispatched
// of hopper/prefill_sm90.cuh: cp.async gathers of one cache slot per key token, wgmma), causal,
// fp16 / bf16, head dims 64 and 128; see flashinfer_sm90.cuh.
#include "attn/flashinfer_sm90.cuh"  // first: stands in for flashinfer/cutlass_utils.cuh

#include <flashinfer/attention/hopper/default_params.cuh>
#include <flashinfer/attention/hopper/prefill_sm90.cuh>
#include <flashinfer/attention/hopper/variants.cuh>
#include <flashinfer/attention/mask.cuh>

namespace attnbench::fi90 {

using namespace flashinfer;

template <class T, int D>
static cudaError_t paged_run_d(const Sm90Problem& pb, cudaStream_t s) {
  using C = typename cutlass_dtype<T>::type;
  using Params = BatchPrefillPagedParams<C, C, C, int32_t>;
  Params p;
  sm90_fill_common<D>(p, pb);
  p.kv_indices = const_cast<int32_t*>(pb.kv_slots);
  p.page_size = 1;  // vector-sparse: every index is one token's slot
  if (pb.info->same_schedule_for_all_heads) return cudaErrorNotSupported;
  return BatchPrefillWithPagedKVCacheDispatched<D, D, MaskMode::kCausal, /*LEFT_SLIDING_WINDOW=*/false,
                                                /*SAME_SCHEDULE_FOR_ALL_HEADS=*/false, StandardAttention, Params>(
      p, /*enable_pdl=*/false, s);
}

template <class T>
cudaError_t sm90_paged_run(const Sm90Problem& pb, cudaStream_t s) {
  if (pb.head_dim == 64) return paged_run_d<T, 64>(pb, s);
  if (pb.head_dim == 128) return paged_run_d<T, 128>(pb, s);
  return cudaErrorInvalidValue;
}

template cudaError_t sm90_paged_run<half>(const Sm90Problem&, cudaStream_t);
template cudaError_t sm90_paged_run<__nv_bfloat16>(const Sm90Problem&, cudaStream_t);

}  // namespace attnbench::fi90
