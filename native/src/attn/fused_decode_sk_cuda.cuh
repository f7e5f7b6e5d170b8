// Stream-K fused paged decode on tensor cores (lab v18 / v19, session 7, issue 15).
//
//   kernel 1  grid = min(SMs x CTAs an SM, tiles / 8)   block = WARPS x 32 threads
//             The work is the list of items (sequence, group of G query heads) in sequence order,
//             head group fastest, each ceil(len / KW) key tiles long (at least 1). CTA c takes the
//             contiguous range [c T / grid, (c + 1) T / grid) of the T tiles in all, so every CTA
//             streams the same number of bytes whatever the shape (no waves, no CTA restarts, no
//             half-empty last wave), and the items its range cuts are finished by a merge.
//             Per item segment (the part of an item in the CTA's range), the tiles go round-robin
//             to the warps, each warp streaming them through its own STAGES-deep cp.async ring as
//             in fused_decode_tc_kernel (decode_tc_tile, the same per-tile step); the rings run on
//             across the segments, so a segment boundary costs two CTA barriers (the warps' merge,
//             the store), never a drain. Block-table entries travel through the same cp.async
//             groups (a per-warp ring of block ids, STAGES - 1 tiles ahead of the copy that uses
//             them), so no warp ever waits on a block-table load in a register.
//             Whole items: the output. Cut items: the normalised partial output + log2-sum-exp in
//             the workspace at rows (CTA, 0) for the CTA's first segment, (CTA, 1) for its last.
//   kernel 2  grid = that grid, block D: CTA c merges the cut item it begins (p.work_desc[c]) over
//             the CTAs its tiles lie in.
// The sequence prefix of item tiles is computed by every CTA from seq_lens (one load a thread, a
// block scan), so the grid depends on the batch size, max_len and the occupancy only (CUDA-graph
// safe, as the split count of the other kernels). Same contract as fused_decode_tcp_kernel: QKV
// rows (the newest key read from them; the CTA holding an item's last tile appends it), PDL, no
// q/k transform.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

#include "attn/fused_decode_tc_cuda.cuh"

namespace attnbench {

constexpr int kDecodeSkMaxSeqs = 512;     // sequences a launch may have (prefix table in smem)
constexpr int kDecodeSkMinTilesPerCta = 8;  // 128 keys: fewer CTAs on small steps (latency-bound)

template <int D, int G, int KW, int STAGES, int WARPS>
struct DecodeSkConfig {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kTileElems = 2 * KW * D;  // K rows then V rows of one key tile
  static constexpr size_t kPipeBytes = (size_t)WARPS * STAGES * kTileElems * 2;
  static constexpr size_t kRingBytes = (size_t)WARPS * STAGES * KW * 4;  // block ids
  static constexpr size_t kMergeBytes = (size_t)WARPS * G * (D + 2) * 4;
  static constexpr size_t kTableBytes = (size_t)2 * (kDecodeSkMaxSeqs + 1) * 4;  // prefix, lens
  static constexpr size_t kSmemBytes = kPipeBytes + kRingBytes + kMergeBytes + kTableBytes;
};

// Workspace a launch of grid CTAs needs: partial rows (of D floats, and one lse each) and desc ints.
inline size_t decode_sk_partial_rows(int grid, int group_tile) { return (size_t)grid * 2 * group_tile; }
inline size_t decode_sk_desc_ints(int grid) { return (size_t)grid * 4; }

namespace decode_sk_detail {
// First tile of CTA c's range: floor(c T / grid).
__device__ __forceinline__ int bound(int c, int total, int grid) { return (int)((long long)c * total / grid); }
}  // namespace decode_sk_detail

template <typename T, int D, int G, int KW, int STAGES, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) fused_decode_sk_kernel(const FusedDecodeParams p, int num_seqs) {
  using namespace decode_tc_detail;
  using decode_sk_detail::bound;
  using Cfg = DecodeSkConfig<D, G, KW, STAGES, WARPS>;
  constexpr int CH = D / 8;        // 16-byte chunks per row
  constexpr int RPP = 32 / CH;     // rows one warp-wide copy covers
  constexpr int RPL = KW / RPP;    // rows each lane copies per tile (K, and the same for V)
  constexpr bool ROWS_HI = G > 8;  // query rows 8..15 used
  constexpr int PER = (kDecodeSkMaxSeqs + WARPS * 32 - 1) / (WARPS * 32);  // sequences a thread scans
  static_assert(G <= 16 && KW % 16 == 0 && KW <= 32 && KW % RPP == 0 && STAGES >= 2, "config");
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sKV = reinterpret_cast<T*>(smem_raw);                                    // [WARPS][STAGES][2 KW][D]
  int* ring_all = reinterpret_cast<int*>(smem_raw + Cfg::kPipeBytes);         // [WARPS][STAGES][KW]
  float* sm_m = reinterpret_cast<float*>(smem_raw + Cfg::kPipeBytes + Cfg::kRingBytes);  // [WARPS][G]
  float* sm_l = sm_m + WARPS * G;                                                         // [WARPS][G]
  float* sm_o = sm_l + WARPS * G;                                                         // [WARPS][G][D]
  int* prefix = reinterpret_cast<int*>(smem_raw + Cfg::kPipeBytes + Cfg::kRingBytes + Cfg::kMergeBytes);
  int* lens = prefix + kDecodeSkMaxSeqs + 1;
  // prefix[s]: tiles of the items of sequences < s; lens[s]: seq_lens[s].

  pdl_wait();
  pdl_launch_dependents();
  const int rg = p.num_heads / G, group = p.num_heads / p.num_kv_heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  {  // Block scan of the items' tiles: PER consecutive sequences a thread, one load each.
    int v[PER], sum = 0;
    const int s0 = threadIdx.x * PER;
#pragma unroll
    for (int e = 0; e < PER; ++e) {
      const int s = s0 + e;
      const int len = s < num_seqs ? p.seq_lens[s] : 0;
      if (s < num_seqs) lens[s] = len;
      v[e] = s < num_seqs ? rg * max(1, (len + KW - 1) / KW) : 0;
      sum += v[e];
    }
    int incl = sum;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int x = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += x;
    }
    int* wsum = reinterpret_cast<int*>(sm_m);  // scratch: the merge buffer is not in use yet
    if (lane == 31) wsum[warp] = incl;
    __syncthreads();
    int run = incl - sum;
    for (int w = 0; w < warp; ++w) run += wsum[w];
    if (threadIdx.x == 0) prefix[0] = 0;
#pragma unroll
    for (int e = 0; e < PER; ++e) {
      run += v[e];
      if (s0 + e < num_seqs) prefix[s0 + e + 1] = run;
    }
    __syncthreads();
  }
  const int total = prefix[num_seqs], grid = gridDim.x, c = blockIdx.x;
  const int lo = bound(c, total, grid), hi = bound(c + 1, total, grid);
  // Item of global tile x (largest s with prefix[s] <= x, then the head group).
  auto item_of = [&](int x) -> int {
    int a = 0, b = num_seqs - 1;
    while (a < b) {
      const int m = (a + b + 1) / 2;
      if (prefix[m] <= x) a = m;
      else b = m - 1;
    }
    const int nt = (prefix[a + 1] - prefix[a]) / rg;
    return a * rg + (x - prefix[a]) / nt;
  };
  const int i0 = lo < hi ? item_of(lo) : 0;
  const int nseg = lo < hi ? item_of(hi - 1) - i0 + 1 : 0;
  // Item i's sequence, first tile and tiles.
  auto item_span = [&](int i, int& s, int& first, int& nt) {
    s = i / rg;
    nt = (prefix[s + 1] - prefix[s]) / rg;
    first = prefix[s] + (i - s * rg) * nt;
  };
  if (threadIdx.x == 0) {  // the cut item this CTA begins, for the merge kernel
    int* dsc = p.work_desc + (size_t)c * 4;
    dsc[0] = -1;
    if (nseg > 0) {
      int s, first, nt;
      item_span(i0 + nseg - 1, s, first, nt);
      if (first + nt > hi && first >= lo) dsc[0] = i0 + nseg - 1, dsc[1] = first, dsc[2] = first + nt, dsc[3] = total;
    }
  }
  const size_t row_stride = p.q_row_stride > 0 ? (size_t)p.q_row_stride : (size_t)p.num_heads * D;
  const size_t kv_stride = (size_t)p.num_kv_heads * D;
  if (p.slot_mapping && threadIdx.x < 2 * CH) {  // append: items whose last tile is in this CTA's range
    const bool is_v = threadIdx.x >= CH;
    const int ci = (threadIdx.x % CH) * 8;
    for (int j = 0; j < nseg; ++j) {
      int s, first, nt;
      item_span(i0 + j, s, first, nt);
      if (first + nt > hi) continue;
      const int slot = p.slot_mapping[s];
      if (slot < 0) continue;
      const size_t hoff = (size_t)((i0 + j - s * rg) * G / group) * D + ci;
      const T* src = static_cast<const T*>(is_v ? p.v_new : p.k_new) + s * row_stride + hoff;
      *reinterpret_cast<uint4*>(static_cast<T*>(is_v ? p.v_cache_out : p.k_cache_out) + (size_t)slot * kv_stride + hoff) =
          *reinterpret_cast<const uint4*>(src);
    }
  }

  T* sW = sKV + (size_t)warp * STAGES * Cfg::kTileElems;
  int* ring = ring_all + warp * STAGES * KW;
  const int bs = p.block_size;
  const int bshift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;
  const int cchunk = lane % CH, crow = lane / CH;

  // A warp's position in its tile stream: segment j, its k-th tile there, and the segment's facts.
  struct Cursor {
    int j, k, my, seq, kvh, tb, te, tnew;
  };
  auto load = [&](Cursor& u, int j) {
    u.j = j, u.k = 0, u.my = 0;
    if (j >= nseg) return;
    int s, first, nt;
    item_span(i0 + j, s, first, nt);
    const int a = max(lo, first), b = min(hi, first + nt), n = b - a;
    u.seq = s;
    u.kvh = (i0 + j - s * rg) * G / group;
    u.tb = (a - first) * KW;
    u.te = min(lens[s], (b - first) * KW);
    u.tnew = p.k_new ? lens[s] - 1 : -1;
    u.my = n > warp ? (n - 1 - warp) / WARPS + 1 : 0;
  };
  auto next = [&](Cursor& u) {
    ++u.k;
    while (u.j < nseg && u.k >= u.my) load(u, u.j + 1);
  };
  auto first_tile = [&](Cursor& u) {
    load(u, 0);
    while (u.j < nseg && u.my == 0) load(u, u.j + 1);
  };
  Cursor cl, ci;  // cl: the block-id copy, STAGES - 1 tiles ahead of ci: the K/V copy
  first_tile(ci);
  first_tile(cl);
  int n_issued = 0;  // tiles of this warp's stream issued (ring position)
  // Block ids of cursor u's tile into ring slot `slot` (lanes < KW, one key each).
  auto bt_fetch = [&](const Cursor& u, int slot) {
    if (u.j >= nseg || lane >= KW) return;
    const int t = u.tb + (warp + u.k * WARPS) * KW + lane;
    if (t >= u.te || t == u.tnew) return;
    const int32_t* bt = p.block_tables + (size_t)u.seq * p.max_blocks_per_seq;
    cp_async_4(ring + slot * KW + lane, bt + (bshift >= 0 ? t >> bshift : t / bs));
  };
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    bt_fetch(cl, i);
    next(cl);
  }
  mma::cp_async_commit();
  mma::cp_async_wait<0>();  // the first tiles' ids: the one latency the start cannot hide
  __syncwarp();
  auto issue = [&]() {
    __syncwarp();  // ring slot (n - 1) % STAGES, read by other lanes in the last issue, is rewritten below
    if (ci.j < nseg) {
      const int slot = n_issued % STAGES;
      T* sk = sW + slot * Cfg::kTileElems;
      T* sv = sk + KW * D;
      const size_t hoff = (size_t)ci.kvh * D + cchunk * 8;
      const T* kb = static_cast<const T*>(p.k) + hoff;
      const T* vb = static_cast<const T*>(p.v) + hoff;
      const T* kn = p.k_new ? static_cast<const T*>(p.k_new) + ci.seq * row_stride + hoff : kb;
      const T* vn = p.k_new ? static_cast<const T*>(p.v_new) + ci.seq * row_stride + hoff : vb;
      const int t0 = ci.tb + (warp + ci.k * WARPS) * KW;
#pragma unroll
      for (int r = 0; r < RPL; ++r) {
        const int row = crow + r * RPP, t = t0 + row;
        int s = -1;
        if (t < ci.te) {
          if (t == ci.tnew) {
            s = -2;
          } else {
            const int blk = bshift >= 0 ? t >> bshift : t / bs;
            s = ring[slot * KW + row] * bs + (t - blk * bs);
          }
        }
        const T* ks = s >= 0 ? kb + (size_t)s * kv_stride : (s == -2 ? kn : kb);
        const T* vs = s >= 0 ? vb + (size_t)s * kv_stride : (s == -2 ? vn : vb);
        mma::cp_async_16(sk + swz<D>(row, cchunk), ks, s != -1);
        mma::cp_async_16(sv + swz<D>(row, cchunk), vs, s != -1);
      }
      bt_fetch(cl, (n_issued + STAGES - 1) % STAGES);  // lands with this group, read STAGES - 1 issues on
      next(cl);
      next(ci);
    }
    ++n_issued;
    mma::cp_async_commit();  // empty groups past the end keep the wait counts uniform
  };
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) issue();

  const float sl2 = p.scale_log2;
  int n_done = 0;  // tiles of this warp's stream computed (ring position)
  for (int j = 0; j < nseg; ++j) {
    Cursor u;
    load(u, j);
    int s_, first, nt;
    item_span(i0 + j, s_, first, nt);
    const bool whole = first >= lo && first + nt <= hi;
    const int head0 = (i0 + j - u.seq * rg) * G;
    uint32_t qf[D / 16][4];
    {
      const T* qs = static_cast<const T*>(p.q) + u.seq * row_stride + (size_t)head0 * D;
      const int r0 = lane / 4, r1 = r0 + 8;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const int cc = kk * 16 + (lane % 4) * 2;
        const bool u0 = r0 < G, u1 = ROWS_HI && r1 < G;
        qf[kk][0] = u0 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r0 * D + cc)) : 0u;
        qf[kk][2] = u0 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r0 * D + cc + 8)) : 0u;
        qf[kk][1] = u1 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r1 * D + cc)) : 0u;
        qf[kk][3] = u1 ? __ldg(reinterpret_cast<const unsigned*>(qs + (size_t)r1 * D + cc + 8)) : 0u;
      }
    }
    float o[D / 8][4];
#pragma unroll
    for (int d = 0; d < D / 8; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
    for (int k = 0; k < u.my; ++k, ++n_done) {
      mma::cp_async_wait<STAGES - 2>();  // this tile landed (this lane's copies) ...
      __syncwarp();                      // ... and every lane's; the previous tile's buffer is free
      issue();
      const T* k_s = sW + (n_done % STAGES) * Cfg::kTileElems;
      decode_tc_tile<T, D, KW, ROWS_HI>(qf, k_s, k_s + KW * D, lane, u.tb + (warp + k * WARPS) * KW, u.te, sl2, m_run,
                                        l_run, o);
    }
    // Merge the warps' states of segment j (the next segment's copies stay in flight meanwhile).
#pragma unroll
    for (int r = 0; r < (ROWS_HI ? 2 : 1); ++r) {
      float l = l_run[r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = lane / 4 + r * 8;
      if (row < G) {
        if (lane % 4 == 0) sm_m[warp * G + row] = m_run[r], sm_l[warp * G + row] = l;
#pragma unroll
        for (int d = 0; d < D / 8; ++d) {
          float* dst = sm_o + ((size_t)warp * G + row) * D + d * 8 + (lane % 4) * 2;
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
      for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * G + g]);
      const float M_use = M == -INFINITY ? 0.f : M;
      float L = 0.f, O = 0.f;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) {
        const float wt = exp2f(sm_m[w * G + g] - M_use);
        L += sm_l[w * G + g] * wt;
        O += sm_o[((size_t)w * G + g) * D + d] * wt;
      }
      const float inv = L > 0.f ? 1.f / L : 0.f;
      if (whole) {
        static_cast<T*>(p.out)[((size_t)u.seq * p.num_heads + head0 + g) * D + d] = mma::from_float<T>(O * inv);
      } else {
        const size_t row = ((size_t)c * 2 + (j == 0 ? 0 : 1)) * G + g;
        p.partial_o[row * D + d] = O * inv;
        if (d == 0) p.partial_lse[row] = L > 0.f ? M_use + log2f(L) : -INFINITY;
      }
    }
    __syncthreads();  // the merge buffer is free for the next segment
  }
  mma::cp_async_wait<0>();
}

// grid = the main kernel's grid, block D: CTA c merges the cut item it begins over the CTAs that
// hold its tiles (c .. the CTA of its last tile; CTAs with empty ranges hold nothing).
template <typename T, int D, int G>
__global__ void fused_decode_sk_merge_kernel(const FusedDecodeParams p) {
  using decode_sk_detail::bound;
  pdl_wait();
  pdl_launch_dependents();
  const int c = blockIdx.x, grid = gridDim.x, d = threadIdx.x;
  const int* dsc = p.work_desc + (size_t)c * 4;
  const int item = dsc[0];
  if (item < 0) return;
  const int first = dsc[1], end = dsc[2], total = dsc[3];
  const int c_last = min(grid - 1, (int)(((long long)end * grid - 1) / total));
  const int rg = p.num_heads / G, seq = item / rg, head0 = (item - seq * rg) * G;
  for (int g = 0; g < G; ++g) {
    float M = -INFINITY;
    for (int cc = c; cc <= c_last; ++cc) {
      const int b0 = bound(cc, total, grid);
      if (b0 == bound(cc + 1, total, grid)) continue;
      M = fmaxf(M, p.partial_lse[((size_t)cc * 2 + (b0 >= first ? 0 : 1)) * G + g]);
    }
    const float M_use = M == -INFINITY ? 0.f : M;
    float L = 0.f, O = 0.f;
    for (int cc = c; cc <= c_last; ++cc) {
      const int b0 = bound(cc, total, grid);
      if (b0 == bound(cc + 1, total, grid)) continue;
      const size_t row = ((size_t)cc * 2 + (b0 >= first ? 0 : 1)) * G + g;
      const float w = exp2f(p.partial_lse[row] - M_use);
      L += w;
      O += w * p.partial_o[row * D + d];
    }
    static_cast<T*>(p.out)[((size_t)seq * p.num_heads + head0 + g) * D + d] = mma::from_float<T>(L > 0.f ? O / L : 0.f);
  }
}

// CTAs the stream-K launch uses: every CTA slot, but at least kDecodeSkMinTilesPerCta tiles each for
// the longest possible step (max_len: graph buckets pass their context limit, as for the splits).
inline int decode_sk_grid(int num_seqs, int num_heads, int group_tile, int max_len, int kw, int slots) {
  const long long tiles = (long long)num_seqs * (num_heads / group_tile) * (max_len > kw ? (max_len + kw - 1) / kw : 1);
  const long long g = (tiles + kDecodeSkMinTilesPerCta - 1) / kDecodeSkMinTilesPerCta;
  return (int)(g < 1 ? 1 : (g > slots ? slots : g));
}

// Needs p.partial_o / partial_lse of decode_sk_partial_rows(grid, G) rows and p.work_desc of
// decode_sk_desc_ints(grid) ints, grid <= decode_sk_max_grid(); num_seqs <= kDecodeSkMaxSeqs.
template <typename T, int D, int G, int KW, int STAGES, int WARPS>
inline cudaError_t launch_fused_decode_sk_g(const FusedDecodeParams& p, int num_seqs, int max_len, cudaStream_t stream,
                                            int* grid_out = nullptr) {
  using Cfg = DecodeSkConfig<D, G, KW, STAGES, WARPS>;
  auto kernel = fused_decode_sk_kernel<T, D, G, KW, STAGES, WARPS>;
  static int slots = 0;  // per instantiation, before its first launch
  if (slots == 0) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    int dev = 0, occ = 0, n = 0;
    if (e == cudaSuccess) e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kernel, Cfg::kThreads, Cfg::kSmemBytes);
    if (e != cudaSuccess) return e;
    slots = n * (occ > 0 ? occ : 1);
  }
  if (num_seqs == 0) return cudaSuccess;
  if (num_seqs > kDecodeSkMaxSeqs || p.work_desc == nullptr) return cudaErrorInvalidValue;
  const int grid = decode_sk_grid(num_seqs, p.num_heads, G, max_len, KW, slots);
  if (grid_out) *grid_out = grid;
  launch_pdl(kernel, dim3(grid), dim3(Cfg::kThreads), Cfg::kSmemBytes, stream, p, num_seqs);
  launch_pdl(fused_decode_sk_merge_kernel<T, D, G>, dim3(grid), dim3(D), 0, stream, p);
  return cudaGetLastError();
}

template <typename T, int D, int KW, int STAGES, int WARPS>
inline cudaError_t launch_fused_decode_sk(const FusedDecodeParams& p, int num_seqs, int max_len, cudaStream_t stream) {
  switch (decode_tc_group_tile(p.num_heads, p.num_kv_heads)) {
    case 16: return launch_fused_decode_sk_g<T, D, 16, KW, STAGES, WARPS>(p, num_seqs, max_len, stream);
    case 8: return launch_fused_decode_sk_g<T, D, 8, KW, STAGES, WARPS>(p, num_seqs, max_len, stream);
    case 4: return launch_fused_decode_sk_g<T, D, 4, KW, STAGES, WARPS>(p, num_seqs, max_len, stream);
    case 2: return launch_fused_decode_sk_g<T, D, 2, KW, STAGES, WARPS>(p, num_seqs, max_len, stream);
    default: return launch_fused_decode_sk_g<T, D, 1, KW, STAGES, WARPS>(p, num_seqs, max_len, stream);
  }
}

// Upper bound of the grid of any stream-K launch on this device (for sizing the workspace).
inline int decode_sk_max_grid(int num_sms) { return num_sms * 4; }

}  // namespace attnbench
