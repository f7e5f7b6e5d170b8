// `flashinfer_sm90` prefill: FlashInfer's Hopper ("FA3") batch prefill from the user's header-only
// copies of FlashInfer v0.5.3 (-DFLASHINFER_INCLUDE_DIR) and of the CUTLASS commit it pins
// (-DCUTLASS_INCLUDE_DIR); none of their code lives in this repo. Driven as FlashInfer's Python
// wrapper (backend="fa3") drives it: PrefillSM90Plan on the host once per step (work lists per SM in
// the int workspace, copied from a pinned buffer), the kernel per layer.
//   every ctx_len 0 -> BatchPrefillWithRaggedKVCacheDispatched on this step's contiguous k_new/v_new
//                      (K/V by TMA), as the `flashinfer` backend does with FlashInfer's FA2 kernels;
//   otherwise       -> BatchPrefillWithPagedKVCacheDispatched over the cache, one slot index per key
//                      token (flashinfer_sm90_paged.cu; ATTNBENCH_FI_SM90_PAGED=1 takes this path on
//                      every step, to price the gather against the ragged path).
// Causal, fp16 and bf16, head dims 64 and 128, any GQA group; sm_90 devices only (the kernels are
// built for sm_90a). Prefill only: decode has no sm90 kernel here (the `flashinfer` backend decodes).
// plan() uploads the slot list and waits for it and FlashInfer's own upload (a host sync point, like
// `flashinfer`); run() neither syncs nor allocates. No CUDA graphs (prefill runs eagerly).
#include "attn/flashinfer_sm90.cuh"  // first: stands in for flashinfer/cutlass_utils.cuh

#include <flashinfer/attention/hopper/default_params.cuh>
#include <flashinfer/attention/hopper/prefill_sm90.cuh>
#include <flashinfer/attention/hopper/variants.cuh>
#include <flashinfer/attention/mask.cuh>
#include <flashinfer/attention/scheduler.cuh>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "attn/registry.h"
#include "core/cuda_check.h"

namespace attnbench::fi90 {

using namespace flashinfer;

template <class T, int D>
static cudaError_t ragged_run_d(const Sm90Problem& pb, cudaStream_t s) {
  using C = typename cutlass_dtype<T>::type;
  using Params = BatchPrefillRaggedParams<C, C, C, int32_t>;
  Params p;
  sm90_fill_common<D>(p, pb);
  p.nnz_kv = pb.nnz_kv;
  if (pb.info->same_schedule_for_all_heads) return cudaErrorNotSupported;
  return BatchPrefillWithRaggedKVCacheDispatched<D, D, MaskMode::kCausal, /*LEFT_SLIDING_WINDOW=*/false,
                                                 /*SAME_SCHEDULE_FOR_ALL_HEADS=*/false, StandardAttention, Params>(
      p, /*enable_pdl=*/false, s);
}

template <class T>
cudaError_t sm90_ragged_run(const Sm90Problem& pb, cudaStream_t s) {
  if (pb.head_dim == 64) return ragged_run_d<T, 64>(pb, s);
  if (pb.head_dim == 128) return ragged_run_d<T, 128>(pb, s);
  return cudaErrorInvalidValue;
}

template cudaError_t sm90_ragged_run<half>(const Sm90Problem&, cudaStream_t);
template cudaError_t sm90_ragged_run<__nv_bfloat16>(const Sm90Problem&, cudaStream_t);

}  // namespace attnbench::fi90

namespace attnbench {
namespace {

std::string fi_sm90_status(const AttnDims* d) {
  int n = 0, dev = 0, major = 0, minor = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return "unavailable: no CUDA device";
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  if (major != 9 || minor != 0)
    return "unavailable: FlashInfer's sm90 prefill is built for sm_90a; this device is sm_" + std::to_string(major) +
           std::to_string(minor);
  if (!d) return "ok";
  if (d->dtype != DType::F16 && d->dtype != DType::BF16) return "unavailable: flashinfer_sm90 is built for fp16 and bf16";
  if (d->head_dim != 64 && d->head_dim != 128) return "unavailable: flashinfer_sm90 is built for head_dim 64 and 128";
  if (d->num_kv_heads <= 0 || d->num_heads % d->num_kv_heads != 0)
    return "unavailable: flashinfer_sm90 needs num_heads divisible by num_kv_heads";
  return "ok";
}

class FlashInferSm90Prefill final : public PrefillAttn {
 public:
  static constexpr size_t kIntWorkspaceBytes = 8u << 20;  // FlashInfer's Python default
  // Slots past a sequence's last key that the gather may read (FlashInfer leaves the bound to the
  // caller: indptr[-2] + the KV tile must stay inside the index array). Zero = slot 0, a valid address.
  static constexpr size_t kSlotPad = 256;

  explicit FlashInferSm90Prefill(const AttnDims& d) : dims_(d) {
    const std::string st = fi_sm90_status(&d);
    if (st != "ok") throw std::runtime_error("flashinfer_sm90: " + st);
    CUDA_CHECK(cudaMalloc(&int_ws_, kIntWorkspaceBytes));
    CUDA_CHECK(cudaMallocHost(&int_host_, kIntWorkspaceBytes));
  }
  ~FlashInferSm90Prefill() override {
    cudaFree(int_ws_);
    cudaFreeHost(int_host_);
    cudaFree(d_slots_);
    cudaFreeHost(h_slots_);
  }

  void plan(const AttnMetadata& md) override {
    const StepBatch& h = *md.host;
    B_ = md.num_prefill_seqs;
    if (B_ == 0) return;
    paged_ = dims_.exp.fi_sm90_paged;
    for (int s = 0; s < B_; ++s) paged_ |= h.ctx_lens[s] > 0;
    std::vector<int32_t> qo(h.cu_seqlens_q.begin(), h.cu_seqlens_q.begin() + B_ + 1);
    std::vector<int32_t> kv_indptr(B_ + 1, 0), kv_len(B_);
    for (int s = 0; s < B_; ++s) {
      kv_len[s] = paged_ ? h.seq_lens_k[s] : qo[s + 1] - qo[s];
      kv_indptr[s + 1] = kv_indptr[s] + kv_len[s];
    }
    nnz_qo_ = qo.back();
    nnz_kv_ = kv_indptr.back();
    if (paged_) upload_slots(h, kv_indptr);
    CUDA_CHECK(flashinfer::PrefillSM90Plan<int32_t>(
        /*float_buffer (unused by the sm90 plan)=*/nullptr, 0, int_ws_, int_host_, kIntWorkspaceBytes, info_, qo.data(),
        kv_indptr.data(), kv_len.data(), (uint32_t)nnz_qo_, (uint32_t)B_, dims_.num_heads, dims_.num_kv_heads,
        dims_.head_dim, dims_.head_dim, /*page_size=*/1, /*causal=*/true, /*enable_cuda_graph=*/false,
        /*sizeof_dtype_o=*/2, nullptr));
    if (info_.same_schedule_for_all_heads)
      throw std::runtime_error("flashinfer_sm90: a step of " + std::to_string(nnz_qo_) +
                               " query rows makes FlashInfer's plan share one schedule across heads (over 4096 query "
                               "tiles per head), a kernel variant this build does not instantiate");
    SYNC_STREAM(nullptr);  // our slot list and FlashInfer's pinned-buffer upload are done
  }

  void run(int, const void* q, const void* k_new, const void* v_new, const PagedKv& cache, void* out,
           const AttnMetadata&, void* stream) override {
    if (B_ == 0) return;
    fi90::Sm90Problem pb;
    pb.qo_heads = dims_.num_heads;
    pb.kv_heads = dims_.num_kv_heads;
    pb.head_dim = dims_.head_dim;
    pb.scale = dims_.scale;
    pb.nnz_qo = nnz_qo_;
    pb.nnz_kv = nnz_kv_;
    pb.q = q;
    pb.k = paged_ ? cache.k : k_new;
    pb.v = paged_ ? cache.v : v_new;
    pb.o = out;
    pb.int_ws = int_ws_;
    pb.info = &info_;
    pb.kv_slots = d_slots_;
    const auto s = static_cast<cudaStream_t>(stream);
    const bool bf16 = dims_.dtype == DType::BF16;
    cudaError_t e;
    if (paged_) e = bf16 ? fi90::sm90_paged_run<__nv_bfloat16>(pb, s) : fi90::sm90_paged_run<half>(pb, s);
    else e = bf16 ? fi90::sm90_ragged_run<__nv_bfloat16>(pb, s) : fi90::sm90_ragged_run<half>(pb, s);
    CUDA_CHECK(e);
  }

 private:
  // Cache slot of every key token of slices [0, B_), sequence after sequence, at kv_indptr's offsets
  // (then kSlotPad zeros); from the host block tables, through pinned staging.
  void upload_slots(const StepBatch& h, const std::vector<int32_t>& kv_indptr) {
    const size_t n = (size_t)kv_indptr.back() + kSlotPad;
    if (n > slot_cap_) {
      cudaFree(d_slots_);
      cudaFreeHost(h_slots_);
      slot_cap_ = std::max(n, 2 * slot_cap_);
      CUDA_CHECK(cudaMalloc(&d_slots_, slot_cap_ * 4));
      CUDA_CHECK(cudaMallocHost(&h_slots_, slot_cap_ * 4));
    }
    const int bs = dims_.block_size;
    for (int s = 0; s < B_; ++s) {
      const int32_t* row = &h.block_tables[(size_t)s * h.max_blocks_per_seq];
      int32_t* dst = h_slots_ + kv_indptr[s];
      for (int t = 0, len = kv_indptr[s + 1] - kv_indptr[s]; t < len; ++t) dst[t] = row[t / bs] * bs + t % bs;
    }
    std::fill(h_slots_ + kv_indptr.back(), h_slots_ + n, 0);
    CUDA_CHECK(cudaMemcpyAsync(d_slots_, h_slots_, n * 4, cudaMemcpyHostToDevice, nullptr));
  }

  AttnDims dims_;
  void* int_ws_ = nullptr;
  void* int_host_ = nullptr;  // pinned mirror of int_ws_
  int32_t* d_slots_ = nullptr;
  int32_t* h_slots_ = nullptr;  // pinned staging
  size_t slot_cap_ = 0;
  int B_ = 0;
  bool paged_ = false;
  int64_t nnz_qo_ = 0, nnz_kv_ = 0;
  flashinfer::PrefillPlanSM90Info info_;
};

std::string prefill_only(const AttnDims*) {
  return "unavailable: prefill-only backend (FlashInfer's sm90 kernels are prefill; `flashinfer` decodes)";
}
std::unique_ptr<DecodeAttn> refuse_decode(const AttnDims&) {
  throw std::runtime_error("flashinfer_sm90 decode: prefill-only backend");
}
std::unique_ptr<PrefillAttn> make_fi_sm90_prefill(const AttnDims& d) {
  return std::make_unique<FlashInferSm90Prefill>(d);
}

}  // namespace

ATTNBENCH_REGISTER_PREFILL(flashinfer_sm90, CUDA, make_fi_sm90_prefill, fi_sm90_status);
ATTNBENCH_REGISTER_DECODE(flashinfer_sm90, CUDA, refuse_decode, prefill_only);

}  // namespace attnbench
