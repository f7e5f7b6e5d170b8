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
#include "kernels/rope.cuh"
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
// 4 bytes global -> shared (cp.async.ca: the 4- and 8-byte forms go through L1), no zero fill.
__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(mma::smem_addr(smem)), "l"(gmem));
}
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
// One KW-key tile of a warp's split for its 16 query rows (rows >= G are zero; ROWS_HI: G > 8):
// S = Q K^T (qf: Q's A fragments; k_s, v_s: the tile's K and V rows in smem, swizzled), keys from
// t_end on masked (k0: the tile's first key), the online softmax in the exp2 domain (m_run, l_run:
// the running max and this lane's partial sum per row half), then O += P V with P from the S
// accumulators and V through ldmatrix.trans. Shared by the per-item and the persistent kernels.
template <class T, int D, int KW, bool ROWS_HI>
__device__ __forceinline__ void decode_tc_tile(const uint32_t (&qf)[D / 16][4], const T* k_s, const T* v_s, int lane,
                                               int k0, int t_end, float sl2, float (&m_run)[2], float (&l_run)[2],
                                               float (&o)[D / 8][4]) {
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

}  // namespace decode_tc_detail

// BTR (lab v20, session 7): the block-table entries travel through the cp.async pipeline too. A
// warp's ring of STAGES x KW block ids sits in shared memory behind the kernel's other buffers
// (decode_tc_bt_ring_bytes); tile i's ids are copied in the commit group of tile i - (STAGES - 1)
// and read with plain shared loads when tile i is issued, after the wait that tile needs anyway.
// Without it the id comes back into a register of the look-ahead lane and the slot is formed from
// it (and shuffled) at most two tiles later, which the warp waits for if the load has not returned
// (at page 1 every tile's ids are a new 64-byte line of the block table).
template <typename T, int D, int G, int KW, int STAGES, int WARPS, bool BTR = false>
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
        float cs[8], sn[8];
        rope_angles8((float)p.positions[seq], p.rope_inv_freq, threadIdx.x, cs, sn);
        qk_transform_pair<T, D>(knew, threadIdx.x, true, cs, sn, p.k_norm_w, p.norm_eps, (1u << (CH / 2)) - 1u, w0, w1);
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
  int slot_cur = 0, slot_nxt = 0;
  int* ring = reinterpret_cast<int*>(smem_raw + Cfg::kSmemBytes) + warp * STAGES * KW;  // BTR: [STAGES][KW]
  // BTR: copy the block ids of tile i's keys (lanes < KW, one key each) into ring slot i % STAGES.
  auto bt_fetch = [&](int i) {
    const int t = t_begin + (warp + i * WARPS) * KW + lane;
    if (lane < KW && i < my_tiles && t < t_end && t != t_new)
      decode_tc_detail::cp_async_4(ring + (i % STAGES) * KW + lane, bt + (bshift >= 0 ? t >> bshift : t / bs));
  };
  if constexpr (BTR) {
#pragma unroll
    for (int i = 0; i < STAGES - 1; ++i) bt_fetch(i);
    mma::cp_async_commit();
    mma::cp_async_wait<0>();  // the first tiles' ids: the one latency a CTA's start cannot hide
    __syncwarp();
  } else {
    slot_cur = slot_of(0), slot_nxt = slot_of(1);
  }
  // Tile i's copies: the slot of each row from the ring (BTR) or shuffled from the look-ahead lane.
  auto issue = [&](int i) {
    if constexpr (BTR) __syncwarp();  // ring slot (i - 1) % STAGES, read by other lanes in issue(i - 1), is rewritten below
    if (i < my_tiles) {
      T* sk = sW + (i % STAGES) * Cfg::kTileElems;
      T* sv = sk + KW * D;
      const int t0 = t_begin + (warp + i * WARPS) * KW;
#pragma unroll
      for (int r = 0; r < RPL; ++r) {
        const int row = crow + r * RPP;
        int s;
        if constexpr (BTR) {
          const int t = t0 + row;
          s = -1;
          if (t < t_end) {
            if (t == t_new) {
              s = -2;
            } else {
              const int blk = bshift >= 0 ? t >> bshift : t / bs;
              s = ring[(i % STAGES) * KW + row] * bs + (t - blk * bs);
            }
          }
        } else {
          s = __shfl_sync(0xffffffffu, slot_cur, row);
        }
        const T* ks = s >= 0 ? kbase + (size_t)s * kv_stride : (s == -2 ? knew : kbase);
        const T* vs = s >= 0 ? vbase + (size_t)s * kv_stride : (s == -2 ? vnew : vbase);
        mma::cp_async_16(sk + swz<D>(row, cchunk), ks + cchunk * 8, s != -1);
        mma::cp_async_16(sv + swz<D>(row, cchunk), vs + cchunk * 8, s != -1);
      }
      if constexpr (BTR) {
        bt_fetch(i + STAGES - 1);  // lands with this group: read when tile i + STAGES - 1 is issued
      } else {
        slot_cur = slot_nxt;
        slot_nxt = slot_of(i + 2);
      }
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
      float cs[8], sn[8];
      rope_angles8(pos, p.rope_inv_freq, c, cs, sn);
      qk_transform_pair<T, D>(qp + (size_t)r * D, c, r < G, cs, sn, p.q_norm_w, p.norm_eps, 0xffffffffu, w0, w1);
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

    decode_tc_tile<T, D, KW, ROWS_HI>(qf, k_s, v_s, lane, t_begin + (warp + i * WARPS) * KW, t_end, sl2, m_run, l_run, o);
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

// Shared memory of the BTR block-id rings (fused_decode_tc_kernel), behind DecodeTcConfig::kSmemBytes.
template <int KW, int STAGES, int WARPS>
constexpr size_t decode_tc_bt_ring_bytes() {
  return (size_t)WARPS * STAGES * KW * 4;
}

template <typename T, int D, int G, int KW, int STAGES, int WARPS, bool BTR = false>
inline cudaError_t launch_fused_decode_tc_g(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  using Cfg = DecodeTcConfig<D, KW, STAGES, WARPS>;
  auto kernel = fused_decode_tc_kernel<T, D, G, KW, STAGES, WARPS, BTR>;
  const size_t smem = Cfg::kSmemBytes + (BTR ? decode_tc_bt_ring_bytes<KW, STAGES, WARPS>() : 0);
  static bool attr_set = false;  // per instantiation, before its first launch
  if (!attr_set) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return e;
    attr_set = true;
  }
  launch_pdl(kernel, dim3(p.num_heads / G, p.num_splits, num_seqs), dim3(Cfg::kThreads), smem, stream, p);
  if (p.num_splits > 1) launch_pdl(fused_decode_merge_kernel<T, D>, dim3(num_seqs, p.num_heads), dim3(D), 0, stream, p);
  return cudaGetLastError();
}

template <typename T, int D, int KW, int STAGES, int WARPS, bool BTR = false>
inline cudaError_t launch_fused_decode_tc(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  if (num_seqs == 0) return cudaSuccess;
  switch (decode_tc_group_tile(p.num_heads, p.num_kv_heads)) {
    case 16: return launch_fused_decode_tc_g<T, D, 16, KW, STAGES, WARPS, BTR>(p, num_seqs, stream);
    case 8: return launch_fused_decode_tc_g<T, D, 8, KW, STAGES, WARPS, BTR>(p, num_seqs, stream);
    case 4: return launch_fused_decode_tc_g<T, D, 4, KW, STAGES, WARPS, BTR>(p, num_seqs, stream);
    case 2: return launch_fused_decode_tc_g<T, D, 2, KW, STAGES, WARPS, BTR>(p, num_seqs, stream);
    default: return launch_fused_decode_tc_g<T, D, 1, KW, STAGES, WARPS, BTR>(p, num_seqs, stream);
  }
}

// The configuration production uses per head dim (docs/perf-notes.md has each lab version's
// numbers): 16-key tiles, 4 warps; stages so that two CTAs fit an SM at D 128 (3) and three at D 64 (4).
// Pages below 16 keys: BTR (lab v20), 3-13 % faster than without at page 1 on every large row but ~2 %
// slower at page 16 / 256 (session 7 decode runs 1-2), where a 64-byte line of block ids serves
// 16+ tiles and the ids are never waited for anyway.
template <typename T, int D>
inline cudaError_t launch_fused_decode_tc_best(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  constexpr int kStages = D == 128 ? 3 : 4;
  if (p.block_size < 16) return launch_fused_decode_tc<T, D, 16, kStages, 4, true>(p, num_seqs, stream);
  return launch_fused_decode_tc<T, D, 16, kStages, 4>(p, num_seqs, stream);
}


// ---------------------------------------------------------------------------------------------------
// Persistent variant (lab v12-v16, session 6): the same inner loop, but each CTA works through a list
// of (sequence, head group, split) items, and each warp's cp.async ring runs on across the items.
//
//   grid = (items / per,)  per = ceil(items / (SMs x CTAs an SM)), at most kDecodeTcMaxItems
//             CTA c takes items c, c + grid, c + 2 grid, ... (item w: head group fastest, then split,
//             then sequence: the CTAs running side by side read neighbouring heads of one sequence).
//             At the start each CTA reads its items' seq_lens into a table in shared memory (one
//             load latency for all of them). A warp's tile stream is its tiles of item 0, then of
//             item 1, ...: the copies of the next item are issued while the current one finishes,
//             and the block-table look-ahead crosses items too, so an item boundary costs two CTA
//             barriers (merge of the warps' softmax states, store) but never drains the copies in
//             flight -- the non-persistent kernel paid a CTA start (seq_lens -> block table -> first
//             copy, three dependent loads) and a drain per item.
//   heads packed (HP = 2, D 64 only): a CTA serves two neighbouring KV heads, R = 2 G query rows.
//             The cache layout [slot, kv_heads, D] keeps the two heads of a key contiguous, so a
//             key is one 256-byte row (DV = 2 D) instead of two 128-byte rows read by different
//             CTAs. Row r's query fills only columns (r / G) D .. of its DV-wide row (block-diagonal
//             Q), so S = Q K^T gives each row its own head's scores; O = P V computes both heads'
//             columns for every row and the merge keeps row r's own D columns. The tensor cores do
//             twice the work, which costs nothing here (the loop waits on memory).
// Q fragments are loaded from global memory per item (no shared Q tile). Same contract as
// fused_decode_tc_kernel (QKV rows + append by the last split of a (sequence, head group), PDL,
// graph-safe: the grid depends on the batch size, the split count and the occupancy only).
constexpr int kDecodeTcMaxItems = 32;

template <int D, int HP, int G, int KW, int STAGES, int WARPS>
struct DecodeTcpConfig {
  static constexpr int DV = HP * D;  // columns of a (packed) key row
  static constexpr int R = HP * G;   // query rows of a CTA
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kTileElems = 2 * KW * DV;
  static constexpr size_t kPipeBytes = (size_t)WARPS * STAGES * kTileElems * 2;
  static constexpr size_t kMergeBytes = (size_t)WARPS * R * (D + 2) * 4;
  static constexpr size_t kTableBytes = (size_t)kDecodeTcMaxItems * 8 * 4;
  static constexpr size_t kSmemBytes = kPipeBytes + kMergeBytes + kTableBytes;
};

// LATE (lab v17, not yet run on a GPU): the block-table look-ahead keeps the loaded block id and the
// in-page offset apart and forms the slot one tile later, three tiles ahead of the copy. Without it
// the slot's multiply-add sits right after its load, in front of the cursor's loop, so the warp
// waits for the block-table load at every tile (run 1: page 1, where each tile's 16 entries are a
// new 64-byte line, lost 8-10 % against v10 at D 128; page 16 2-3 %).
template <typename T, int D, int HP, int G, int KW, int STAGES, int WARPS, bool LATE = false>
__global__ void __launch_bounds__(WARPS * 32) fused_decode_tcp_kernel(const FusedDecodeParams p) {
  using namespace decode_tc_detail;
  using Cfg = DecodeTcpConfig<D, HP, G, KW, STAGES, WARPS>;
  constexpr int DV = Cfg::DV, R = Cfg::R;
  constexpr int CH = DV / 8;          // 16-byte chunks per (packed) row
  constexpr int RPP = 32 / CH;        // rows one warp-wide copy covers
  constexpr int RPL = KW / RPP;       // rows each lane copies per tile (K, and the same for V)
  constexpr bool ROWS_HI = R > 8;     // query rows 8..15 used
  static_assert(R <= 16 && KW % 16 == 0 && KW <= 32 && KW % RPP == 0 && STAGES >= 2 && DV <= 256, "config");
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sKV = reinterpret_cast<T*>(smem_raw);  // [WARPS][STAGES][K rows KW | V rows KW][DV], swizzled
  float* sm_m = reinterpret_cast<float*>(smem_raw + Cfg::kPipeBytes);  // [WARPS][R]
  float* sm_l = sm_m + WARPS * R;                                        // [WARPS][R]
  float* sm_o = sm_l + WARPS * R;                                        // [WARPS][R][D]
  int* tbl = reinterpret_cast<int*>(smem_raw + Cfg::kPipeBytes + Cfg::kMergeBytes);  // [item][8]
  // tbl entry: 0 seq, 1 first query head, 2 split, 3 splits of the sequence (0: no such split),
  // 4 first key, 5 end key, 6 the newest key's position (-1: every key from the cache), 7 first KV head.

  pdl_wait();
  pdl_launch_dependents();
  const int nj = (p.num_items - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x;
  const int row_groups = p.num_heads / R, group = p.num_heads / p.num_kv_heads;
  if ((int)threadIdx.x < nj) {
    const int w = blockIdx.x + threadIdx.x * gridDim.x;
    const int hg = w % row_groups, rest = w / row_groups;
    const int split = rest % p.num_splits, seq = rest / p.num_splits;
    const int len = p.seq_lens[seq];
    const int ns = decode_splits_for(len, p.num_splits, p.min_chunk);
    int tb = 0, te = 0;
    if (split < ns) {
      const int chunk = ((len + ns - 1) / ns + KW - 1) / KW * KW;  // tile-aligned splits
      tb = split * chunk;
      te = min(len, tb + chunk);
    }
    int* e = tbl + threadIdx.x * 8;
    e[0] = seq, e[1] = hg * R, e[2] = split, e[3] = split < ns ? ns : 0;
    e[4] = tb, e[5] = te, e[6] = p.k_new ? len - 1 : -1, e[7] = hg * R / group;
  }
  __syncthreads();

  const size_t row_stride = p.q_row_stride > 0 ? (size_t)p.q_row_stride : (size_t)p.num_heads * D;
  const size_t kv_stride = (size_t)p.num_kv_heads * D;
  if (p.slot_mapping && threadIdx.x < 2 * CH) {  // append: the HP KV heads' newest key and value
    const bool is_v = threadIdx.x >= CH;
    const int i = (threadIdx.x % CH) * 8;
    for (int j = 0; j < nj; ++j) {
      const int* e = tbl + j * 8;
      if (e[3] == 0 || e[2] != e[3] - 1) continue;
      const int slot = p.slot_mapping[e[0]];
      if (slot < 0) continue;
      const size_t hoff = (size_t)e[7] * D + i;
      const T* src = static_cast<const T*>(is_v ? p.v_new : p.k_new) + e[0] * row_stride + hoff;
      *reinterpret_cast<uint4*>(static_cast<T*>(is_v ? p.v_cache_out : p.k_cache_out) + (size_t)slot * kv_stride + hoff) =
          *reinterpret_cast<const uint4*>(src);
    }
  }

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  T* sW = sKV + (size_t)warp * STAGES * Cfg::kTileElems;
  const int bs = p.block_size;
  const int bshift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;
  const T* kcache = static_cast<const T*>(p.k);
  const T* vcache = static_cast<const T*>(p.v);
  const int cchunk = lane % CH, crow = lane / CH;

  // This warp's tiles of item j: j's key tiles go round-robin to the warps.
  auto my_tiles = [&](int j) -> int {
    const int* e = tbl + j * 8;
    const int n = e[5] > e[4] ? (e[5] - e[4] + KW - 1) / KW : 0;
    return n > warp ? (n - 1 - warp) / WARPS + 1 : 0;
  };
  // Cursor (j, k): this warp's k-th tile of item j; advanced to the next tile of the warp's stream.
  auto advance = [&](int& j, int& k) {
    ++k;
    while (j < nj && k >= my_tiles(j)) ++j, k = 0;
  };
  // Cache slot of key lane of the tile at (j, k), lanes < KW: >= 0 a slot, -1 none (zero fill),
  // -2 the newest key (from the QKV rows).
  auto slot_at = [&](int j, int k) -> int {
    if (lane >= KW || j >= nj) return -1;
    const int* e = tbl + j * 8;
    const int t = e[4] + (warp + k * WARPS) * KW + lane;
    if (t >= e[5]) return -1;
    if (t == e[6]) return -2;
    const int32_t* bt = p.block_tables + (size_t)e[0] * p.max_blocks_per_seq;
    const int blk = bshift >= 0 ? t >> bshift : t / bs;
    return __ldg(bt + blk) * bs + (t - blk * bs);
  };
  // LATE: the same look-up with the load unconditional (block_tables[0] when there is nothing to
  // look up) and its result left alone: raw = the loaded block id, off = the in-page offset, or -1 /
  // -2 as slot_at; the slot (raw * bs + off) is formed a tile later.
  auto look = [&](int j, int k, int& raw, int& off) {
    const int32_t* a = p.block_tables;
    off = -1;
    if (lane < KW && j < nj) {
      const int* e = tbl + j * 8;
      const int t = e[4] + (warp + k * WARPS) * KW + lane;
      if (t < e[5]) {
        if (t == e[6]) {
          off = -2;
        } else {
          const int blk = bshift >= 0 ? t >> bshift : t / bs;
          a = p.block_tables + (size_t)e[0] * p.max_blocks_per_seq + blk;
          off = t - blk * bs;
        }
      }
    }
    raw = __ldg(a);
  };
  int ij = 0, ik = -1;
  advance(ij, ik);  // the first tile to copy
  int lj = ij, lk = ik;
  int slot_cur, slot_nxt, raw_la = 0, off_la = -1, n_issued = 0;
  if constexpr (LATE) {
    look(lj, lk, raw_la, off_la);
    slot_cur = off_la >= 0 ? raw_la * bs + off_la : off_la;
    advance(lj, lk);
    look(lj, lk, raw_la, off_la);
    slot_nxt = off_la >= 0 ? raw_la * bs + off_la : off_la;
    advance(lj, lk);
    look(lj, lk, raw_la, off_la);
    advance(lj, lk);  // (lj, lk) runs three tiles ahead of (ij, ik); (raw_la, off_la) is two ahead
  } else {
    slot_cur = slot_at(lj, lk);
    advance(lj, lk);
    slot_nxt = slot_at(lj, lk);
    advance(lj, lk);  // (lj, lk) runs two tiles ahead of (ij, ik)
  }
  auto issue = [&]() {
    if (ij < nj) {
      const int* e = tbl + ij * 8;
      T* sk = sW + (n_issued % STAGES) * Cfg::kTileElems;
      T* sv = sk + KW * DV;
      const size_t hoff = (size_t)e[7] * D + cchunk * 8;
      const T* kb = kcache + hoff;
      const T* vb = vcache + hoff;
      const T* kn = p.k_new ? static_cast<const T*>(p.k_new) + e[0] * row_stride + hoff : kb;
      const T* vn = p.k_new ? static_cast<const T*>(p.v_new) + e[0] * row_stride + hoff : vb;
#pragma unroll
      for (int r = 0; r < RPL; ++r) {
        const int row = crow + r * RPP;
        const int s = __shfl_sync(0xffffffffu, slot_cur, row);
        const T* ks = s >= 0 ? kb + (size_t)s * kv_stride : (s == -2 ? kn : kb);
        const T* vs = s >= 0 ? vb + (size_t)s * kv_stride : (s == -2 ? vn : vb);
        mma::cp_async_16(sk + swz<DV>(row, cchunk), ks, s != -1);
        mma::cp_async_16(sv + swz<DV>(row, cchunk), vs, s != -1);
      }
      slot_cur = slot_nxt;
      if constexpr (LATE) {
        slot_nxt = off_la >= 0 ? raw_la * bs + off_la : off_la;  // loaded one tile ago
        look(lj, lk, raw_la, off_la);
      } else {
        slot_nxt = slot_at(lj, lk);
      }
      advance(lj, lk);
      advance(ij, ik);
    }
    ++n_issued;
    mma::cp_async_commit();  // empty groups past the end keep the wait counts uniform
  };
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) issue();

  const float sl2 = p.scale_log2;
  int n_done = 0;  // tiles of this warp's stream computed (ring position)
  for (int j = 0; j < nj; ++j) {
    const int* e = tbl + j * 8;
    if (e[3] == 0) continue;  // no such split (a shorter sequence): nothing to store
    const int seq = e[0], head0 = e[1], t_begin = e[4], t_end = e[5];
    // A fragments of the R query rows: row r holds its query in columns (r / G) * D .. + D - 1.
    uint32_t qf[DV / 16][4];
    {
      const T* qs = static_cast<const T*>(p.q) + seq * row_stride + (size_t)head0 * D;
      const int r0 = lane / 4, r1 = r0 + 8;
#pragma unroll
      for (int kk = 0; kk < DV / 16; ++kk) {
        const int c = kk * 16 + (lane % 4) * 2, seg = c / D, cc = c % D;
        const bool u0 = r0 < R && r0 / G == seg, u1 = ROWS_HI && r1 < R && r1 / G == seg;
        qf[kk][0] = u0 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r0 * D + cc)) : 0u;
        qf[kk][2] = u0 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r0 * D + cc + 8)) : 0u;
        qf[kk][1] = u1 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r1 * D + cc)) : 0u;
        qf[kk][3] = u1 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r1 * D + cc + 8)) : 0u;
      }
    }
    float o[DV / 8][4];
#pragma unroll
    for (int d = 0; d < DV / 8; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};

    const int mt = my_tiles(j);
    for (int k = 0; k < mt; ++k, ++n_done) {
      mma::cp_async_wait<STAGES - 2>();  // this tile landed (this lane's copies) ...
      __syncwarp();                      // ... and every lane's; the previous tile's buffer is free
      issue();
      const T* k_s = sW + (n_done % STAGES) * Cfg::kTileElems;
      const T* v_s = k_s + KW * DV;

      decode_tc_tile<T, DV, KW, ROWS_HI>(qf, k_s, v_s, lane, t_begin + (warp + k * WARPS) * KW, t_end, sl2, m_run, l_run,
                                         o);
    }

    // Merge the warps' states of item j (the next item's copies stay in flight meanwhile).
#pragma unroll
    for (int r = 0; r < (ROWS_HI ? 2 : 1); ++r) {
      float l = l_run[r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = lane / 4 + r * 8;
      if (row < R) {
        const int seg = row / G;
        if (lane % 4 == 0) sm_m[warp * R + row] = m_run[r], sm_l[warp * R + row] = l;
#pragma unroll
        for (int d = 0; d < DV / 8; ++d) {
          if (d / (D / 8) != seg) continue;
          float* dst = sm_o + ((size_t)warp * R + row) * D + (d % (D / 8)) * 8 + (lane % 4) * 2;
          dst[0] = o[d][2 * r];
          dst[1] = o[d][2 * r + 1];
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < R * D; idx += WARPS * 32) {
      const int g = idx / D, d = idx % D;
      float M = -INFINITY;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * R + g]);
      const float M_use = M == -INFINITY ? 0.f : M;
      float L = 0.f, O = 0.f;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) {
        const float wt = exp2f(sm_m[w * R + g] - M_use);
        L += sm_l[w * R + g] * wt;
        O += sm_o[((size_t)w * R + g) * D + d] * wt;
      }
      store_decode_result<T, D>(p, seq, head0 + g, e[2], e[3], d, O, L, M_use);
    }
    __syncthreads();  // the merge buffer is free for the next item
  }
  mma::cp_async_wait<0>();
}

// KV heads a CTA packs (DecodeTcpConfig HP): 2 at D 64 when the query heads of two neighbouring KV
// heads are one CTA's rows (the whole GQA group is the row tile and 2 x group <= 16), else 1.
inline int decode_tcp_heads_packed(int head_dim, int num_heads, int num_kv_heads, bool allow) {
  const int group = num_heads / num_kv_heads;
  return allow && head_dim == 64 && num_kv_heads % 2 == 0 && group <= 8 &&
                 decode_tc_group_tile(num_heads, num_kv_heads) == group
             ? 2
             : 1;
}

// Splits per sequence for the persistent kernel (rows = query rows per CTA, HP x group tile): none
// when there are at least 2 x SMs (sequence, row group) pairs -- each CTA then takes whole
// sequences' heads one after another and no merge kernel runs; else choose_decode_tc_splits (deep
// = false) or choose_decode_splits (deep = true).
inline int choose_decode_tcp_splits(int num_seqs, int num_heads, int rows, int max_len, int num_sms, bool deep = false) {
  if (num_seqs * (num_heads / rows) >= 2 * num_sms) return 1;
  return deep ? choose_decode_splits(num_seqs, num_heads, rows, max_len, num_sms)
              : choose_decode_tc_splits(num_seqs, num_heads, rows, max_len, num_sms);
}

// max_per_cta: items a CTA takes at most (1: one item a CTA, the non-persistent launch shape).
template <typename T, int D, int HP, int G, int KW, int STAGES, int WARPS, bool LATE = false>
inline cudaError_t launch_fused_decode_tcp_g(FusedDecodeParams p, int num_seqs, cudaStream_t stream,
                                             int max_per_cta = kDecodeTcMaxItems) {
  using Cfg = DecodeTcpConfig<D, HP, G, KW, STAGES, WARPS>;
  auto kernel = fused_decode_tcp_kernel<T, D, HP, G, KW, STAGES, WARPS, LATE>;
  static int ctas_per_sm = 0, sms = 0;  // per instantiation, before its first launch
  if (ctas_per_sm == 0) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    int dev = 0, occ = 0, n = 0;
    if (e == cudaSuccess) e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kernel, Cfg::kThreads, Cfg::kSmemBytes);
    if (e != cudaSuccess) return e;
    sms = n;
    ctas_per_sm = occ > 0 ? occ : 1;
  }
  const int items = num_seqs * (p.num_heads / Cfg::R) * p.num_splits;
  const int slots = sms * ctas_per_sm;
  int per = (items + slots - 1) / slots;
  per = per < 1 ? 1 : (per > max_per_cta ? max_per_cta : per);
  if (per > kDecodeTcMaxItems) per = kDecodeTcMaxItems;
  p.num_items = items;
  launch_pdl(kernel, dim3((items + per - 1) / per), dim3(Cfg::kThreads), Cfg::kSmemBytes, stream, p);
  if (p.num_splits > 1) launch_pdl(fused_decode_merge_kernel<T, D>, dim3(num_seqs, p.num_heads), dim3(D), 0, stream, p);
  return cudaGetLastError();
}

// Two KV heads a CTA (decode_tcp_heads_packed returned 2: D 64, the group a power of two <= 8).
// p.num_splits from choose_decode_tcp_splits with rows = 2 x group.
template <typename T, int D, int KW, int STAGES, int WARPS>
inline cudaError_t launch_fused_decode_tcp_hp2(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream,
                                               int max_per_cta = kDecodeTcMaxItems) {
  if (num_seqs == 0) return cudaSuccess;
  switch (p.num_heads / p.num_kv_heads) {
    case 8: return launch_fused_decode_tcp_g<T, D, 2, 8, KW, STAGES, WARPS>(p, num_seqs, stream, max_per_cta);
    case 4: return launch_fused_decode_tcp_g<T, D, 2, 4, KW, STAGES, WARPS>(p, num_seqs, stream, max_per_cta);
    case 2: return launch_fused_decode_tcp_g<T, D, 2, 2, KW, STAGES, WARPS>(p, num_seqs, stream, max_per_cta);
    case 1: return launch_fused_decode_tcp_g<T, D, 2, 1, KW, STAGES, WARPS>(p, num_seqs, stream, max_per_cta);
    default: return cudaErrorInvalidValue;
  }
}

// One KV head a CTA (its group tile of query heads); p.num_splits from choose_decode_tcp_splits with
// rows = decode_tc_group_tile.
template <typename T, int D, int KW, int STAGES, int WARPS, bool LATE = false>
inline cudaError_t launch_fused_decode_tcp(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream,
                                           int max_per_cta = kDecodeTcMaxItems) {
  if (num_seqs == 0) return cudaSuccess;
  switch (decode_tc_group_tile(p.num_heads, p.num_kv_heads)) {
    case 16: return launch_fused_decode_tcp_g<T, D, 1, 16, KW, STAGES, WARPS, LATE>(p, num_seqs, stream, max_per_cta);
    case 8: return launch_fused_decode_tcp_g<T, D, 1, 8, KW, STAGES, WARPS, LATE>(p, num_seqs, stream, max_per_cta);
    case 4: return launch_fused_decode_tcp_g<T, D, 1, 4, KW, STAGES, WARPS, LATE>(p, num_seqs, stream, max_per_cta);
    case 2: return launch_fused_decode_tcp_g<T, D, 1, 2, KW, STAGES, WARPS, LATE>(p, num_seqs, stream, max_per_cta);
    default: return launch_fused_decode_tcp_g<T, D, 1, 1, KW, STAGES, WARPS, LATE>(p, num_seqs, stream, max_per_cta);
  }
}

// The persistent configuration per head dim, as launch_fused_decode_tc_best: 16-key tiles, 4 warps, 3
// stages at 128 columns a key row (D 128, or D 64 with two heads packed: hp 2), 4 at 64.
template <typename T, int D>
inline cudaError_t launch_fused_decode_tcp_best(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream, int hp) {
  if constexpr (D == 64) {
    if (hp == 2) return launch_fused_decode_tcp_hp2<T, D, 16, 3, 4>(p, num_seqs, stream);
    return launch_fused_decode_tcp<T, D, 16, 4, 4>(p, num_seqs, stream);
  } else {
    return hp == 1 ? launch_fused_decode_tcp<T, D, 16, 3, 4>(p, num_seqs, stream) : cudaErrorInvalidValue;
  }
}

}  // namespace attnbench
