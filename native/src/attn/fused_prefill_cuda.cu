// `fused` prefill on CUDA: our FlashAttention-2-style causal varlen kernel over the paged cache
// (kernel in attn/fused_prefill_cuda.cuh; how it was tuned: docs/perf-notes.md), or on sm_90 the
// Hopper kernel (attn/fused_prefill_sm90.cuh: wgmma, producer/consumer warpgroups, mbarriers) when
// ATTNBENCH_PREFILL_SM90=1. Off by default: correct, but on the H200 only 0.7-1.1x the FA2 kernel
// (docs/perf-notes.md, k15 run 2); it needs an sm_90a build.
// plan() records the grid (prefill slices x query tiles); run() launches one kernel, no sync.
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "attn/backend.h"
#include "attn/fused_prefill_cuda.cuh"
#include "attn/fused_prefill_sm90.cuh"
#include "attn/registry.h"
#include "core/cuda_check.h"

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

class FusedPrefillCuda final : public PrefillAttn {
 public:
  explicit FusedPrefillCuda(const AttnDims& dims) : dims_(dims) {
    const std::string st = fused_cuda_status(&dims);
    if (st != "ok") throw std::runtime_error("fused prefill (cuda): " + st);
    int dev = 0, major = 0, minor = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    sm90_ = dims.exp.prefill_sm90 && major == 9 && minor == 0;
  }

  void plan(const AttnMetadata& md) override {
    num_seqs_ = md.num_prefill_seqs;
    max_q_len_ = 0;
    for (int s = 0; s < num_seqs_; ++s)
      max_q_len_ = std::max(max_q_len_, md.host->cu_seqlens_q[s + 1] - md.host->cu_seqlens_q[s]);
  }
  // The plan is two ints and the grid covers the bucket's rows: q tiles past a prompt's real length exit.
  bool supports_graph() const override { return true; }
  void prepare_for_replay(const AttnMetadata& md) override {
    num_seqs_ = md.num_prefill_seqs;
    max_q_len_ = md.max_q_len;
  }

  void run(int /*layer*/, const void* q, const void* /*k_new*/, const void* /*v_new*/, const PagedKv& cache,
           void* out, const AttnMetadata& md, void* stream) override {
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
    const bool bf16 = dims_.dtype == DType::BF16;
    cudaError_t e;
    if (sm90_) {
      if (dims_.head_dim == 64)
        e = bf16 ? launch_fused_prefill_sm90_best<__nv_bfloat16, 64>(p, num_seqs_, max_q_len_, s)
                 : launch_fused_prefill_sm90_best<__half, 64>(p, num_seqs_, max_q_len_, s);
      else
        e = bf16 ? launch_fused_prefill_sm90_best<__nv_bfloat16, 128>(p, num_seqs_, max_q_len_, s)
                 : launch_fused_prefill_sm90_best<__half, 128>(p, num_seqs_, max_q_len_, s);
    } else if (dims_.head_dim == 64)
      e = bf16 ? launch_fused_prefill_best<__nv_bfloat16, 64>(p, num_seqs_, max_q_len_, s)
               : launch_fused_prefill_best<__half, 64>(p, num_seqs_, max_q_len_, s);
    else
      e = bf16 ? launch_fused_prefill_best<__nv_bfloat16, 128>(p, num_seqs_, max_q_len_, s)
               : launch_fused_prefill_best<__half, 128>(p, num_seqs_, max_q_len_, s);
    CUDA_CHECK(e);
  }

 private:
  AttnDims dims_;
  int num_seqs_ = 0, max_q_len_ = 0;
  bool sm90_ = false;
};

std::unique_ptr<PrefillAttn> make_fused_prefill_cuda(const AttnDims& dims) {
  return std::make_unique<FusedPrefillCuda>(dims);
}

}  // namespace

ATTNBENCH_REGISTER_PREFILL(fused, CUDA, make_fused_prefill_cuda, fused_cuda_status);

}  // namespace attnbench
