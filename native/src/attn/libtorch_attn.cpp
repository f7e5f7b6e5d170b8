// `flashattn` and `cudnn` prefill: PyTorch's bundled kernels called from C++ through libtorch
// (built only when cmake/optional_backends.cmake finds libtorch; otherwise the registry reports the
// build's reason). Both are prefill only: torch 2.11 has no paged decode API.
//
//   flashattn  at::_flash_attention_forward (FA2, varlen, causal aligned bottom-right) on zero-copy
//              at::from_blob views. K/V must be contiguous per sequence: with no earlier context
//              (every ctx_len 0) k_new/v_new are used as they are; otherwise every visible key is
//              gathered from the paged cache into a packed buffer (index_select: one extra read and
//              write of all K/V per layer, which `fused` does not pay).
//   cudnn      at::_scaled_dot_product_cudnn_attention on a right-padded [B, S, H, D] buffer seen as
//              strided [B, H, S, D], S = the longest key length. Queries sit at their key positions
//              (rows ctx .. ctx+q_len of their sequence), so top-left causal masking is exact; keys
//              are gathered from the paged cache (padding rows repeat key 0, never seen by a valid
//              query). Costs: the padding copy of Q, the K/V gather, the padded work, one copy out.
//
// Outputs come from torch's caching allocator (no out= variants): one copy back into `out`.
// Index lists are built on the host in plan() and uploaded synchronously there (once per step).
// run() allocates through torch's allocator, so neither backend can be captured in a CUDA graph
// (prefill never is).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "attn/backend.h"
#include "attn/registry.h"

namespace attnbench {
namespace {

// ---- typed calls when this torch's signature matches, else the boxed dispatcher by name ----
struct FlashTyped {
  template <class... A>
  auto operator()(A&&... a) const -> decltype(at::_flash_attention_forward(std::forward<A>(a)...)) {
    return at::_flash_attention_forward(std::forward<A>(a)...);
  }
};
struct CudnnTyped {
  template <class... A>
  auto operator()(A&&... a) const -> decltype(at::_scaled_dot_product_cudnn_attention(std::forward<A>(a)...)) {
    return at::_scaled_dot_product_cudnn_attention(std::forward<A>(a)...);
  }
};

at::Tensor call_boxed(const char* name, const std::map<std::string, c10::IValue>& args) {
  auto op = c10::Dispatcher::singleton().findOp(c10::OperatorName(name, ""));
  if (!op) throw std::runtime_error(std::string(name) + " is not registered in this libtorch");
  std::vector<c10::IValue> stack;
  for (const auto& a : op->schema().arguments()) {
    auto it = args.find(a.name());
    if (it != args.end()) stack.push_back(it->second);
    else if (a.default_value()) stack.push_back(*a.default_value());
    else stack.emplace_back();
  }
  op->callBoxed(&stack);
  return stack.at(0).toTensor();
}

template <class F = FlashTyped>
at::Tensor flash_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cu_q,
                        const at::Tensor& cu_k, int64_t max_q, int64_t max_k, double scale) {
  if constexpr (std::is_invocable_v<F, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    const at::Tensor&, int64_t, int64_t, double, bool, bool, std::optional<double>>) {
    return std::get<0>(F{}(q, k, v, cu_q, cu_k, max_q, max_k, 0.0, true, false, std::optional<double>(scale)));
  } else {
    return call_boxed("aten::_flash_attention_forward",
                      {{"query", q}, {"key", k}, {"value", v}, {"cum_seq_q", cu_q}, {"cum_seq_k", cu_k},
                       {"max_q", max_q}, {"max_k", max_k}, {"dropout_p", 0.0}, {"is_causal", true},
                       {"return_debug_mask", false}, {"scale", scale}});
  }
}

template <class F = CudnnTyped>
at::Tensor cudnn_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  if constexpr (std::is_invocable_v<F, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    const std::optional<at::Tensor>&, bool, double, bool, bool, std::optional<double>>) {
    return std::get<0>(F{}(q, k, v, std::optional<at::Tensor>(), false, 0.0, true, false, std::optional<double>(scale)));
  } else {
    return call_boxed("aten::_scaled_dot_product_cudnn_attention",
                      {{"query", q}, {"key", k}, {"value", v}, {"compute_log_sumexp", false}, {"dropout_p", 0.0},
                       {"is_causal", true}, {"return_debug_mask", false}, {"scale", scale}});
  }
}

// ---- shared helpers ----
std::string torch_status(const AttnDims* d, const char* what) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return "unavailable: no CUDA device";
  if (!at::hasCUDA()) return "unavailable: this libtorch has no CUDA";
  if (!d) return "ok";
  if (d->dtype == DType::F32) return std::string("unavailable: ") + what + " takes fp16 or bf16, not fp32";
  if (d->head_dim % 8 != 0 || d->head_dim > 256)
    return std::string("unavailable: ") + what + " needs head_dim a multiple of 8, at most 256";
  if (d->num_kv_heads <= 0 || d->num_heads % d->num_kv_heads != 0)
    return "unavailable: num_heads must be a multiple of num_kv_heads";
  return "ok";
}

at::TensorOptions opts_for(const AttnDims& d) {
  int dev = 0;
  cudaGetDevice(&dev);
  return at::TensorOptions().dtype(d.dtype == DType::BF16 ? at::kBFloat16 : at::kHalf).device(at::kCUDA, dev);
}

c10::cuda::CUDAStream stream_of(void* stream) {
  int dev = 0;
  cudaGetDevice(&dev);
  return c10::cuda::getStreamFromExternal(static_cast<cudaStream_t>(stream), (c10::DeviceIndex)dev);
}

// Slot of key t of prefill slice s in the [num_blocks * block_size] token rows of the cache.
int64_t slot_of(const StepBatch& h, int s, int t, int bs) {
  return (int64_t)h.block_tables[(size_t)s * h.max_blocks_per_seq + t / bs] * bs + t % bs;
}

at::Tensor to_device_i64(const std::vector<int64_t>& v) {
  int dev = 0;
  cudaGetDevice(&dev);
  return at::from_blob(const_cast<int64_t*>(v.data()), {(int64_t)v.size()}, at::kLong).to(at::Device(at::kCUDA, dev));
}

// ---- flashattn ----
class FlashAttnPrefill final : public PrefillAttn {
 public:
  explicit FlashAttnPrefill(const AttnDims& d) : dims_(d) {
    const std::string st = torch_status(&d, "flashattn");
    if (st != "ok") throw std::runtime_error("flashattn prefill: " + st);
  }
  void plan(const AttnMetadata& md) override {
    const StepBatch& h = *md.host;
    B_ = md.num_prefill_seqs;
    max_q_ = max_k_ = 0;
    gather_ = false;
    for (int s = 0; s < B_; ++s) {
      max_q_ = std::max(max_q_, h.cu_seqlens_q[s + 1] - h.cu_seqlens_q[s]);
      max_k_ = std::max(max_k_, h.seq_lens_k[s]);
      gather_ |= h.ctx_lens[s] > 0;
    }
    if (!gather_ || B_ == 0) return;
    c10::InferenceMode im;
    std::vector<int64_t> slots, cu_k(1, 0);
    for (int s = 0; s < B_; ++s) {
      for (int t = 0; t < h.seq_lens_k[s]; ++t) slots.push_back(slot_of(h, s, t, dims_.block_size));
      cu_k.push_back(cu_k.back() + h.seq_lens_k[s]);
    }
    slots_ = to_device_i64(slots);
    cu_k_ = to_device_i64(cu_k).to(at::kInt);
  }
  void run(int /*layer*/, const void* q, const void* k_new, const void* v_new, const PagedKv& cache, void* out,
           const AttnMetadata& md, void* stream) override {
    if (B_ == 0) return;
    c10::InferenceMode im;
    c10::cuda::CUDAStreamGuard guard(stream_of(stream));
    const auto o = opts_for(dims_);
    const int64_t N = md.num_prefill_tokens, H = dims_.num_heads, Hk = dims_.num_kv_heads, D = dims_.head_dim;
    at::Tensor Q = at::from_blob(const_cast<void*>(q), {N, H, D}, o);
    at::Tensor cu_q = at::from_blob(const_cast<int32_t*>(md.cu_seqlens_q), {B_ + 1}, o.dtype(at::kInt));
    at::Tensor K, V, cu_k = cu_q;
    if (!gather_) {
      K = at::from_blob(const_cast<void*>(k_new), {N, Hk, D}, o);
      V = at::from_blob(const_cast<void*>(v_new), {N, Hk, D}, o);
    } else {
      const int64_t rows = (int64_t)cache.num_blocks * dims_.block_size;
      K = at::index_select(at::from_blob(cache.k, {rows, Hk, D}, o), 0, slots_);
      V = at::index_select(at::from_blob(cache.v, {rows, Hk, D}, o), 0, slots_);
      cu_k = cu_k_;
    }
    at::Tensor r = flash_varlen(Q, K, V, cu_q, cu_k, max_q_, max_k_, dims_.scale);
    at::from_blob(out, {N, H, D}, o).copy_(r);
  }

 private:
  AttnDims dims_;
  int B_ = 0, max_q_ = 0, max_k_ = 0;
  bool gather_ = false;
  at::Tensor slots_, cu_k_;
};

// ---- cudnn ----
class CudnnPrefill final : public PrefillAttn {
 public:
  explicit CudnnPrefill(const AttnDims& d) : dims_(d) {
    const std::string st = torch_status(&d, "cudnn");
    if (st != "ok") throw std::runtime_error("cudnn prefill: " + st);
  }
  void plan(const AttnMetadata& md) override {
    const StepBatch& h = *md.host;
    B_ = md.num_prefill_seqs;
    S_ = 0;
    for (int s = 0; s < B_; ++s) S_ = std::max<int64_t>(S_, h.seq_lens_k[s]);
    if (B_ == 0) return;
    c10::InferenceMode im;
    std::vector<int64_t> q_rows, kv_slots;
    for (int s = 0; s < B_; ++s) {
      for (int i = 0; i < h.cu_seqlens_q[s + 1] - h.cu_seqlens_q[s]; ++i) q_rows.push_back((int64_t)s * S_ + h.ctx_lens[s] + i);
      for (int t = 0; t < S_; ++t) kv_slots.push_back(slot_of(h, s, t < h.seq_lens_k[s] ? t : 0, dims_.block_size));
    }
    q_rows_ = to_device_i64(q_rows);
    kv_slots_ = to_device_i64(kv_slots);
  }
  void run(int /*layer*/, const void* q, const void* /*k_new*/, const void* /*v_new*/, const PagedKv& cache, void* out,
           const AttnMetadata& md, void* stream) override {
    if (B_ == 0) return;
    c10::InferenceMode im;
    c10::cuda::CUDAStreamGuard guard(stream_of(stream));
    const auto o = opts_for(dims_);
    const int64_t N = md.num_prefill_tokens, H = dims_.num_heads, Hk = dims_.num_kv_heads, D = dims_.head_dim;
    const int64_t rows = (int64_t)cache.num_blocks * dims_.block_size;
    at::Tensor Qp = at::zeros({B_, S_, H, D}, o);
    Qp.view({B_ * S_, H, D}).index_copy_(0, q_rows_, at::from_blob(const_cast<void*>(q), {N, H, D}, o));
    at::Tensor Kp = at::index_select(at::from_blob(cache.k, {rows, Hk, D}, o), 0, kv_slots_).view({B_, S_, Hk, D});
    at::Tensor Vp = at::index_select(at::from_blob(cache.v, {rows, Hk, D}, o), 0, kv_slots_).view({B_, S_, Hk, D});
    if (Hk != H) {  // GQA: cuDNN SDPA here wants equal head counts
      Kp = Kp.repeat_interleave(H / Hk, 2);
      Vp = Vp.repeat_interleave(H / Hk, 2);
    }
    at::Tensor r = cudnn_sdpa(Qp.transpose(1, 2), Kp.transpose(1, 2), Vp.transpose(1, 2), dims_.scale);  // [B,H,S,D]
    at::Tensor rows_out = r.transpose(1, 2).reshape({B_ * S_, H, D});
    at::Tensor O = at::from_blob(out, {N, H, D}, o);
    at::index_select_out(O, rows_out, 0, q_rows_);
  }

 private:
  AttnDims dims_;
  int64_t B_ = 0, S_ = 0;
  at::Tensor q_rows_, kv_slots_;
};

// ---- decode: not offered by torch 2.11 ----
std::string no_paged_decode(const AttnDims*) { return "unavailable: no paged decode API in torch 2.11"; }
template <const char* Name>
std::unique_ptr<DecodeAttn> refuse_decode(const AttnDims&) {
  throw std::runtime_error(std::string(Name) + " decode: no paged decode API in torch 2.11");
}
constexpr char kFlashName[] = "flashattn";
constexpr char kCudnnName[] = "cudnn";

std::unique_ptr<PrefillAttn> make_flashattn(const AttnDims& d) { return std::make_unique<FlashAttnPrefill>(d); }
std::unique_ptr<PrefillAttn> make_cudnn(const AttnDims& d) { return std::make_unique<CudnnPrefill>(d); }
std::string flashattn_status(const AttnDims* d) { return torch_status(d, "flashattn"); }
std::string cudnn_status(const AttnDims* d) {
  const std::string st = torch_status(d, "cudnn");
  if (st != "ok") return st;
  if (!at::globalContext().hasCuDNN()) return "unavailable: this libtorch has no cuDNN";
  return "ok";
}

}  // namespace

ATTNBENCH_REGISTER_PREFILL(flashattn, CUDA, make_flashattn, flashattn_status);
ATTNBENCH_REGISTER_PREFILL(cudnn, CUDA, make_cudnn, cudnn_status);
ATTNBENCH_REGISTER_DECODE(flashattn, CUDA, refuse_decode<kFlashName>, no_paged_decode);
ATTNBENCH_REGISTER_DECODE(cudnn, CUDA, refuse_decode<kCudnnName>, no_paged_decode);

}  // namespace attnbench
