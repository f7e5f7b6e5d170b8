// Fused causal varlen prefill, FlashAttention-2 style, reading K/V from the paged cache.
//
//   grid  = (num_heads, num_seqs, max_q_tiles)   tile index reversed: heaviest causal tiles first
//   block = WARPS warps; warp w owns MT m-tiles of 16 query rows, rows [16*MT*w, 16*MT*(w+1)) of a
//           BM = 16*MT*WARPS row tile (MT = 2 halves the K/V ldmatrix traffic per MMA)
//
// Per CTA: Q tile -> smem -> registers (ldmatrix); for each BN-key tile of its sequence, K and V
// are copied with cp.async into 2-stage rings with FA2's schedule: K_{j+1} is issued once S_j
// no longer needs the other K stage and V_{j+1} once PV_j can start, so each copy overlaps about
// half an iteration of math and the barriers wait on K and V separately. Row addresses (block
// table lookups) are computed once per tile for K and V together. S = Q K^T and O += P V run on mma.sync m16n8k16 with fp32 accumulators, and the softmax is
// online in fp32 (exp2 domain). P never leaves registers: the S accumulator layout is the A
// operand layout of the second MMA.
//
// Paging: key t of slice s lives in slot block_tables[s][t / block_size] * block_size + t % block_size
// of the [num_blocks, block_size, num_kv_heads, head_dim] cache, so any block size >= 1 works, and
// chunked prefill (ctx_lens > 0) reads the earlier context the same way.
//
// Shared memory rows are D halves; 16-byte chunk c of row r is stored at chunk c ^ (r & 7), so the
// 8 row addresses of an ldmatrix land in 8 different bank groups.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

#include "kernels/mma.cuh"

namespace attnbench {

struct FusedPrefillParams {
  const void* q;      // [num_tokens, num_heads, D]
  const void* k;      // paged cache [num_blocks, block_size, num_kv_heads, D]
  const void* v;
  void* out;          // [num_tokens, num_heads, D]
  const int32_t* cu_seqlens_q;  // [num_seqs + 1]
  const int32_t* ctx_lens;      // [num_seqs]
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  int max_blocks_per_seq;
  int block_size;
  int block_shift;    // log2(block_size) when it is a power of two, else -1
  int num_heads;
  int num_kv_heads;
  float scale_log2;   // softmax scale * log2(e)
};

namespace prefill_detail {

template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

}  // namespace prefill_detail

// Kernel options (bitmask template argument; 0 = lab v5). docs/perf-notes.md has each one's gain.
enum FusedPrefillOpt : int {
  kOptL2Order = 1,        // grid (q tiles, heads, seqs): a head's tiles run together, its K/V stays in L2
  kOptSmemEpilogue = 2,   // O through this warp's Q rows of smem, written with 16-byte coalesced stores
  kOptLazyRescale = 4,    // skip the O *= alpha pass when no row max in the warp moved (exact)
  kOptRowBlocks = 8,      // each thread copies KV_ROWS consecutive keys: one block-table load per tile
                          // (power-of-two block size >= KV_ROWS), prefetched one tile ahead
  kOptWarpSkip = 16,      // a warp skips S/softmax/PV of key tiles hidden from all its rows (causal)
                          // and of a whole tile past q_len; masks only tiles crossing its diagonal
};

template <typename T, int D, int WARPS, int BN, int MT = 1>
struct FusedPrefillConfig {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kBM = WARPS * 16 * MT;
  static constexpr int kBN = BN;
  static constexpr size_t kSmemBytes = (size_t)(kBM + 4 * BN) * D * sizeof(T);  // Q + 2 x (K, V)
};

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

template <typename T, int D, int WARPS, int BN, int MT = 1, int OPT = 0>
__global__ void __launch_bounds__(WARPS * 32)
fused_prefill_kernel(const FusedPrefillParams p) {
  using namespace prefill_detail;
  constexpr int NT = WARPS * 32, BM = WARPS * 16 * MT, CHUNKS = D / 8, RPP = NT / CHUNKS;
  constexpr int KV_ROWS = BN / RPP;  // K/V rows this thread copies per tile
  constexpr bool Q_IN_REGS = MT * D <= 128;  // else Q fragments are re-read from smem per tile
  static_assert(BN % RPP == 0 && BM % RPP == 0, "tile shape");
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * D;       // 2 stages of [BN][D]
  T* sV = sK + 2 * BN * D;   // 2 stages of [BN][D]

  constexpr bool ROW_BLOCKS = (OPT & kOptRowBlocks) != 0;
  constexpr int KV_ROWS_LOG2 = KV_ROWS >= 16 ? 4 : KV_ROWS >= 8 ? 3 : KV_ROWS >= 4 ? 2 : KV_ROWS >= 2 ? 1 : 0;
  static_assert(!ROW_BLOCKS || (1 << KV_ROWS_LOG2) == KV_ROWS, "KV_ROWS power of two");
  int head, seq, tile;
  if constexpr ((OPT & kOptL2Order) != 0) {
    tile = gridDim.x - 1 - blockIdx.x, head = blockIdx.y, seq = blockIdx.z;
  } else {
    head = blockIdx.x, seq = blockIdx.y, tile = gridDim.z - 1 - blockIdx.z;
  }
  const int q_begin = p.cu_seqlens_q[seq];
  const int q_len = p.cu_seqlens_q[seq + 1] - q_begin;
  const int q0 = tile * BM;
  if (q0 >= q_len) return;
  const int q_end = min(q0 + BM, q_len);
  const int ctx = p.ctx_lens[seq];
  const int kv_len = ctx + q_end;              // keys any row of this tile may see
  const int n_tiles = (kv_len + BN - 1) / BN;
  const int first_masked_key = ctx + q0 + 1;   // keys >= this are hidden from some row
  const int kv_head = head / (p.num_heads / p.num_kv_heads);

  const T* q = static_cast<const T*>(p.q);
  const T* kc = static_cast<const T*>(p.k);
  const T* vc = static_cast<const T*>(p.v);
  const int32_t* bt = p.block_tables + (size_t)seq * p.max_blocks_per_seq;
  const size_t q_stride = (size_t)p.num_heads * D, kv_stride = (size_t)p.num_kv_heads * D;
  const int chunk = threadIdx.x % CHUNKS, row0 = threadIdx.x / CHUNKS;

  // Q tile.
#pragma unroll
  for (int r = 0; r < BM / RPP; ++r) {
    const int row = r * RPP + row0, i = q0 + row;
    const bool ok = i < q_len;
    mma::cp_async_16(sQ + swz<D>(row, chunk), ok ? q + (size_t)(q_begin + i) * q_stride + (size_t)head * D + chunk * 8 : q, ok);
  }
  // Offsets of this thread's K/V 16-byte chunks of a tile, in units of 8 elements (-1: past the
  // end, zero filled); computed once per tile and used for both K and V. 32-bit: caches up to 16G
  // elements per layer. Thread rows of a tile: r * RPP + row0 (default) or row0 * KV_ROWS + r
  // (ROW_BLOCKS: consecutive keys, so with a power-of-two block size >= KV_ROWS they share one
  // block-table entry: `fast`).
  auto kv_row = [&](int r) { return ROW_BLOCKS ? row0 * KV_ROWS + r : r * RPP + row0; };
  const bool fast = ROW_BLOCKS && p.block_shift >= KV_ROWS_LOG2;
  const int32_t kv_stride8 = (int32_t)(kv_stride >> 3), head_off8 = kv_head * (D / 8) + chunk;
  int32_t kv_off[ROW_BLOCKS ? 1 : KV_ROWS];  // fast: kv_off[0] = row 0's offset, kv_valid rows
  int kv_valid = 0;
  int32_t bt_next = 0;  // fast: block-table entry of the next tile's rows, loaded one tile ahead
  auto load_bt = [&](int j) -> int32_t {
    const int t = j * BN + row0 * KV_ROWS;
    return t < kv_len ? __ldg(bt + (t >> p.block_shift)) : 0;
  };
  auto tile_offsets = [&](int j) {
    if (ROW_BLOCKS && fast) {
      const int t = j * BN + row0 * KV_ROWS;
      kv_valid = kv_len - t;
      kv_off[0] = (int32_t)((((int64_t)bt_next << p.block_shift) + (t & (p.block_size - 1))) * (int64_t)kv_stride8) + head_off8;
      return;
    }
    if constexpr (!ROW_BLOCKS) {
#pragma unroll
      for (int r = 0; r < KV_ROWS; ++r) {
        const int t = j * BN + kv_row(r);
        int32_t off = -1;
        if (t < kv_len) {
          const int blk = p.block_shift >= 0 ? (t >> p.block_shift) : t / p.block_size;
          const int in_blk = t - blk * p.block_size;
          off = (int32_t)((((int64_t)bt[blk] * p.block_size + in_blk) * (int64_t)kv_stride + (int64_t)kv_head * D) >> 3) + chunk;
        }
        kv_off[r] = off;
      }
    }
  };
  auto copy_rows = [&](T* dst, const T* cache, int j) {
    if constexpr (ROW_BLOCKS) {
      if (fast) {
#pragma unroll
        for (int r = 0; r < KV_ROWS; ++r) {
          const bool ok = r < kv_valid;
          mma::cp_async_16(dst + swz<D>(kv_row(r), chunk), cache + (ok ? ((int64_t)kv_off[0] + (int64_t)r * kv_stride8) * 8 : 0), ok);
        }
      } else {  // any block size: one lookup per row
#pragma unroll
        for (int r = 0; r < KV_ROWS; ++r) {
          const int t = j * BN + kv_row(r);
          const bool ok = t < kv_len;
          int64_t off = 0;
          if (ok) {
            const int blk = p.block_shift >= 0 ? (t >> p.block_shift) : t / p.block_size;
            const int in_blk = t - blk * p.block_size;
            off = ((int64_t)bt[blk] * p.block_size + in_blk) * (int64_t)kv_stride + (int64_t)kv_head * D + chunk * 8;
          }
          mma::cp_async_16(dst + swz<D>(kv_row(r), chunk), cache + off, ok);
        }
      }
    } else {
#pragma unroll
      for (int r = 0; r < KV_ROWS; ++r)
        mma::cp_async_16(dst + swz<D>(kv_row(r), chunk), cache + (kv_off[r] < 0 ? 0 : (int64_t)kv_off[r] * 8), kv_off[r] >= 0);
    }
  };

  // Commit groups, in order: {Q, K0}, {V0}, {K1}, {V1}, ... (empty groups past the end keep the count).
  if (ROW_BLOCKS && fast) bt_next = load_bt(0);
  tile_offsets(0);
  copy_rows(sK, kc, 0);
  mma::cp_async_commit();
  copy_rows(sV, vc, 0);
  mma::cp_async_commit();
  if (ROW_BLOCKS && fast && n_tiles > 1) bt_next = load_bt(1);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // Warp w owns m-tiles w*MT .. w*MT+MT-1 (16 rows each).
  uint32_t qf[Q_IN_REGS ? MT : 1][Q_IN_REGS ? D / 16 : 1][4];
  float o[MT][D / 8][4];
  float m_run[MT][2], l_run[MT][2];  // m in scaled log2 units
  int qpos[MT][2];
#pragma unroll
  for (int m = 0; m < MT; ++m) {
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[m][i][0] = o[m][i][1] = o[m][i][2] = o[m][i][3] = 0.f;
    m_run[m][0] = m_run[m][1] = -INFINITY;
    l_run[m][0] = l_run[m][1] = 0.f;
    qpos[m][0] = ctx + q0 + (warp * MT + m) * 16 + lane / 4;
    qpos[m][1] = qpos[m][0] + 8;
  }
  const float sl2 = p.scale_log2;
  const int warp_row0 = q0 + warp * MT * 16;                 // first query row (in the sequence) of this warp
  const int warp_first_qpos = ctx + warp_row0;               // its key position
  const int warp_last_qpos = warp_first_qpos + MT * 16 - 1;  // and the last row's

  for (int j = 0; j < n_tiles; ++j) {
    const int stage = j & 1;
    const T* k_s = sK + stage * BN * D;
    const T* v_s = sV + stage * BN * D;
    mma::cp_async_wait<1>();  // K_j (and Q) landed; V_j may still be in flight
    __syncthreads();
    if constexpr (Q_IN_REGS) {
      if (j == 0) {
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int kk = 0; kk < D / 16; ++kk)
            mma::ldmatrix_x4(qf[m][kk], sQ + swz<D>((warp * MT + m) * 16 + lane % 16, kk * 2 + lane / 16));
      }
    }
    // K_{j+1} into the other stage: its last readers (S of tile j-1) passed the barrier above.
    if (j + 1 < n_tiles) {
      tile_offsets(j + 1);
      copy_rows(sK + (stage ^ 1) * BN * D, kc, j + 1);
      if (ROW_BLOCKS && fast && j + 2 < n_tiles) bt_next = load_bt(j + 2);  // used next iteration
    }
    mma::cp_async_commit();

    // This warp's share of tile j is all zero when every key is right of its last row (causal) or
    // all its rows are past q_len: skip it (the warp still takes part in copies and barriers).
    const int k0 = j * BN;
    const bool live = (OPT & kOptWarpSkip) == 0 || (k0 <= warp_last_qpos && warp_row0 < q_len);
    float s[MT][BN / 8][4];
    if (live) {
      // S = Q K^T for this warp's MT x 16 rows x BN keys (raw scores).
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int n = 0; n < BN / 8; ++n) s[m][n][0] = s[m][n][1] = s[m][n][2] = s[m][n][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t qa[MT][4];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          if constexpr (Q_IN_REGS) {
#pragma unroll
            for (int i = 0; i < 4; ++i) qa[m][i] = qf[m][kk][i];
          } else {
            mma::ldmatrix_x4(qa[m], sQ + swz<D>((warp * MT + m) * 16 + lane % 16, kk * 2 + lane / 16));
          }
        }
#pragma unroll
        for (int n = 0; n < BN / 8; n += 2) {
          uint32_t b[4];
          const int key = (n + lane / 16) * 8 + lane % 8;
          mma::ldmatrix_x4(b, k_s + swz<D>(key, kk * 2 + (lane / 8) % 2));
#pragma unroll
          for (int m = 0; m < MT; ++m) {
            mma::mma_16816<T>(s[m][n], qa[m], b[0], b[1]);
            mma::mma_16816<T>(s[m][n + 1], qa[m], b[2], b[3]);
          }
        }
      }

      if ((OPT & kOptWarpSkip) != 0 ? k0 + BN - 1 > warp_first_qpos : k0 + BN > first_masked_key) {
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int n = 0; n < BN / 8; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int kpos = k0 + n * 8 + (lane % 4) * 2 + (e & 1);
              if (kpos > qpos[m][e >> 1]) s[m][n][e] = -INFINITY;
            }
      }

      // Online softmax: per m-tile, rows r=0 (elements 0,1) and r=1 (elements 2,3); 4 lanes share a row.
      float alpha[MT][2];
      bool moved = false;
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = -INFINITY;
#pragma unroll
          for (int n = 0; n < BN / 8; ++n) mx = fmaxf(mx, fmaxf(s[m][n][2 * r], s[m][n][2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float m_new = fmaxf(m_run[m][r], mx * sl2);
          const float m_use = m_new == -INFINITY ? 0.f : m_new;
          moved |= m_new != m_run[m][r];
          alpha[m][r] = fast_exp2(m_run[m][r] - m_use);
          m_run[m][r] = m_new;
          float sum = 0.f;
#pragma unroll
          for (int n = 0; n < BN / 8; ++n) {
            s[m][n][2 * r] = fast_exp2(fmaf(s[m][n][2 * r], sl2, -m_use));
            s[m][n][2 * r + 1] = fast_exp2(fmaf(s[m][n][2 * r + 1], sl2, -m_use));
            sum += s[m][n][2 * r] + s[m][n][2 * r + 1];
          }
          l_run[m][r] = l_run[m][r] * alpha[m][r] + sum;  // per-lane partial; reduced across the quad at the end
        }
      // O *= alpha. Lazy: when no row max of the warp moved every alpha is exactly 1 (m unchanged).
      if ((OPT & kOptLazyRescale) == 0 || __any_sync(0xffffffffu, moved)) {
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int d = 0; d < D / 8; ++d) {
            o[m][d][0] *= alpha[m][0];
            o[m][d][1] *= alpha[m][0];
            o[m][d][2] *= alpha[m][1];
            o[m][d][3] *= alpha[m][1];
          }
      }
    }

    mma::cp_async_wait<1>();  // V_j landed (K_{j+1} may still be in flight)
    __syncthreads();
    // V_{j+1} into the other stage: its last readers (PV of tile j-1) passed the barrier above.
    if (j + 1 < n_tiles) copy_rows(sV + (stage ^ 1) * BN * D, vc, j + 1);
    mma::cp_async_commit();

    if (live) {
      // O += P V: P from the S accumulators (two n-tiles = one k16 step), V via ldmatrix.trans.
#pragma unroll
      for (int t = 0; t < BN / 16; ++t) {
        uint32_t a[MT][4];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          a[m][0] = mma::pack2<T>(s[m][2 * t][0], s[m][2 * t][1]);
          a[m][1] = mma::pack2<T>(s[m][2 * t][2], s[m][2 * t][3]);
          a[m][2] = mma::pack2<T>(s[m][2 * t + 1][0], s[m][2 * t + 1][1]);
          a[m][3] = mma::pack2<T>(s[m][2 * t + 1][2], s[m][2 * t + 1][3]);
        }
#pragma unroll
        for (int d = 0; d < D / 8; d += 2) {
          uint32_t b[4];
          const int key = t * 16 + lane % 8 + ((lane / 8) % 2) * 8;
          mma::ldmatrix_x4_trans(b, v_s + swz<D>(key, d + lane / 16));
#pragma unroll
          for (int m = 0; m < MT; ++m) {
            mma::mma_16816<T>(o[m][d], a[m], b[0], b[1]);
            mma::mma_16816<T>(o[m][d + 1], a[m], b[2], b[3]);
          }
        }
      }
    }
  }
  mma::cp_async_wait<0>();

  T* out = static_cast<T*>(p.out);
  if constexpr ((OPT & kOptSmemEpilogue) != 0) {
    // This warp's rows of sQ were read by this warp only (its Q fragments): reuse them for O.
    __syncwarp();
    T* sO = sQ + warp * MT * 16 * D;
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float l = l_run[m][r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int lr = m * 16 + lane / 4 + r * 8;
#pragma unroll
        for (int d = 0; d < D / 8; ++d)
          *reinterpret_cast<uint32_t*>(sO + swz<D>(lr, d) + (lane % 4) * 2) =
              mma::pack2<T>(o[m][d][2 * r] * inv, o[m][d][2 * r + 1] * inv);
      }
    __syncwarp();
#pragma unroll
    for (int idx = lane; idx < MT * 16 * CHUNKS; idx += 32) {
      const int lr = idx / CHUNKS, c = idx % CHUNKS;
      const int i = q0 + warp * MT * 16 + lr;
      if (i < q_len)
        *reinterpret_cast<uint4*>(out + (size_t)(q_begin + i) * q_stride + (size_t)head * D + c * 8) =
            *reinterpret_cast<const uint4*>(sO + swz<D>(lr, c));
    }
  } else {
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float l = l_run[m][r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int i = q0 + (warp * MT + m) * 16 + lane / 4 + r * 8;
        if (i >= q_len) continue;
        T* orow = out + (size_t)(q_begin + i) * q_stride + (size_t)head * D + (lane % 4) * 2;
#pragma unroll
        for (int d = 0; d < D / 8; ++d)
          *reinterpret_cast<uint32_t*>(orow + d * 8) = mma::pack2<T>(o[m][d][2 * r] * inv, o[m][d][2 * r + 1] * inv);
      }
  }
}

// Launch helper: grid from the step's shape (num_seqs and max_q_len are known in plan()).
template <typename T, int D, int WARPS, int BN = 64, int MT = 1, int OPT = 0>
inline cudaError_t launch_fused_prefill(FusedPrefillParams p, int num_seqs, int max_q_len,
                                        cudaStream_t stream) {
  using Cfg = FusedPrefillConfig<T, D, WARPS, BN, MT>;
  if (num_seqs == 0 || max_q_len == 0) return cudaSuccess;
  p.block_shift = (p.block_size & (p.block_size - 1)) == 0 ? __builtin_ctz(p.block_size) : -1;
  static bool attr_set = false;  // per instantiation; set before the first launch
  if (!attr_set) {
    cudaError_t e = cudaFuncSetAttribute(fused_prefill_kernel<T, D, WARPS, BN, MT, OPT>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    if (e != cudaSuccess) return e;
    attr_set = true;
  }
  const unsigned tiles = (unsigned)((max_q_len + Cfg::kBM - 1) / Cfg::kBM);
  dim3 grid = (OPT & kOptL2Order) != 0 ? dim3(tiles, p.num_heads, num_seqs) : dim3(p.num_heads, num_seqs, tiles);
  fused_prefill_kernel<T, D, WARPS, BN, MT, OPT><<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

// Option sets of the lab versions (docs/perf-notes.md).
constexpr int kFusedPrefillOptV9 = kOptL2Order | kOptSmemEpilogue | kOptLazyRescale | kOptRowBlocks;
constexpr int kFusedPrefillOptV11 = kFusedPrefillOptV9 | kOptWarpSkip;
constexpr int kFusedPrefillOptV12 = kFusedPrefillOptV11 & ~kOptL2Order;

// The configuration production uses per head dim: lab v9, the best measured one (run 4, H100:
// checks ok in the lab and through attnbench-kernels). v11/v12 compile and are in the lab but have
// not been run yet (docs/perf-notes.md).
template <typename T, int D>
inline cudaError_t launch_fused_prefill_best(const FusedPrefillParams& p, int num_seqs, int max_q_len,
                                             cudaStream_t stream) {
  return launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV9>(p, num_seqs, max_q_len, stream);
}

}  // namespace attnbench
