// Fused paged decode on tensor cores with a warp-private cp.async pipeline (split-KV, lab v6+).
//
//   kernel 1  grid = (num_heads / G, num_splits, num_seqs)   block = WARPS x 32 threads
//             A CTA serves the G query heads that share one KV head (GQA; G up to 16) over one
//             split of the keys, so every K/V page of the split is read once for all G heads.
//             The G query rows are the A operand of mma.sync m16n8k16 (rows >= G are zero), K and
//             V tiles of KW keys are the B operands (ldmatrix / ldmatrix.trans from smem), exactly
//             as in the prefill kernel with 16 query rows. The CTA's key tiles go round-robin to
//             its warps; each warp streams its own tiles through its own STAGES-deep ring of
//             shared memory with cp.async (16 bytes a lane, zero-filled past the end), so no
//             barrier sits in the loop and STAGES - 1 tiles per warp are always in flight.
//             Block-table entries are looked up one lane per key, two tiles before the copy
//             that uses them, and handed to the copying lanes by shuffles: page size 1 costs
//             the same one coalesced 4-byte load per key tile as page 16 (L1 broadcast).
//             At the end the warps' online-softmax states are merged in shared memory; one
//             split: the result goes to `out`, several: partial output + log2-sum-exp to the
//             workspace, merged by fused_decode_merge_kernel (attn/fused_decode_cuda.cuh).
//
// Same contract as fused_decode_kernel (FusedDecodeParams): QKV rows (p.k_new: the newest key is
// read from the QKV rows and the last split's CTA appends it to the cache), PDL, CUDA-graph safe
// (the grid depends on the batch size and the split count only; splits per sequence are computed
// on the device from seq_lens by both kernels). In addition, the q/k transform of Llama-family
// models (p.rope_inv_freq): every CTA rotates (and RMS-normalises) its q rows as it loads them; the
// last split's CTA rotates the new key, appends it, and then reads it back from the cache like any
// other key (after a CTA barrier), so no separate RoPE/append kernel runs for the decode rows.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

#include "kernels/mma.cuh"
#include "attn/fused_decode_cuda.cuh"
#include "core/pdl.cuh"

namespace attnbench {

template <int D, int KW, int STAGES, int WARPS>
struct DecodeTcConfig {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kTileElems = 2 * KW * D;  // K rows then V rows of one key tile
  static constexpr size_t kPipeBytes = (size_t)WARPS * STAGES * kTileElems * 2;
  static constexpr size_t kMergeBytes = (size_t)WARPS * 16 * (D + 2) * 4;
  static constexpr size_t kSmemBytes = 16 * D * 2 + (kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes);
};

namespace decode_tc_detail {
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
// The q/k transform of one head row for chunk pair c (elements 8c..8c+7 and D/2 + 8c..): optional
// RMSNorm over the row (its D/16 chunk pairs are D/16 consecutive lanes of `mask`, summed by
// shuffles), then the rotary embedding at pos; fp32 arithmetic as kernels/rope_append.cu. Rows that
// are not `valid` read nothing (zeros; they still take part in the shuffles).
template <class T, int D>
__device__ __forceinline__ void qk_transform_pair(const T* row, int c, bool valid, float pos, const float* inv_freq,
                                                  const float* norm_w, float eps, unsigned mask, uint4& w0, uint4& w1) {
  constexpr int HALF = D / 2, P = D / 16;
  float a[8], b[8];
  if (valid) {
    mma::unpack8<T>(*reinterpret_cast<const uint4*>(row + c * 8), a);
    mma::unpack8<T>(*reinterpret_cast<const uint4*>(row + HALF + c * 8), b);
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j) a[j] = b[j] = 0.f;
  }
  if (norm_w) {
    float sq = 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) sq += a[j] * a[j] + b[j] * b[j];
#pragma unroll
    for (int o = P / 2; o > 0; o >>= 1) sq += __shfl_xor_sync(mask, sq, o);
    const float rstd = rsqrtf(sq / D + eps);
#pragma unroll
    for (int j = 0; j < 8; ++j) a[j] = norm_w[c * 8 + j] * (a[j] * rstd), b[j] = norm_w[HALF + c * 8 + j] * (b[j] * rstd);
  }
  T* o0 = reinterpret_cast<T*>(&w0);
  T* o1 = reinterpret_cast<T*>(&w1);
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    float sn, cs;
    sincosf(pos * inv_freq[c * 8 + j], &sn, &cs);
    o0[j] = mma::from_float<T>(a[j] * cs - b[j] * sn);
    o1[j] = mma::from_float<T>(b[j] * cs + a[j] * sn);
  }
}
}  // namespace decode_tc_detail

template <typename T, int D, int G, int KW, int STAGES, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) fused_decode_tc_kernel(const FusedDecodeParams p) {
  using namespace decode_tc_detail;
  using Cfg = DecodeTcConfig<D, KW, STAGES, WARPS>;
  constexpr int CH = D / 8;          // 16-byte chunks per row
  constexpr int RPP = 32 / CH;       // rows one warp-wide copy covers
  constexpr int RPL = KW / RPP;      // rows each lane copies per tile (K, and the same for V)
  constexpr bool ROWS_HI = G > 8;    // query rows 8..15 (the second half of each mma row pair) used
  static_assert(G <= 16 && KW % 16 == 0 && KW <= 32 && KW % RPP == 0 && STAGES >= 2, "config");
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // [16][D], swizzled
  T* sKV = sQ + 16 * D;                    // [WARPS][STAGES][K rows KW | V rows KW][D]

  pdl_wait();
  pdl_launch_dependents();
  const int head0 = blockIdx.x * G, split = blockIdx.y, seq = blockIdx.z;
  const int len = p.seq_lens[seq];
  const int n_splits = decode_splits_for(len, p.num_splits, p.min_chunk);
  if (split >= n_splits) return;
  const int chunk = ((len + n_splits - 1) / n_splits + KW - 1) / KW * KW;  // tile-aligned splits
  const int t_begin = split * chunk, t_end = min(len, t_begin + chunk);
  const int kv_head = head0 / (p.num_heads / p.num_kv_heads);
  const size_t row_stride = p.q_row_stride > 0 ? (size_t)p.q_row_stride : (size_t)p.num_heads * D;
  const T* knew = p.k_new ? static_cast<const T*>(p.k_new) + seq * row_stride + (size_t)kv_head * D : nullptr;
  const T* vnew = p.k_new ? static_cast<const T*>(p.v_new) + seq * row_stride + (size_t)kv_head * D : nullptr;
  const bool rope = p.rope_inv_freq != nullptr;
  bool new_in_cache = false;  // the newest key is read back from its cache slot (rope: it was rotated)
  if (p.slot_mapping && split == n_splits - 1) {
    const int slot = p.slot_mapping[seq];
    const size_t dst = (size_t)slot * p.num_kv_heads * D + (size_t)kv_head * D;
    if (!rope) {
      if (slot >= 0 && threadIdx.x < 2 * CH) {
        const bool is_v = threadIdx.x >= CH;
        const int i = (threadIdx.x % CH) * 8;
        *reinterpret_cast<uint4*>(static_cast<T*>(is_v ? p.v_cache_out : p.k_cache_out) + dst + i) =
            *reinterpret_cast<const uint4*>((is_v ? vnew : knew) + i);
      }
    } else if (slot >= 0) {  // CTA-uniform
      if (threadIdx.x < CH / 2) {  // lanes 0 .. D/16-1 of warp 0: the key's chunk pairs
        uint4 w0, w1;
        qk_transform_pair<T, D>(knew, threadIdx.x, true, (float)p.positions[seq], p.rope_inv_freq, p.k_norm_w,
                                p.norm_eps, (1u << (CH / 2)) - 1u, w0, w1);
        T* kc = static_cast<T*>(p.k_cache_out) + dst;
        *reinterpret_cast<uint4*>(kc + threadIdx.x * 8) = w0;
        *reinterpret_cast<uint4*>(kc + D / 2 + threadIdx.x * 8) = w1;
      } else if (threadIdx.x >= 32 && threadIdx.x < 32 + CH) {
        const int i = (threadIdx.x - 32) * 8;
        *reinterpret_cast<uint4*>(static_cast<T*>(p.v_cache_out) + dst + i) = *reinterpret_cast<const uint4*>(vnew + i);
      }
      new_in_cache = true;
      __syncthreads();  // the appended K/V (generic-proxy stores) before this CTA's cp.async reads of them
    }
  }
  // The newest key comes from the QKV rows, unless it was rotated into the cache above.
  const int t_new = p.k_new && !new_in_cache ? len - 1 : -1;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n_tiles = t_end > t_begin ? (t_end - t_begin + KW - 1) / KW : 0;
  const int my_tiles = n_tiles > warp ? (n_tiles - 1 - warp) / WARPS + 1 : 0;
  T* sW = sKV + (size_t)warp * STAGES * Cfg::kTileElems;
  const int32_t* bt = p.block_tables + (size_t)seq * p.max_blocks_per_seq;
  const int bs = p.block_size;
  const int bshift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;
  const size_t kv_stride = (size_t)p.num_kv_heads * D;
  const T* kbase = static_cast<const T*>(p.k) + (size_t)kv_head * D;
  const T* vbase = static_cast<const T*>(p.v) + (size_t)kv_head * D;
  const int cchunk = lane % CH, crow = lane / CH;  // this lane copies chunk cchunk of rows crow + r * RPP

  // Cache slot of key (tile i, lane) for lanes < KW: >= 0 a cache slot, -1 past the end (zero fill),
  // -2 the newest key (from the QKV rows).
  auto slot_of = [&](int i) -> int {
    const int t = t_begin + (warp + i * WARPS) * KW + lane;
    if (lane >= KW || i >= my_tiles || t >= t_end) return -1;
    if (t == t_new) return -2;
    const int blk = bshift >= 0 ? t >> bshift : t / bs;
    return __ldg(bt + blk) * bs + (t - blk * bs);
  };
  int slot_cur = slot_of(0), slot_nxt = slot_of(1);
  auto issue = [&](int i) {
    if (i < my_tiles) {
      T* sk = sW + (i % STAGES) * Cfg::kTileElems;
      T* sv = sk + KW * D;
#pragma unroll
      for (int r = 0; r < RPL; ++r) {
        const int row = crow + r * RPP;
        const int s = __shfl_sync(0xffffffffu, slot_cur, row);
        const T* ks = s >= 0 ? kbase + (size_t)s * kv_stride : (s == -2 ? knew : kbase);
        const T* vs = s >= 0 ? vbase + (size_t)s * kv_stride : (s == -2 ? vnew : vbase);
        mma::cp_async_16(sk + swz<D>(row, cchunk), ks + cchunk * 8, s != -1);
        mma::cp_async_16(sv + swz<D>(row, cchunk), vs + cchunk * 8, s != -1);
      }
      slot_cur = slot_nxt;
      slot_nxt = slot_of(i + 2);
    }
    mma::cp_async_commit();  // empty groups past the end keep the wait counts uniform
  };
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) issue(i);

  // Q rows head0 .. head0 + G - 1 (zero rows above), then their A fragments.
  if (rope) {
    // One chunk pair a thread: 16 rows x D/16 pairs = 128 (D 128) or 64 (D 64) items, a multiple of
    // 32 walked in steps of whole warps, so every warp's lanes take the same iterations and the
    // norm's shuffles see full warps.
    const T* qp = static_cast<const T*>(p.q) + seq * row_stride + (size_t)head0 * D;
    const float pos = (float)p.positions[seq];
    for (int idx = threadIdx.x; idx < 16 * (CH / 2); idx += WARPS * 32) {
      const int r = idx / (CH / 2), c = idx % (CH / 2);
      uint4 w0, w1;
      qk_transform_pair<T, D>(qp + (size_t)r * D, c, r < G, pos, p.rope_inv_freq, p.q_norm_w, p.norm_eps, 0xffffffffu,
                              w0, w1);
      if (r >= G) w0 = w1 = make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(sQ + swz<D>(r, c)) = w0;
      *reinterpret_cast<uint4*>(sQ + swz<D>(r, c + CH / 2)) = w1;
    }
  } else {
    const T* qp = static_cast<const T*>(p.q) + seq * row_stride + (size_t)head0 * D;
    for (int idx = threadIdx.x; idx < 16 * CH; idx += WARPS * 32) {
      const int r = idx / CH, c = idx % CH;
      const uint4 v = r < G ? *reinterpret_cast<const uint4*>(qp + (size_t)r * D + c * 8) : make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(sQ + swz<D>(r, c)) = v;
    }
  }
  __syncthreads();
  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) mma::ldmatrix_x4(qf[kk], sQ + swz<D>(lane % 16, kk * 2 + lane / 16));

  float o[D / 8][4];
#pragma unroll
  for (int d = 0; d < D / 8; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  const float sl2 = p.scale_log2;

  for (int i = 0; i < my_tiles; ++i) {
    mma::cp_async_wait<STAGES - 2>();  // tile i landed (this lane's copies) ...
    __syncwarp();                      // ... and every lane's; tile i-1's buffer is free
    issue(i + STAGES - 1);
    const T* k_s = sW + (i % STAGES) * Cfg::kTileElems;
    const T* v_s = k_s + KW * D;

    float s[KW / 8][4];
#pragma unroll
    for (int n = 0; n < KW / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
      for (int n = 0; n < KW / 8; n += 2) {
        uint32_t b[4];
        mma::ldmatrix_x4(b, k_s + swz<D>((n + lane / 16) * 8 + lane % 8, kk * 2 + (lane / 8) % 2));
        mma::mma_16816<T>(s[n], qf[kk], b[0], b[1]);
        mma::mma_16816<T>(s[n + 1], qf[kk], b[2], b[3]);
      }
    const int k0 = t_begin + (warp + i * WARPS) * KW;
    if (k0 + KW > t_end) {
#pragma unroll
      for (int n = 0; n < KW / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (k0 + n * 8 + (lane % 4) * 2 + (e & 1) >= t_end) s[n][e] = -INFINITY;
    }
    // Online softmax (exp2 domain) for row lane/4 (r 0) and, when G > 8, row lane/4 + 8 (r 1).
    float alpha[2] = {1.f, 1.f};
    bool moved = false;
#pragma unroll
    for (int r = 0; r < (ROWS_HI ? 2 : 1); ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < KW / 8; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_run[r], mx * sl2);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      moved |= m_new != m_run[r];
      alpha[r] = ex2(m_run[r] - m_use);
      m_run[r] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < KW / 8; ++n) {
        s[n][2 * r] = ex2(fmaf(s[n][2 * r], sl2, -m_use));
        s[n][2 * r + 1] = ex2(fmaf(s[n][2 * r + 1], sl2, -m_use));
        sum += s[n][2 * r] + s[n][2 * r + 1];
      }
      l_run[r] = l_run[r] * alpha[r] + sum;  // per-lane partial, reduced over the quad at the end
    }
    if (!ROWS_HI) {
#pragma unroll
      for (int n = 0; n < KW / 8; ++n) s[n][2] = s[n][3] = 0.f;  // rows 8..15: no query
    }
    if (__any_sync(0xffffffffu, moved)) {  // alpha is exactly 1 when no row max moved
#pragma unroll
      for (int d = 0; d < D / 8; ++d) {
        o[d][0] *= alpha[0];
        o[d][1] *= alpha[0];
        if (ROWS_HI) {
          o[d][2] *= alpha[1];
          o[d][3] *= alpha[1];
        }
      }
    }
    // O += P V: P from the S accumulators, V through ldmatrix.trans.
#pragma unroll
    for (int t = 0; t < KW / 16; ++t) {
      uint32_t a[4];
      a[0] = mma::pack2<T>(s[2 * t][0], s[2 * t][1]);
      a[1] = mma::pack2<T>(s[2 * t][2], s[2 * t][3]);
      a[2] = mma::pack2<T>(s[2 * t + 1][0], s[2 * t + 1][1]);
      a[3] = mma::pack2<T>(s[2 * t + 1][2], s[2 * t + 1][3]);
#pragma unroll
      for (int d = 0; d < D / 8; d += 2) {
        uint32_t b[4];
        mma::ldmatrix_x4_trans(b, v_s + swz<D>(t * 16 + lane % 8 + ((lane / 8) % 2) * 8, d + lane / 16));
        mma::mma_16816<T>(o[d], a, b[0], b[1]);
        mma::mma_16816<T>(o[d + 1], a, b[2], b[3]);
      }
    }
  }
  mma::cp_async_wait<0>();
  __syncthreads();  // every warp's ring is idle: reuse it for the merge

  // Merge the warps: sm_m/sm_l [WARPS][16], sm_o [WARPS][16][D] (fp32).
  float* sm_m = reinterpret_cast<float*>(sKV);
  float* sm_l = sm_m + WARPS * 16;
  float* sm_o = sm_l + WARPS * 16;
#pragma unroll
  for (int r = 0; r < (ROWS_HI ? 2 : 1); ++r) {
    float l = l_run[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int row = lane / 4 + r * 8;
    if (row < G) {
      if (lane % 4 == 0) sm_m[warp * 16 + row] = m_run[r], sm_l[warp * 16 + row] = l;
#pragma unroll
      for (int d = 0; d < D / 8; ++d) {
        float* dst = sm_o + ((size_t)warp * 16 + row) * D + d * 8 + (lane % 4) * 2;
        dst[0] = o[d][2 * r];
        dst[1] = o[d][2 * r + 1];
      }
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * D; idx += WARPS * 32) {
    const int g = idx / D, d = idx % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * 16 + g]);
    const float M_use = M == -INFINITY ? 0.f : M;
    float L = 0.f, O = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      const float wt = exp2f(sm_m[w * 16 + g] - M_use);
      L += sm_l[w * 16 + g] * wt;
      O += sm_o[((size_t)w * 16 + g) * D + d] * wt;
    }
    store_decode_result<T, D>(p, seq, head0 + g, split, n_splits, d, O, L, M_use);
  }
}

// Query heads per CTA: the largest of 16 / 8 / 4 / 2 / 1 dividing the GQA group.
inline int decode_tc_group_tile(int num_heads, int num_kv_heads) {
  const int group = num_heads / num_kv_heads;
  for (int g : {16, 8, 4, 2}) if (group % g == 0) return g;
  return 1;
}

// Splits per sequence for this kernel: choose_decode_splits, halved where few (sequence, head-group)
// pairs make it split 8 x SMs deep. Lab v10 vs v7 (H200, k15 run 2): bs 1 x 32k x 32 x 128 3.88 ->
// 4.07 TB/s at page 16 (3.68 -> 3.83 at page 1), the 2 x 930 x 12 x 64 online step 392 -> 441 GB/s;
// rows with enough pairs are unchanged. With two CTAs an SM and ~1k-key splits the extra CTA
// starts and the merge cost more than the deeper split gains.
inline int choose_decode_tc_splits(int num_seqs, int num_heads, int group_tile, int max_len, int num_sms) {
  const int s = choose_decode_splits(num_seqs, num_heads, group_tile, max_len, num_sms);
  return num_seqs * (num_heads / group_tile) < num_sms ? (s / 2 > 1 ? s / 2 : 1) : s;
}

// CTAs of this configuration resident per SM (shared memory bound; the kernel uses < 168 registers
// a thread at 128 threads, so registers allow 3+).
template <int D, int KW, int STAGES, int WARPS>
inline int decode_tc_ctas_per_sm(int smem_per_sm_bytes) {
  using Cfg = DecodeTcConfig<D, KW, STAGES, WARPS>;
  const int by_smem = smem_per_sm_bytes / (int)(Cfg::kSmemBytes + 1024);
  return by_smem < 1 ? 1 : by_smem;
}

template <typename T, int D, int G, int KW, int STAGES, int WARPS>
inline cudaError_t launch_fused_decode_tc_g(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  using Cfg = DecodeTcConfig<D, KW, STAGES, WARPS>;
  auto kernel = fused_decode_tc_kernel<T, D, G, KW, STAGES, WARPS>;
  static bool attr_set = false;  // per instantiation, before its first launch
  if (!attr_set) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    if (e != cudaSuccess) return e;
    attr_set = true;
  }
  launch_pdl(kernel, dim3(p.num_heads / G, p.num_splits, num_seqs), dim3(Cfg::kThreads), Cfg::kSmemBytes, stream, p);
  if (p.num_splits > 1) launch_pdl(fused_decode_merge_kernel<T, D>, dim3(num_seqs, p.num_heads), dim3(D), 0, stream, p);
  return cudaGetLastError();
}

template <typename T, int D, int KW, int STAGES, int WARPS>
inline cudaError_t launch_fused_decode_tc(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  if (num_seqs == 0) return cudaSuccess;
  switch (decode_tc_group_tile(p.num_heads, p.num_kv_heads)) {
    case 16: return launch_fused_decode_tc_g<T, D, 16, KW, STAGES, WARPS>(p, num_seqs, stream);
    case 8: return launch_fused_decode_tc_g<T, D, 8, KW, STAGES, WARPS>(p, num_seqs, stream);
    case 4: return launch_fused_decode_tc_g<T, D, 4, KW, STAGES, WARPS>(p, num_seqs, stream);
    case 2: return launch_fused_decode_tc_g<T, D, 2, KW, STAGES, WARPS>(p, num_seqs, stream);
    default: return launch_fused_decode_tc_g<T, D, 1, KW, STAGES, WARPS>(p, num_seqs, stream);
  }
}

// The configuration production uses per head dim (docs/perf-notes.md has each lab version's
// numbers): 16-key tiles, 4 warps; stages so that two CTAs fit an SM at D 128 (3) and three at D 64 (4).
template <typename T, int D>
inline cudaError_t launch_fused_decode_tc_best(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  if constexpr (D == 128)
    return launch_fused_decode_tc<T, D, 16, 3, 4>(p, num_seqs, stream);
  else
    return launch_fused_decode_tc<T, D, 16, 4, 4>(p, num_seqs, stream);
}

}  // namespace attnbench
