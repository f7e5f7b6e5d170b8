// `naive` on CPU: per (sequence, head), materialise the scores S = Q K^T * scale over every key the
// query may see (read from the paged cache through the block table), apply the causal mask, softmax,
// then O = P V. The baseline every other backend is checked against.
#include <cmath>
#include <vector>

#include "attn/cpu_status.h"
#include "attn/registry.h"
#include "cpu/elementwise.h"
#include "cpu/paged_kv.h"
#include "cpu/thread_pool.h"
#include "cpu/vec4.h"

namespace attnbench {

namespace {

// Queries q_rows[i] (i < q_len) at positions ctx_len + i attend keys [0, ctx_len + i].
void attend_materialised(const float* q, int q_stride, int q_len, int ctx_len, const PagedView& K, const PagedView& V,
                         int kv_head, int D, float scale, float* out, int out_stride) {
  const int k_len = ctx_len + q_len;
  thread_local std::vector<float> scores;
  scores.assign((size_t)q_len * k_len, -INFINITY);
  for (int i = 0; i < q_len; ++i)
    for (int j = 0; j <= ctx_len + i; ++j)
      scores[(size_t)i * k_len + j] = dot(q + (size_t)i * q_stride, K.row(j, kv_head), D) * scale;
  for (int i = 0; i < q_len; ++i) {
    float* p = &scores[(size_t)i * k_len];
    softmax_inplace(p, k_len);  // masked entries are exp(-inf) = 0
    float* o = out + (size_t)i * out_stride;
    for (int d = 0; d < D; ++d) o[d] = 0.0f;
    for (int j = 0; j <= ctx_len + i; ++j) axpy(p[j], V.row(j, kv_head), o, D);
  }
}

class NaivePrefillCpu : public PrefillAttn {
 public:
  explicit NaivePrefillCpu(const AttnDims& d) : d_(d) {}
  void run(int, const void* q, const void*, const void*, const PagedKv& cache, void* out, const AttnMetadata& md,
           void*) override {
    const int H = d_.num_heads, D = d_.head_dim, group = H / d_.num_kv_heads;
    cpu_pool().parallel_for(md.num_prefill_seqs * H, [&](int task) {
      const int s = task / H, h = task % H;
      const int t0 = md.cu_seqlens_q[s], q_len = md.cu_seqlens_q[s + 1] - t0;
      const int32_t* table = md.block_tables + (size_t)s * md.max_blocks_per_seq;
      PagedView K{(const float*)cache.k, table, d_.block_size, d_.num_kv_heads, D};
      PagedView V{(const float*)cache.v, table, d_.block_size, d_.num_kv_heads, D};
      attend_materialised((const float*)q + ((size_t)t0 * H + h) * D, H * D, q_len, md.ctx_lens[s], K, V, h / group, D,
                          d_.scale, (float*)out + ((size_t)t0 * H + h) * D, H * D);
    });
  }

 private:
  AttnDims d_;
};

class NaiveDecodeCpu : public DecodeAttn {
 public:
  explicit NaiveDecodeCpu(const AttnDims& d) : d_(d) {}
  void run(int, const void* q, const PagedKv& cache, void* out, const AttnMetadata& md, void*) override {
    const int H = d_.num_heads, D = d_.head_dim, group = H / d_.num_kv_heads;
    cpu_pool().parallel_for(md.num_decode_seqs * H, [&](int task) {
      const int j = task / H, h = task % H, s = md.num_prefill_seqs + j;
      const int32_t* table = md.block_tables + (size_t)s * md.max_blocks_per_seq;
      PagedView K{(const float*)cache.k, table, d_.block_size, d_.num_kv_heads, D};
      PagedView V{(const float*)cache.v, table, d_.block_size, d_.num_kv_heads, D};
      attend_materialised((const float*)q + ((size_t)j * H + h) * D, H * D, 1, md.seq_lens_k[s] - 1, K, V, h / group, D,
                          d_.scale, (float*)out + ((size_t)j * H + h) * D, H * D);
    });
  }

 private:
  AttnDims d_;
};

}  // namespace

ATTNBENCH_REGISTER_PREFILL(naive, CPU, [](const AttnDims& d) { return std::unique_ptr<PrefillAttn>(new NaivePrefillCpu(d)); },
                           cpu_attn_status);
ATTNBENCH_REGISTER_DECODE(naive, CPU, [](const AttnDims& d) { return std::unique_ptr<DecodeAttn>(new NaiveDecodeCpu(d)); },
                          cpu_attn_status);

}  // namespace attnbench
