// `fused` decode on CUDA: split-KV paged decode (flash-decoding). Two kernels: the tensor-core one
// (attn/fused_decode_tc_cuda.cuh, lab v10: the GQA group as mma rows, warp-private cp.async rings,
// splits from choose_decode_tc_splits), the default, and the CUDA-core one (attn/fused_decode_cuda.cuh,
// lab v4), kept for comparison (ATTNBENCH_DECODE_TC=0). ATTNBENCH_DECODE_TCP=1|2 runs the tensor-core
// loop in persistent CTAs (fused_decode_tcp_kernel, lab v13 / v14; split policy choose_decode_tcp_splits).
// The constructor allocates the split workspace once (fixed addresses); plan() picks the split
// count on the host from the batch shape; run() launches the split kernel and, when the step uses
// more than one split, the LSE merge kernel. No sync and no allocation in run(): CUDA-graph safe.
// run_qkv() (the runner's path, DecodeFromQkvRows) reads q and the new K/V from the QKV rows and appends
// K/V itself, for rotary models rotating q and k on the way (tensor-core kernel);
// ATTNBENCH_DECODE_SPLIT_APPEND=1 turns that off (the split kernel appends, run() reads q).
// The workspace holds rows = 16 x SMs x 8 (seq, head, split) rows; plan() clamps the split count
// so that num_decode_seqs x num_heads x splits fits (only small batches split at all).
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "attn/backend.h"
#include "attn/fused_decode_cuda.cuh"
#include "attn/fused_decode_tc_cuda.cuh"
#include "attn/registry.h"
#include "core/cuda_check.h"

namespace attnbench {

std::string fused_cuda_status(const AttnDims* d);  // fused_prefill_cuda.cu

namespace {

class FusedDecodeCuda final : public DecodeAttn, public DecodeFromQkvRows {
 public:
  explicit FusedDecodeCuda(const AttnDims& dims) : dims_(dims) {
    const std::string st = fused_cuda_status(&dims);
    if (st != "ok") throw std::runtime_error("fused decode (cuda): " + st);
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, dev));
    ws_rows_ = (size_t)16 * num_sms_ * 8;
    // Launch order experiment switch (native/dev/attention_decode.cu v4 vs v2 measures it).
    heads_inner_ = dims.exp.decode_heads_inner ? 1 : 0;
    qkv_rows_ = dims.exp.decode_reads_qkv_rows;
    tc_ = dims.exp.decode_tc;
    tcp_ = tc_ ? dims.exp.decode_tcp : 0;
    // Query rows a CTA serves: the group tile, times the KV heads the persistent kernel packs.
    hp_ = tcp_ ? decode_tcp_heads_packed(dims.head_dim, dims.num_heads, dims.num_kv_heads, tcp_ == 2) : 1;
    CUDA_CHECK(cudaMalloc(&partial_o_, ws_rows_ * dims.head_dim * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&partial_lse_, ws_rows_ * sizeof(float)));
  }
  ~FusedDecodeCuda() override {
    cudaFree(partial_o_);
    cudaFree(partial_lse_);
  }

  void plan(const AttnMetadata& md) override {
    int max_len = 0;
    for (int i = md.num_prefill_seqs; i < md.num_seqs; ++i) max_len = std::max(max_len, md.host->seq_lens_k[i]);
    plan_splits(md.num_decode_seqs, max_len);
  }
  // A bucket's split count comes from the context limit (md.max_k_len), not the capture's pad lengths:
  // each sequence then uses min(splits, ceil(len / min_chunk)), computed on the device from seq_lens.
  bool supports_graph() const override { return true; }
  void prepare_for_replay(const AttnMetadata& md) override { plan_splits(md.num_decode_seqs, md.max_k_len); }

  void plan_splits(int num_seqs, int max_len) {
    num_seqs_ = num_seqs;
    if (num_seqs_ == 0) return;
    const int g = tc_ ? decode_tc_group_tile(dims_.num_heads, dims_.num_kv_heads)
                      : decode_group_tile(dims_.num_heads, dims_.num_kv_heads);
    const int rows = g * hp_;
    int s = tcp_ ? choose_decode_tcp_splits(num_seqs_, dims_.num_heads, rows, max_len, num_sms_)
            : tc_ ? choose_decode_tc_splits(num_seqs_, dims_.num_heads, g, max_len, num_sms_)
                  : choose_decode_splits(num_seqs_, dims_.num_heads, g, max_len, num_sms_);
    const size_t per_split = (size_t)num_seqs_ * dims_.num_heads;
    s = (int)std::min<size_t>((size_t)s, std::max<size_t>(1, ws_rows_ / per_split));
    num_splits_ = s;
    min_chunk_ = decode_min_chunk(num_seqs_, dims_.num_heads, rows, num_sms_);
  }

  void run(int /*layer*/, const void* q, const PagedKv& cache, void* out, const AttnMetadata& md,
           void* stream) override {
    if (num_seqs_ == 0) return;
    FusedDecodeParams p{};
    p.q = q;
    launch(p, cache, out, md, stream);
  }

  bool reads_qkv_rows() const override { return qkv_rows_; }
  // The tensor-core kernel only; not the persistent one (ATTNBENCH_DECODE_TCP), which has no q/k transform.
  bool applies_qk_transform() const override { return tc_ && tcp_ == 0; }
  void run_qkv(int /*layer*/, const DecodeQkvRows& rows, const PagedKv& cache, void* out, const AttnMetadata& md,
               void* stream) override {
    if (num_seqs_ == 0) return;
    const size_t elt = dtype_bytes(dims_.dtype);
    const char* row = static_cast<const char*>(rows.qkv);
    FusedDecodeParams p{};
    p.q = row;
    p.k_new = row + (size_t)dims_.num_heads * dims_.head_dim * elt;
    p.v_new = row + (size_t)(dims_.num_heads + dims_.num_kv_heads) * dims_.head_dim * elt;
    p.q_row_stride = rows.row_stride;
    p.slot_mapping = rows.slot_mapping;
    p.k_cache_out = cache.k;
    p.v_cache_out = cache.v;
    p.rope_inv_freq = rows.rope_inv_freq;
    p.positions = rows.positions;
    p.q_norm_w = rows.q_norm_w;
    p.k_norm_w = rows.k_norm_w;
    p.norm_eps = rows.norm_eps;
    if (p.rope_inv_freq && !applies_qk_transform()) throw std::runtime_error("fused decode (cuda): the q/k transform needs the (non-persistent) tensor-core kernel");
    launch(p, cache, out, md, stream);
  }

 private:
  void launch(FusedDecodeParams& p, const PagedKv& cache, void* out, const AttnMetadata& md, void* stream) {
    p.k = cache.k;
    p.v = cache.v;
    p.out = out;
    p.seq_lens = md.seq_lens_k + md.num_prefill_seqs;
    p.block_tables = md.block_tables + (size_t)md.num_prefill_seqs * md.max_blocks_per_seq;
    p.max_blocks_per_seq = md.max_blocks_per_seq;
    p.block_size = dims_.block_size;
    p.num_heads = dims_.num_heads;
    p.num_kv_heads = dims_.num_kv_heads;
    p.scale_log2 = dims_.scale * 1.4426950408889634f;
    p.num_splits = num_splits_;
    p.min_chunk = min_chunk_;
    p.heads_inner = heads_inner_;
    p.partial_o = partial_o_;
    p.partial_lse = partial_lse_;
    auto s = static_cast<cudaStream_t>(stream);
    const bool bf16 = dims_.dtype == DType::BF16;
    cudaError_t e;
    if (tcp_) {
      if (dims_.head_dim == 64)
        e = bf16 ? launch_fused_decode_tcp_best<__nv_bfloat16, 64>(p, num_seqs_, s, hp_)
                 : launch_fused_decode_tcp_best<__half, 64>(p, num_seqs_, s, hp_);
      else
        e = bf16 ? launch_fused_decode_tcp_best<__nv_bfloat16, 128>(p, num_seqs_, s, hp_)
                 : launch_fused_decode_tcp_best<__half, 128>(p, num_seqs_, s, hp_);
    } else if (tc_) {
      if (dims_.head_dim == 64)
        e = bf16 ? launch_fused_decode_tc_best<__nv_bfloat16, 64>(p, num_seqs_, s)
                 : launch_fused_decode_tc_best<__half, 64>(p, num_seqs_, s);
      else
        e = bf16 ? launch_fused_decode_tc_best<__nv_bfloat16, 128>(p, num_seqs_, s)
                 : launch_fused_decode_tc_best<__half, 128>(p, num_seqs_, s);
    } else if (dims_.head_dim == 64) {
      e = bf16 ? launch_fused_decode<__nv_bfloat16, 64>(p, num_seqs_, s) : launch_fused_decode<__half, 64>(p, num_seqs_, s);
    } else {
      e = bf16 ? launch_fused_decode<__nv_bfloat16, 128>(p, num_seqs_, s) : launch_fused_decode<__half, 128>(p, num_seqs_, s);
    }
    CUDA_CHECK(e);
  }

  AttnDims dims_;
  int num_sms_ = 0, num_seqs_ = 0, num_splits_ = 1, min_chunk_ = 256, heads_inner_ = 1, tcp_ = 0, hp_ = 1;
  bool qkv_rows_ = true, tc_ = true;
  size_t ws_rows_ = 0;
  float* partial_o_ = nullptr;
  float* partial_lse_ = nullptr;
};

std::unique_ptr<DecodeAttn> make_fused_decode_cuda(const AttnDims& dims) {
  return std::make_unique<FusedDecodeCuda>(dims);
}

}  // namespace

ATTNBENCH_REGISTER_DECODE(fused, CUDA, make_fused_decode_cuda, fused_cuda_status);

}  // namespace attnbench
