// `fused` on CPU: the same tiling algorithm as the CUDA kernels, so CI tests the algorithm itself.
//
// Prefill (FlashAttention-2 style): for each Q tile of kTileQ queries, one pass over the visible K/V
// in tiles of kTileK keys, read through the block table. Per query row an fp32 running max m, running
// sum l and unnormalised accumulator acc; each K tile rescales them by exp(m_old - m_new). Tiles
// entirely above the causal diagonal are skipped; the diagonal tile is masked. O = acc / l.
//
// Decode (flash-decoding, split-KV): the context is cut into chunks of kChunkKeys; each
// (sequence, head, chunk) yields a partial output o_c = acc_c / l_c and its log-sum-exp
// lse_c = m_c + log(l_c); a second pass merges them: O = sum_c exp(lse_c - LSE) o_c.
// The chunk size is fixed (not derived from the batch), so a sequence's result never depends on
// which other sequences share its step.
#include <cmath>
#include <vector>

#include "attn/cpu_status.h"
#include "attn/registry.h"
#include "cpu/paged_kv.h"
#include "cpu/thread_pool.h"
#include "cpu/vec4.h"

namespace attnbench {

namespace {

constexpr int kTileQ = 16;
constexpr int kTileK = 32;
constexpr int kChunkKeys = 64;

class FusedPrefillCpu : public PrefillAttn {
 public:
  explicit FusedPrefillCpu(const AttnDims& d) : d_(d) {}

  void run(int, const void* qv, const void*, const void*, const PagedKv& cache, void* outv, const AttnMetadata& md,
           void*) override {
    const int H = d_.num_heads;
    // Tasks: (slice, head, q tile), flattened through a prefix sum of tiles per slice.
    tile_start_.assign(md.num_prefill_seqs + 1, 0);
    for (int s = 0; s < md.num_prefill_seqs; ++s) {
      const int q_len = md.cu_seqlens_q[s + 1] - md.cu_seqlens_q[s];
      tile_start_[s + 1] = tile_start_[s] + (q_len + kTileQ - 1) / kTileQ;
    }
    const int tiles = tile_start_[md.num_prefill_seqs];
    cpu_pool().parallel_for(tiles * H, [&](int task) {
      const int h = task % H, tile = task / H;
      int s = 0;
      while (tile_start_[s + 1] <= tile) ++s;
      run_tile(s, tile - tile_start_[s], h, (const float*)qv, cache, (float*)outv, md);
    });
  }

 private:
  void run_tile(int s, int qt, int h, const float* q, const PagedKv& cache, float* out, const AttnMetadata& md) const {
    const int H = d_.num_heads, D = d_.head_dim, kvh = h / (H / d_.num_kv_heads);
    const int t0 = md.cu_seqlens_q[s], q_len = md.cu_seqlens_q[s + 1] - t0, ctx = md.ctx_lens[s];
    const int i0 = qt * kTileQ, rows = std::min(kTileQ, q_len - i0);
    const int32_t* table = md.block_tables + (size_t)s * md.max_blocks_per_seq;
    PagedView K{(const float*)cache.k, table, d_.block_size, d_.num_kv_heads, D};
    PagedView V{(const float*)cache.v, table, d_.block_size, d_.num_kv_heads, D};

    thread_local std::vector<float> acc;
    acc.assign((size_t)kTileQ * D, 0.0f);
    float m[kTileQ], l[kTileQ], sc[kTileQ][kTileK];
    for (int r = 0; r < rows; ++r) m[r] = -INFINITY, l[r] = 0.0f;

    const int k_end = ctx + i0 + rows;  // keys visible to the tile's last query
    for (int k0 = 0; k0 < k_end; k0 += kTileK) {
      const int kn = std::min(kTileK, k_end - k0);
      for (int r = 0; r < rows; ++r) {
        const float* qr = q + ((size_t)(t0 + i0 + r) * H + h) * D;
        const int last = ctx + i0 + r;  // causal: this query sees keys [0, last]
        float tile_max = -INFINITY;
        for (int c = 0; c < kn; ++c) {
          const int j = k0 + c;
          sc[r][c] = j <= last ? dot(qr, K.row(j, kvh), D) * d_.scale : -INFINITY;
          tile_max = std::max(tile_max, sc[r][c]);
        }
        if (tile_max == -INFINITY) continue;  // the whole tile is masked for this row
        const float m_new = std::max(m[r], tile_max);
        const float corr = std::exp(m[r] - m_new);  // 0 on the first tile (m = -inf)
        float* a = &acc[(size_t)r * D];
        scale_inplace(corr, a, D);
        float sum = 0.0f;
        for (int c = 0; c < kn; ++c) {
          const float p = std::exp(sc[r][c] - m_new);
          sum += p;
          if (p != 0.0f) axpy(p, V.row(k0 + c, kvh), a, D);
        }
        l[r] = l[r] * corr + sum;
        m[r] = m_new;
      }
    }
    for (int r = 0; r < rows; ++r) {
      float* o = out + ((size_t)(t0 + i0 + r) * H + h) * D;
      const float inv = 1.0f / l[r];
      for (int d = 0; d < D; ++d) o[d] = acc[(size_t)r * D + d] * inv;
    }
  }

  AttnDims d_;
  std::vector<int> tile_start_;
};

class FusedDecodeCpu : public DecodeAttn {
 public:
  explicit FusedDecodeCpu(const AttnDims& d) : d_(d) {}

  void plan(const AttnMetadata& md) override {
    const int max_chunks = (md.max_k_len + kChunkKeys - 1) / kChunkKeys;
    const size_t rows = (size_t)md.num_decode_seqs * d_.num_heads * std::max(1, max_chunks);
    partial_out_.resize(rows * d_.head_dim);
    partial_lse_.resize(rows);
    max_chunks_ = std::max(1, max_chunks);
  }

  void run(int, const void* qv, const PagedKv& cache, void* outv, const AttnMetadata& md, void*) override {
    const int H = d_.num_heads, D = d_.head_dim, C = max_chunks_;
    const float* q = (const float*)qv;
    float* out = (float*)outv;
    // Pass 1: one task per (sequence, head, chunk).
    cpu_pool().parallel_for(md.num_decode_seqs * H * C, [&](int task) {
      const int c = task % C, h = (task / C) % H, j = task / (C * H);
      const int s = md.num_prefill_seqs + j, k_len = md.seq_lens_k[s];
      const int k0 = c * kChunkKeys, k1 = std::min(k_len, k0 + kChunkKeys);
      float* po = &partial_out_[(size_t)task * D];
      if (k0 >= k1) {
        partial_lse_[task] = -INFINITY;  // empty chunk: weight 0 in the merge
        return;
      }
      const int kvh = h / (H / d_.num_kv_heads);
      const int32_t* table = md.block_tables + (size_t)s * md.max_blocks_per_seq;
      PagedView K{(const float*)cache.k, table, d_.block_size, d_.num_kv_heads, D};
      PagedView V{(const float*)cache.v, table, d_.block_size, d_.num_kv_heads, D};
      const float* qr = q + ((size_t)j * H + h) * D;
      float sc[kChunkKeys], m = -INFINITY;
      for (int k = k0; k < k1; ++k) m = std::max(m, sc[k - k0] = dot(qr, K.row(k, kvh), D) * d_.scale);
      for (int d = 0; d < D; ++d) po[d] = 0.0f;
      float l = 0.0f;
      for (int k = k0; k < k1; ++k) {
        const float p = std::exp(sc[k - k0] - m);
        l += p;
        axpy(p, V.row(k, kvh), po, D);
      }
      scale_inplace(1.0f / l, po, D);
      partial_lse_[task] = m + std::log(l);
    });
    // Pass 2: merge the chunks of each (sequence, head) by their log-sum-exp.
    cpu_pool().parallel_for(md.num_decode_seqs * H, [&](int task) {
      const float* lse = &partial_lse_[(size_t)task * C];
      float mx = -INFINITY;
      for (int c = 0; c < C; ++c) mx = std::max(mx, lse[c]);
      float total = 0.0f;
      for (int c = 0; c < C; ++c) total += std::exp(lse[c] - mx);
      float* o = out + (size_t)task * D;
      for (int d = 0; d < D; ++d) o[d] = 0.0f;
      for (int c = 0; c < C; ++c)
        if (lse[c] != -INFINITY) axpy(std::exp(lse[c] - mx) / total, &partial_out_[((size_t)task * C + c) * D], o, D);
    });
  }

 private:
  AttnDims d_;
  int max_chunks_ = 1;
  std::vector<float> partial_out_, partial_lse_;
};

}  // namespace

ATTNBENCH_REGISTER_PREFILL(fused, CPU, [](const AttnDims& d) { return std::unique_ptr<PrefillAttn>(new FusedPrefillCpu(d)); },
                           cpu_attn_status);
ATTNBENCH_REGISTER_DECODE(fused, CPU, [](const AttnDims& d) { return std::unique_ptr<DecodeAttn>(new FusedDecodeCpu(d)); },
                          cpu_attn_status);

}  // namespace attnbench
