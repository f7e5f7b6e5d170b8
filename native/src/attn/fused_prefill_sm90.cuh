// Fused causal varlen prefill for Hopper (sm_90a): warpgroup MMA, warp specialisation, mbarrier
// pipeline (lab: native/dev/attention_prefill_sm90.cu; FA2-style kernel for other GPUs:
// attn/fused_prefill_cuda.cuh).
//
//   grid  = (q tiles, heads, seqs), q tiles heaviest first (kSm90Persistent: one CTA an SM walking
//           the same items); block = 3 warpgroups (384 threads; 4 and BM = 192 with kSm90ThreeWG)
//   warpgroup 0 (producer, 56 registers after setmaxnreg): brings the Q tile once (cp.async, or
//           TMA with kSm90TmaQ), then K and V tiles of BN keys into STAGES-deep smem rings: by TMA
//           from the step's own K/V rows for slices without context (kSm90Ragged: one box of BN
//           rows per panel), by TMA from the paged cache through the block table (kSm90TmaKV: one
//           box per page and panel), otherwise with cp.async (a gathered copy, so any page size
//           works; each thread copies consecutive keys, one block-table load per tile for
//           power-of-two pages >= its rows). Each stage is signalled on a "full" mbarrier (TMA
//           bytes, or cp.async completion by cp.async.mbarrier.arrive.noinc): the producer never
//           waits on its own copies, only on the "empty" barriers of the stage it refills.
//   warpgroups 1, 2 (consumers, 224 registers; 1-3 with 160 under kSm90ThreeWG): 64 query rows
//           each. Per key tile j: S_j = Q K_j^T with wgmma (both operands in smem, 128-byte
//           swizzle), issued together with O += P_{j-1} V_{j-1} (P from registers, V in smem read
//           transposed), so the softmax of tile j runs while the tensor cores do the previous PV;
//           with kSm90PingPong the warpgroups take turns on the tensor cores (round robin). Without
//           it a warpgroup skips the key tiles right of all its rows (causal) and the whole loop
//           when all its rows are past q_len, still releasing those stages in order so the
//           producer's barriers stay in phase.
// Paging and chunked prefill as in the FA2 kernel: key t of slice s is slot
// block_tables[s][t / block_size] * block_size + t % block_size; queries sit at ctx + i.
#pragma once
#include <cuda.h>  // CUtensorMap and its enums (types only: the encoder comes through the runtime)
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/mma.cuh"
#include "attn/fused_prefill_cuda.cuh"
#include "kernels/sm90_wgmma.cuh"
#include "kernels/tma_map.h"

namespace attnbench {

template <int D, int BN, int STAGES, int NWG = 2>
struct PrefillSm90Config {
  static constexpr int kBM = 64 * NWG;  // 64 query rows a consumer warpgroup
  static constexpr int kThreads = 128 * (NWG + 1);
  static constexpr uint32_t kQBytes = kBM * D * 2;
  static constexpr uint32_t kTileBytes = BN * D * 2;  // one K or V stage
  static constexpr uint32_t kBarOffset = kQBytes + 2 * STAGES * kTileBytes;
  // + barriers (full_q, 4 x STAGES K/V, and for kSm90Persistent empty_q and the item ring's 2 + 2)
  // + the item ring's two slots + 1 KB alignment slack
  static constexpr size_t kSmemBytes = kBarOffset + (6 + 4 * STAGES) * 8 + 8 + 1024;
  // 56 + 2 x 224 = 3 x 168; three consumers (kSm90ThreeWG): 32 + 3 x 160 = 4 x 128
  static constexpr int kProducerRegs = NWG == 2 ? 56 : 32, kConsumerRegs = NWG == 2 ? 224 : 160;
};

// Options (OPT bits; lab versions combine them, docs/perf-notes.md says which won):
//   kSm90PingPong: the consumer warpgroups take turns issuing their GEMMs (named barriers 1 and 2),
//       so one's softmax runs under the other's GEMMs; both then walk every key tile of the CTA (no
//       per-warpgroup skip: the turns must pair up).
//   kSm90NoProxyFence: consumers skip fence.proxy.async after a full wait. A probe only: cp.async
//       writes through the generic proxy, so without TMA the fence is what the memory model asks
//       for (FlashAttention-3's cp.async path omits it); it measures what the fence costs.
//   kSm90OneFence: wait for K_j and V_{j-1} together and fence once per iteration, not twice.
//   kSm90UniformDesc: the warpgroup index is broadcast with a shuffle (the compiler then knows it
//       is warp-uniform) and the wgmma descriptors are built once, each k-step adding a constant,
//       so the loop needs no per-instruction descriptor arithmetic in vector registers.
//   kSm90TmaKV: K/V tiles come by TMA (one producer warp; a 2D tensor map over the cache as
//       [slots, kv_heads x D], box 64 columns x min(page, BN) rows, 128-byte swizzle, one box per
//       page and 64-column panel of a tile), so there is no proxy fence per tile and three
//       producer warps retire after the Q tile. Needs power-of-two pages of >= 8 keys. The tile
//       holding the last key still comes by cp.async with zero fill: TMA would read the stale
//       slots of a partial page, and garbage (NaN) in V times P = 0 would still poison O.
//   kSm90TmaTail (with kSm90TmaKV): in the last tile too, whole valid pages come by TMA; only the
//       rows from the first partial page on come by cp.async (one block-table entry, zero fill
//       past kv_len), and block-table entries are loaded a tile ahead. Without it the whole last
//       tile is a cp.async gather with a dependent block-table load per row (lab v23-v26: the
//       consumers' longest waits, k15b run 1's ncu samples).
//   kSm90Ragged: K/V tiles from the step's own contiguous K/V rows ([tokens, kv_heads x D], the
//       k_new / v_new of PrefillAttn::run) instead of the paged cache, for slices without cached
//       context: with kSm90TmaKV per slice (ctx_lens[s] == 0 ragged, others paged), without it for
//       every slice (the host guarantees that no slice has context). Key t of such a slice is row
//       cu_seqlens_q[s] + t, so a tile is one box of BN rows per 64-column panel (two TMA copies
//       for D 128 instead of one per page and panel), with no block table and no gathered last
//       tile. Rows past the slice are the next slice's keys (finite; masked like any key right of
//       the diagonal) or past the map's last row (zero-filled by TMA), so nothing stale is read:
//       the map's row count must be the step's prefill token count. What FlashAttention-3 and
//       FlashInfer's ragged prefill read; PyTorch's cuDNN anchor reads contiguous K/V too.
//   kSm90TmaQ: the Q tile by TMA too (one box of BM rows per panel from a map over [tokens,
//       heads x D]; rows past the slice are never stored), so no producer thread copies by
//       cp.async and no consumer fences the Q tile.
//   kSm90Persistent (with kSm90Ragged, kSm90TmaQ and kSm90PingPong): one CTA an SM walks work
//       items (query tile, head, slice) in the grid's order -- a head's tiles together, heaviest
//       first -- taking the next one from a global counter when it starts one (dynamic, so CTAs
//       that drew light tiles take more). The K/V ring and the ping-pong turns run on across
//       items, and the producer loads the next item's Q and first tiles while the consumers
//       finish the current one (last PV, O store): a CTA's start and end are no longer exposed
//       once per item (FlashAttention-3's persistent scheduler). The producer hands items to the
//       consumers through a two-slot ring in shared memory (full/empty mbarriers); the consumers
//       release the Q tile after their last S GEMM of an item.
//   kSm90ThreeWG (head dim 64): three consumer warpgroups, BM = 192 (FlashAttention-3's tile at head
//       dim 64), 512 threads, registers 32 / 160; with kSm90PingPong the three take turns in order.
constexpr int kSm90PingPong = 1, kSm90NoProxyFence = 2, kSm90OneFence = 4, kSm90UniformDesc = 8, kSm90TmaKV = 16,
              kSm90TmaTail = 32, kSm90Ragged = 64, kSm90TmaQ = 128, kSm90Persistent = 256, kSm90ThreeWG = 512;

// The work list of a kSm90Persistent launch: items L = 0 .. num_items - 1 are (query tile
// q_tiles - 1 - L % q_tiles, head (L / q_tiles) % heads, slice L / (q_tiles x heads)); CTA c starts
// with item c and then takes grid + atomicAdd(counter, 1). counter is zeroed before each launch.
struct Sm90Sched {
  int* counter;
  int num_items, q_tiles;
};

// TMA tensor maps: k, v over the paged cache (kSm90TmaKV), kr, vr over the step's K/V rows
// (kSm90Ragged), q over the step's query rows (kSm90TmaQ); zeros where unused.
struct Sm90Maps {
  CUtensorMap k, v, kr, vr, q;
};

template <typename T, int D, int BN, int STAGES, int OPT = 0>
__global__ void __launch_bounds__((OPT & kSm90ThreeWG) ? 512 : 384, 1) fused_prefill_sm90_kernel(const FusedPrefillParams p, const __grid_constant__ Sm90Maps maps,
                                                                    const Sm90Sched sched) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __trap();  // built without sm_90a (wgmma, setmaxnreg): the host only picks this kernel on sm_90a builds
#else
  using namespace sm90;
  constexpr int NWG = (OPT & kSm90ThreeWG) ? 3 : 2;  // consumer warpgroups
  using Cfg = PrefillSm90Config<D, BN, STAGES, NWG>;
  constexpr bool PP = (OPT & kSm90PingPong) != 0, FENCE = (OPT & kSm90NoProxyFence) == 0;
  constexpr bool ONE_FENCE = (OPT & kSm90OneFence) != 0, UDESC = (OPT & kSm90UniformDesc) != 0;
  constexpr bool RAGGED = (OPT & kSm90Ragged) != 0, TMA_Q = (OPT & kSm90TmaQ) != 0;
  constexpr bool TMA = (OPT & kSm90TmaKV) != 0, TAIL = TMA && (OPT & kSm90TmaTail) != 0;
  constexpr bool KV_BULK = TMA || RAGGED;  // K/V full barriers complete by TMA bytes (one arrival)
  constexpr bool PERSIST = (OPT & kSm90Persistent) != 0;
  static_assert(!PERSIST || (RAGGED && !TMA && TMA_Q && PP),
                "kSm90Persistent needs kSm90Ragged (alone: no slice has context), kSm90TmaQ and kSm90PingPong");
  constexpr int BM = Cfg::kBM, CH = D / 8;
  static_assert((D == 64 || D == 128) && (BN == 64 || BN == 128) && STAGES >= 2, "config");
  static_assert(NWG == 2 || D == 64, "three consumer warpgroups: head dim 64 only (160 registers)");
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);  // swizzle atoms: 1 KB aligned
  unsigned char* sQ = smem;
  unsigned char* sK = smem + Cfg::kQBytes;
  unsigned char* sV = sK + STAGES * Cfg::kTileBytes;
  uint64_t* full_q = reinterpret_cast<uint64_t*>(smem + Cfg::kBarOffset);
  uint64_t* full_k = full_q + 1;
  uint64_t* full_v = full_k + STAGES;
  uint64_t* empty_k = full_v + STAGES;
  uint64_t* empty_v = empty_k + STAGES;
  uint64_t* empty_q = empty_v + STAGES;   // kSm90Persistent: the consumers are done with the Q tile
  uint64_t* full_item = empty_q + 1;      // kSm90Persistent: the item ring, two slots
  uint64_t* empty_item = full_item + 2;
  volatile int* item_slot = reinterpret_cast<volatile int*>(empty_item + 2);

  // The work item: a query tile of a head of a slice (one a CTA, or several with kSm90Persistent).
  int head = 0, seq = 0, q_begin = 0, q_len = 0, q0 = 0, q_end = 0, ctx = 0, kv_len = 0, n_tiles = 0, kv_head = 0;
  auto set_item = [&](int tile, int h, int sq) {
    head = h, seq = sq;
    q_begin = p.cu_seqlens_q[seq];
    q_len = p.cu_seqlens_q[seq + 1] - q_begin;
    q0 = tile * BM;
    q_end = min(q0 + BM, q_len);
    ctx = p.ctx_lens[seq];
    kv_len = ctx + q_end;  // keys any row of this tile sees
    n_tiles = (kv_len + BN - 1) / BN;
    kv_head = head / (p.num_heads / p.num_kv_heads);
  };
  auto set_item_of = [&](int L) {  // kSm90Persistent's item order (Sm90Sched)
    const int per_head = sched.q_tiles * p.num_heads;
    set_item(sched.q_tiles - 1 - L % sched.q_tiles, (L / sched.q_tiles) % p.num_heads, L / per_head);
  };
  if constexpr (!PERSIST) {
    set_item(gridDim.x - 1 - blockIdx.x, blockIdx.y, blockIdx.z);
    if (q0 >= q_len) return;  // the whole CTA, before any barrier
  }
  const size_t q_stride = (size_t)p.num_heads * D;

  if (threadIdx.x == 0) {
    mbar_init(full_q, TMA_Q ? 1 : 128);  // cp.async: every producer thread arrives once its copies landed
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full_k + s, KV_BULK ? 1 : 128);  // TMA: one arrival (with the byte count) per tile
      mbar_init(full_v + s, KV_BULK ? 1 : 128);
      mbar_init(empty_k + s, 4 * NWG);  // one arrival per consumer warp
      mbar_init(empty_v + s, 4 * NWG);
    }
    if (PERSIST) {
      mbar_init(empty_q, 4 * NWG);
      for (int s = 0; s < 2; ++s) {
        mbar_init(full_item + s, 1);  // the producer's thread 0
        mbar_init(empty_item + s, 4 * NWG);
      }
    }
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    // ---------------- producer ----------------
    setmaxnreg_dec<Cfg::kProducerRegs>();
    constexpr int KB = 128 / CH;    // thread rows per chunk column
    constexpr int RPT = BN / KB;    // consecutive keys per thread per tile
    constexpr int QPT = BM / KB;    // query rows per thread
    constexpr int RPT_LOG2 = RPT == 16 ? 4 : RPT == 8 ? 3 : RPT == 4 ? 2 : 1;
    static_assert((1 << RPT_LOG2) == RPT, "rows per thread");
    const int c = threadIdx.x % CH, kb = threadIdx.x / CH;
    // One box of BN rows per panel: tile j of the item (ctx == 0: key t is row q_begin + t) into
    // pipeline position kb0 + j.
    auto load_ragged_tile = [&](int kb0, int j) {
      const int st = (kb0 + j) % STAGES;
      const unsigned ph = (unsigned)((kb0 + j) / STAGES) & 1u;
      const int y = q_begin + j * BN;
      mbar_wait(empty_k + st, ph ^ 1u);
      mbar_arrive_expect_tx(full_k + st, Cfg::kTileBytes);
#pragma unroll
      for (int panel = 0; panel < D / 64; ++panel)
        tma_load_2d(sK + st * Cfg::kTileBytes + panel * (BN * 128), &maps.kr, kv_head * D + panel * 64, y, full_k + st);
      mbar_wait(empty_v + st, ph ^ 1u);
      mbar_arrive_expect_tx(full_v + st, Cfg::kTileBytes);
#pragma unroll
      for (int panel = 0; panel < D / 64; ++panel)
        tma_load_2d(sV + st * Cfg::kTileBytes + panel * (BN * 128), &maps.vr, kv_head * D + panel * 64, y, full_v + st);
    };
    auto load_q_tma = [&] {
      mbar_arrive_expect_tx(full_q, Cfg::kQBytes);
#pragma unroll
      for (int panel = 0; panel < D / 64; ++panel)
        tma_load_2d(sQ + panel * (BM * 128), &maps.q, head * D + panel * 64, q_begin + q0, full_q);
    };
    if constexpr (PERSIST) {
      if (threadIdx.x != 0) return;
      tma_prefetch_map(&maps.q);
      tma_prefetch_map(&maps.kr);
      tma_prefetch_map(&maps.vr);
      int L = blockIdx.x, kb0 = 0, n = 0;
      unsigned q_ph = 0;
      for (;;) {
        // The next item with rows (tiles past a shorter slice's end have none), or the end (-1).
        for (; L < sched.num_items; L = gridDim.x + atomicAdd(sched.counter, 1)) {
          set_item_of(L);
          if (q0 < q_len) break;
        }
        const bool valid = L < sched.num_items;
        mbar_wait(empty_item + n % 2, (unsigned)((n / 2) & 1) ^ 1u);
        item_slot[n % 2] = valid ? L : -1;
        mbar_arrive(full_item + n % 2);
        ++n;
        if (!valid) break;
        const int L_next = gridDim.x + atomicAdd(sched.counter, 1);  // its latency hides under the loads
        mbar_wait(empty_q, q_ph ^ 1u);  // the consumers' last S GEMM of the previous item is done
        load_q_tma();
        for (int j = 0; j < n_tiles; ++j) load_ragged_tile(kb0, j);
        kb0 += n_tiles;
        q_ph ^= 1u;
        L = L_next;
      }
      return;
    }
    if constexpr (TMA_Q) {
      if (threadIdx.x == 0) {
        tma_prefetch_map(&maps.q);
        load_q_tma();
      }
    } else {
      const T* qg = static_cast<const T*>(p.q);
#pragma unroll
      for (int r = 0; r < QPT; ++r) {
        const int row = kb * QPT + r, i = q0 + row;
        const bool ok = i < q_len;
        mma::cp_async_16(sQ + sw128_offset<BM>(row, c), ok ? qg + (size_t)(q_begin + i) * q_stride + (size_t)head * D + c * 8 : qg, ok);
      }
      mbar_arrive_cp_async(full_q);
    }

    if (RAGGED && (!TMA || ctx == 0)) {
      // One thread issues every copy: per tile and operand, one box of BN rows per panel.
      if (threadIdx.x == 0) {
        tma_prefetch_map(&maps.kr);
        tma_prefetch_map(&maps.vr);
        for (int j = 0; j < n_tiles; ++j) load_ragged_tile(0, j);
      }
      if constexpr (!TMA_Q) asm volatile("cp.async.wait_all;\n" ::: "memory");
      return;
    }

    const int32_t* bt = p.block_tables + (size_t)seq * p.max_blocks_per_seq;
    const size_t kv_stride = (size_t)p.num_kv_heads * D;
    if constexpr (TMA) {
      // One warp goes on; the other three wait for their Q copies and retire.
      if (threadIdx.x >= 32) {
        asm volatile("cp.async.wait_all;\n" ::: "memory");
        return;
      }
      const int lane = threadIdx.x, bs = p.block_size, shift = p.block_shift;
      constexpr int PANELS = D / 64;
      const int boxr = min(bs, BN), nbox = (BN / boxr) * PANELS;  // boxes per tile (<= 32)
      const int pg = lane / PANELS, panel = lane % PANELS;
      const uint32_t box_off = (uint32_t)(panel * (BN * 128) + pg * boxr * 128);
      const int x = kv_head * D + panel * 64;
      const T* kg = static_cast<const T*>(p.k);
      const T* vg = static_cast<const T*>(p.v);
      if (lane == 0) {
        tma_prefetch_map(&maps.k);
        tma_prefetch_map(&maps.v);
      }
      // The last tile: cp.async with zero fill past kv_len; lane l copies chunk l % CH of rows
      // l / CH, + 32 / CH, ... The phase waits for these copies and for lane 0's arrival.
      auto copy_last = [&](unsigned char* dst, const T* cache, int j, uint64_t* bar) {
#pragma unroll 1
        for (int idx = lane; idx < BN * CH; idx += 32) {
          const int row = idx / CH, c = idx % CH, t = j * BN + row;
          const bool ok = t < kv_len;
          int64_t slot = 0;
          if (ok) slot = ((int64_t)__ldg(bt + (t >> shift)) << shift) + (t & (bs - 1));
          mma::cp_async_16(dst + sw128_offset<BN>(row, c), cache + (ok ? slot * (int64_t)kv_stride + (size_t)kv_head * D + c * 8 : 0), ok);
        }
        mbar_track_cp_async(bar);
        __syncwarp();
        if (lane == 0) mbar_arrive(bar);
      };
      if constexpr (TAIL) {
        // Boxes of whole valid pages come by TMA; the rows from the first page that is not whole
        // (keys past kv_len, in the last tile only) by cp.async: its valid rows from one page (one
        // block-table entry), the rest zero-filled. The block-table entries of tile j + 1 are
        // loaded while tile j is issued.
        const int n_pages = BN / boxr;
        auto lookup = [&](int j, int& y, int& yp) {
          const int tk = min(BN, kv_len - j * BN);  // valid keys in tile j
          const int whole = tk / boxr;              // whole valid pages (boxes) in it
          y = yp = 0;
          if (pg < whole && lane < nbox) {
            const int t0 = j * BN + pg * boxr;
            y = (__ldg(bt + (t0 >> shift)) << shift) + (t0 & (bs - 1));
          }
          if (whole * boxr < tk) {
            const int t0 = j * BN + whole * boxr;
            yp = (__ldg(bt + (t0 >> shift)) << shift) + (t0 & (bs - 1));
          }
        };
        auto load = [&](unsigned char* dst, const void* map, const T* cache, int j, int y, int yp, uint64_t* bar) {
          const int tk = min(BN, kv_len - j * BN);
          const int whole = tk / boxr, r0 = whole * boxr;
          if (whole < n_pages) {
            for (int idx = r0 * CH + lane; idx < BN * CH; idx += 32) {
              const int row = idx / CH, c = idx % CH;
              const bool ok = row < tk;
              mma::cp_async_16(dst + sw128_offset<BN>(row, c),
                               cache + (ok ? (int64_t)(yp + row - r0) * (int64_t)kv_stride + (int64_t)kv_head * D + c * 8 : 0), ok);
            }
            mbar_track_cp_async(bar);  // before lane 0's arrival below, so the phase waits for these
            __syncwarp();
          }
          if (lane == 0) mbar_arrive_expect_tx(bar, (uint32_t)(whole * PANELS * boxr * 128));
          __syncwarp();
          if (pg < whole && lane < nbox) tma_load_2d(dst + box_off, map, x, y, bar);
        };
        int y_next = 0, yp_next = 0;
        lookup(0, y_next, yp_next);
        for (int j = 0; j < n_tiles; ++j) {
          const int st = j % STAGES;
          const unsigned ph = (unsigned)(j / STAGES) & 1u;
          const int y = y_next, yp = yp_next;
          if (j + 1 < n_tiles) lookup(j + 1, y_next, yp_next);
          mbar_wait(empty_k + st, ph ^ 1u);
          load(sK + st * Cfg::kTileBytes, &maps.k, kg, j, y, yp, full_k + st);
          mbar_wait(empty_v + st, ph ^ 1u);
          load(sV + st * Cfg::kTileBytes, &maps.v, vg, j, y, yp, full_v + st);
        }
      } else {
        for (int j = 0; j < n_tiles; ++j) {
          const int st = j % STAGES;
          const unsigned ph = (unsigned)(j / STAGES) & 1u;
          const bool last = j == n_tiles - 1;
          int y = 0;  // this lane's page: first slot of its box (every key of a non-last tile is < kv_len)
          if (!last && lane < nbox) {
            const int t0 = j * BN + pg * boxr;
            y = (__ldg(bt + (t0 >> shift)) << shift) + (t0 & (bs - 1));
          }
          mbar_wait(empty_k + st, ph ^ 1u);
          if (last) {
            copy_last(sK + st * Cfg::kTileBytes, kg, j, full_k + st);
          } else {
            if (lane == 0) mbar_arrive_expect_tx(full_k + st, Cfg::kTileBytes);
            __syncwarp();
            if (lane < nbox) tma_load_2d(sK + st * Cfg::kTileBytes + box_off, &maps.k, x, y, full_k + st);
          }
          mbar_wait(empty_v + st, ph ^ 1u);
          if (last) {
            copy_last(sV + st * Cfg::kTileBytes, vg, j, full_v + st);
          } else {
            if (lane == 0) mbar_arrive_expect_tx(full_v + st, Cfg::kTileBytes);
            __syncwarp();
            if (lane < nbox) tma_load_2d(sV + st * Cfg::kTileBytes + box_off, &maps.v, x, y, full_v + st);
          }
        }
      }  // !TAIL (lab v23-v26: the whole last tile by cp.async)
      asm volatile("cp.async.wait_all;\n" ::: "memory");
      return;
    }
    const T* kc = static_cast<const T*>(p.k) + (size_t)kv_head * D + c * 8;
    const T* vc = static_cast<const T*>(p.v) + (size_t)kv_head * D + c * 8;
    const int bs = p.block_size, shift = p.block_shift;
    const bool fast = shift >= RPT_LOG2;  // a power-of-two page holds all RPT keys of a thread
    auto copy_tile = [&](unsigned char* dst, const T* cache, int j) {
      const int t0 = j * BN + kb * RPT;
      int64_t slot0 = 0;
      if (fast && t0 < kv_len) slot0 = ((int64_t)__ldg(bt + (t0 >> shift)) << shift) + (t0 & (bs - 1));
#pragma unroll
      for (int r = 0; r < RPT; ++r) {
        const int t = t0 + r;
        const bool ok = t < kv_len;
        int64_t slot = slot0 + r;
        if (!fast) {
          slot = 0;
          if (ok) {
            const int blk = shift >= 0 ? t >> shift : t / bs;
            slot = (int64_t)__ldg(bt + blk) * bs + (t - blk * bs);
          }
        }
        mma::cp_async_16(dst + sw128_offset<BN>(kb * RPT + r, c), cache + (ok ? slot * (int64_t)kv_stride : 0), ok);
      }
    };
    for (int j = 0; j < n_tiles; ++j) {
      const int s = j % STAGES;
      const unsigned ph = (unsigned)(j / STAGES) & 1u;
      mbar_wait(empty_k + s, ph ^ 1u);  // first round: passes on the fresh barrier
      copy_tile(sK + s * Cfg::kTileBytes, kc, j);
      mbar_arrive_cp_async(full_k + s);
      mbar_wait(empty_v + s, ph ^ 1u);
      copy_tile(sV + s * Cfg::kTileBytes, vc, j);
      mbar_arrive_cp_async(full_v + s);
    }
    mma::cp_async_wait<0>();
  } else {
    // ---------------- consumers ----------------
    setmaxnreg_inc<Cfg::kConsumerRegs>();
    const int cw = (UDESC ? __shfl_sync(0xffffffffu, threadIdx.x / 128, 0) : threadIdx.x / 128) - 1;  // consumer warpgroup 0 / 1
    const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int row_base = cw * 64;                    // its rows of the Q tile
    const int r0 = row_base + warp * 16 + lane / 4;  // this thread's rows r0, r0 + 8
    const float sl2 = p.scale_log2;
    // Per item (set by begin_item): the first of this warpgroup's rows in the slice, whether it has
    // any, the key tiles it walks, the position of row r0.
    int qrow0 = 0, n_my = 0, qpos0 = 0;
    bool live = false, ragged = false;  // ragged: this item's K/V come from the step's rows
    auto begin_item = [&] {
      ragged = RAGGED && (!TMA || ctx == 0);
      qrow0 = q0 + row_base;
      live = qrow0 < q_len;
      const int kv_vis = min(kv_len, ctx + qrow0 + 64);
      n_my = PP ? n_tiles : live ? (kv_vis + BN - 1) / BN : 0;
      qpos0 = ctx + q0 + r0;
    };
    int kb0 = 0;          // pipeline position of the item's first K/V tile (kSm90Persistent: runs on)
    unsigned q_ph = 0;    // phase of full_q for this item
    int n_taken = 0;      // items taken from the ring (kSm90Persistent)

    float o[D / 2], s[BN / 2];
    uint32_t pa[BN / 16][4];
    float m_run[2], l_run[2], alpha[2];

    const uint32_t q_addr = smem_u32(sQ) + row_base * 128;
    const uint32_t k_addr = smem_u32(sK), v_addr = smem_u32(sV);
    auto release = [&](uint64_t* bar) {
      __syncwarp();
      if (lane == 0) mbar_arrive(bar);
    };
    auto stage = [&](int j) { return (kb0 + j) % STAGES; };
    auto phase = [&](int j) { return (unsigned)((kb0 + j) / STAGES) & 1u; };
    // Proxy fence after a full wait: tiles written by cp.async (every tile, or with paged TMA only
    // the last one; none with kSm90Ragged) are read by wgmma through the async proxy.
    auto cp_async_tile = [&](int j) { return !KV_BULK || (TMA && !ragged && j == n_tiles - 1); };
    auto wait_k = [&](int j, bool fence = true) {
      mbar_wait(full_k + stage(j), phase(j));
      if (FENCE && fence && cp_async_tile(j)) fence_proxy_async();
    };
    auto wait_v = [&](int j, bool fence = true) {
      mbar_wait(full_v + stage(j), phase(j));
      if (FENCE && fence && cp_async_tile(j)) fence_proxy_async();
    };
    // kSm90Persistent: the next item from the ring (-1: none left); peek_more() only looks.
    auto take_item = [&] {
      const int slot = n_taken % 2;
      mbar_wait(full_item + slot, (unsigned)((n_taken / 2) & 1));
      const int L = item_slot[slot];
      release(empty_item + slot);
      ++n_taken;
      return L;
    };
    auto peek_more = [&] {
      mbar_wait(full_item + n_taken % 2, (unsigned)((n_taken / 2) & 1));
      return item_slot[n_taken % 2] >= 0;
    };
    // Descriptor bases (UDESC): the address field is bits 0-13 (address >> 4); offsets inside the
    // CTA's shared memory never carry out of it, so adding (offset >> 4) to the 64-bit value is exact.
    const uint64_t dq0 = desc_sw128(q_addr, 16, 1024), dk0 = desc_sw128(k_addr, 16, 1024);
    const uint64_t dv0 = desc_sw128(v_addr, BN * 128, 1024);
    // PP: wait for this warpgroup's turn; hand the turn to the next one (round robin) -- not after
    // the last turn of the last warpgroup in the CTA, the last of all, which nobody waits for (with
    // kSm90Persistent: when no item follows).
    auto turn_begin = [&] {
      if constexpr (PP) named_barrier_sync(1 + cw, 256);
    };
    auto turn_end = [&](bool last) {
      if constexpr (PP) {
        if (!(last && cw == NWG - 1 && !(PERSIST && peek_more()))) named_barrier_arrive(1 + (cw + 1) % NWG, 256);
      }
    };
    // kSm90Persistent: this warpgroup's last S GEMM of the item is done, so the producer may bring
    // the next item's Q.
    auto release_q = [&] {
      if constexpr (PERSIST) release(empty_q);
    };
    auto issue_s = [&](int j) {
      const int st = stage(j);
      fence_regs(s);
      wgmma_fence();
      if constexpr (UDESC) {
        const uint64_t dk = dk0 + (uint64_t)(st * (Cfg::kTileBytes >> 4));
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
          wgmma_ss<BN, T>(s, dq0 + (uint64_t)(((kk / 4) * (BM * 128) + (kk % 4) * 32) >> 4),
                          dk + (uint64_t)(((kk / 4) * (BN * 128) + (kk % 4) * 32) >> 4), kk > 0 ? 1 : 0);
      } else {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
          wgmma_ss<BN, T>(s, desc_sw128(q_addr + (kk / 4) * (BM * 128) + (kk % 4) * 32, 16, 1024),
                          desc_sw128(k_addr + st * Cfg::kTileBytes + (kk / 4) * (BN * 128) + (kk % 4) * 32, 16, 1024),
                          kk > 0 ? 1 : 0);
      }
      wgmma_commit();
      fence_regs(s);
    };
    auto issue_pv = [&](int j) {
      const int st = stage(j);
      fence_regs(o);
      wgmma_fence();
      if constexpr (UDESC) {
        const uint64_t dv = dv0 + (uint64_t)(st * (Cfg::kTileBytes >> 4));
#pragma unroll
        for (int t = 0; t < BN / 16; ++t) wgmma_rs_tb<D, T>(o, pa[t], dv + (uint64_t)((t * 16 * 128) >> 4), 1);
      } else {
#pragma unroll
        for (int t = 0; t < BN / 16; ++t)
          wgmma_rs_tb<D, T>(o, pa[t], desc_sw128(v_addr + st * Cfg::kTileBytes + t * 16 * 128, BN * 128, 1024), 1);
      }
      wgmma_commit();
      fence_regs(o);
    };
    // Mask (causal; keys past kv_len are right of every valid row too), online softmax in the
    // exp2 domain; s becomes P (fp32), alpha the factor for O.
    auto softmax = [&](int j) {
      const int k0 = j * BN;
      if (k0 + BN - 1 > ctx + qrow0) {
#pragma unroll
        for (int n = 0; n < BN / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (k0 + n * 8 + (lane % 4) * 2 + (e & 1) > qpos0 + (e >> 1) * 8) s[n * 4 + e] = -INFINITY;
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < BN / 8; ++n) mx = fmaxf(mx, fmaxf(s[n * 4 + 2 * r], s[n * 4 + 2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_run[r], mx * sl2);
        const float m_use = m_new == -INFINITY ? 0.f : m_new;
        alpha[r] = fast_exp2(m_run[r] - m_use);
        m_run[r] = m_new;
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < BN / 8; ++n) {
          s[n * 4 + 2 * r] = fast_exp2(fmaf(s[n * 4 + 2 * r], sl2, -m_use));
          s[n * 4 + 2 * r + 1] = fast_exp2(fmaf(s[n * 4 + 2 * r + 1], sl2, -m_use));
          sum += s[n * 4 + 2 * r] + s[n * 4 + 2 * r + 1];
        }
        l_run[r] = l_run[r] * alpha[r] + sum;  // per-lane partial; reduced over the quad at the end
      }
    };
    auto to_pa = [&] {
#pragma unroll
      for (int t = 0; t < BN / 16; ++t) {
        pa[t][0] = mma::pack2<T>(s[8 * t + 0], s[8 * t + 1]);
        pa[t][1] = mma::pack2<T>(s[8 * t + 2], s[8 * t + 3]);
        pa[t][2] = mma::pack2<T>(s[8 * t + 4], s[8 * t + 5]);
        pa[t][3] = mma::pack2<T>(s[8 * t + 6], s[8 * t + 7]);
      }
    };

    // One item: the main loop over its key tiles, then O to global memory.
    auto consume_item = [&] {
#pragma unroll
      for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
      for (int r = 0; r < 2; ++r) m_run[r] = -INFINITY, l_run[r] = 0.f, alpha[r] = 1.f;
      mbar_wait(full_q, q_ph);
      if (KV_BULK && !TMA_Q) fence_proxy_async();  // Q came by cp.async; no K wait fences it with TMA
      if (n_my > 0) {
        wait_k(0);
        turn_begin();
        issue_s(0);
        turn_end(false);
        wgmma_wait<0>();
        fence_regs(s);
        release(empty_k + stage(0));
        if (n_my == 1) release_q();
        softmax(0);
        to_pa();
        for (int j = 1; j < n_my; ++j) {
          if (ONE_FENCE) {
            wait_k(j, false);
            wait_v(j - 1);
          } else {
            wait_k(j);
            if (PP) wait_v(j - 1);
          }
          turn_begin();
          issue_s(j);
          if (!PP && !ONE_FENCE) wait_v(j - 1);
          issue_pv(j - 1);
          turn_end(false);
          wgmma_wait<1>();  // S_j done; PV_{j-1} may still run
          fence_regs(s);
          release(empty_k + stage(j));
          if (j == n_my - 1) release_q();
          softmax(j);
          wgmma_wait<0>();
          fence_regs(o);
          release(empty_v + stage(j - 1));
#pragma unroll
          for (int i = 0; i < D / 2; ++i) o[i] *= alpha[(i >> 1) & 1];
          to_pa();
        }
        wait_v(n_my - 1);
        turn_begin();
        issue_pv(n_my - 1);
        turn_end(true);
        wgmma_wait<0>();
        fence_regs(o);
        release(empty_v + stage(n_my - 1));
      } else {
        release_q();
      }
      // Tiles hidden from all of this warpgroup's rows: release them in order (after each is full,
      // so every arrival lands in its own phase).
      for (int j = n_my; j < n_tiles; ++j) {
        mbar_wait(full_k + stage(j), phase(j));
        release(empty_k + stage(j));
        mbar_wait(full_v + stage(j), phase(j));
        release(empty_v + stage(j));
      }

      if (live) {
        T* out = static_cast<T*>(p.out);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float l = l_run[r];
          l += __shfl_xor_sync(0xffffffffu, l, 1);
          l += __shfl_xor_sync(0xffffffffu, l, 2);
          const float inv = l > 0.f ? 1.f / l : 0.f;
          const int i = q0 + r0 + r * 8;
          if (i >= q_len) continue;
          T* orow = out + (size_t)(q_begin + i) * q_stride + (size_t)head * D + (lane % 4) * 2;
#pragma unroll
          for (int n = 0; n < D / 8; ++n)
            *reinterpret_cast<uint32_t*>(orow + n * 8) = mma::pack2<T>(o[n * 4 + 2 * r] * inv, o[n * 4 + 2 * r + 1] * inv);
        }
      }
      kb0 += n_tiles;
      q_ph ^= 1u;
    };

    if (PP && cw == 0) named_barrier_arrive(1, 256);  // warpgroup 0 takes the first turn
    if constexpr (PERSIST) {
      for (int L = take_item(); L >= 0; L = take_item()) {
        set_item_of(L);
        begin_item();
        consume_item();
      }
    } else {
      begin_item();
      consume_item();
    }
  }
#endif
}

// A [num_slots, row_elems] 16-bit cache as a TMA tensor map (kernels/tma_map.h: boxes of 64 columns x box_rows rows,
// 128-byte swizzle, zeros outside the tensor).
inline cudaError_t encode_sm90_kv_map(CUtensorMap* map, const void* base, bool bf16, long long num_slots, int row_elems,
                                      int box_rows) {
  return encode_sw128_map_2d(map, base, bf16, num_slots, row_elems, box_rows);
}

// Whether the TMA variants take this cache: power-of-two pages of >= 8 keys (a box is whole 8-row
// swizzle atoms and a page never splits one), and the slot count the tensor map needs.
inline bool sm90_tma_kv_ok(int block_size, long long num_slots) {
  return block_size >= 8 && (block_size & (block_size - 1)) == 0 && num_slots > 0;
}

// The tensor maps of a cache (kSm90TmaKV variants with this BN): num_slots = cache blocks x
// block_size. Host-only and cheap (two encodes), but callers keep the result per cache.
template <typename T, int D, int BN>
inline cudaError_t make_sm90_kv_maps(const FusedPrefillParams& p, long long num_slots, Sm90Maps* maps) {
  if (!sm90_tma_kv_ok(p.block_size, num_slots)) return cudaErrorInvalidValue;
  constexpr bool bf16 = std::is_same<T, __nv_bfloat16>::value;
  const int box_rows = p.block_size < BN ? p.block_size : BN;
  const cudaError_t e = encode_sm90_kv_map(&maps->k, p.k, bf16, num_slots, p.num_kv_heads * D, box_rows);
  return e != cudaSuccess ? e : encode_sm90_kv_map(&maps->v, p.v, bf16, num_slots, p.num_kv_heads * D, box_rows);
}

// The step's own K/V rows ([num_tokens, kv_heads x D], contiguous) as the maps of kSm90Ragged:
// boxes of BN rows. num_tokens must be the step's prefill token count (rows past it read as zeros).
template <typename T, int D, int BN>
inline cudaError_t make_sm90_ragged_maps(const void* k_rows, const void* v_rows, long long num_tokens, int num_kv_heads,
                                         Sm90Maps* maps) {
  if (num_tokens <= 0) return cudaErrorInvalidValue;
  constexpr bool bf16 = std::is_same<T, __nv_bfloat16>::value;
  const cudaError_t e = encode_sw128_map_2d(&maps->kr, k_rows, bf16, num_tokens, (long long)num_kv_heads * D, BN);
  return e != cudaSuccess ? e : encode_sw128_map_2d(&maps->vr, v_rows, bf16, num_tokens, (long long)num_kv_heads * D, BN);
}

// The step's query rows ([num_tokens, heads x D]) as the map of kSm90TmaQ: boxes of BM rows (the
// kernel's kBM: 192 with kSm90ThreeWG).
template <typename T, int D, int BM = 128>
inline cudaError_t make_sm90_q_map(const void* q, long long num_tokens, int num_heads, Sm90Maps* maps) {
  if (num_tokens <= 0) return cudaErrorInvalidValue;
  constexpr bool bf16 = std::is_same<T, __nv_bfloat16>::value;
  return encode_sw128_map_2d(&maps->q, q, bf16, num_tokens, (long long)num_heads * D, BM);
}

// maps: for the TMA variants (kSm90TmaKV: make_sm90_kv_maps<T, D, BN>; kSm90Ragged:
// make_sm90_ragged_maps<T, D, BN>; kSm90TmaQ: make_sm90_q_map<T, D> as well); ignored by the others.
// item_counter: kSm90Persistent's work counter, one device int the caller owns (zeroed here, on the
// stream, before the launch; so one launch at a time per counter); ignored by the others.
template <typename T, int D, int BN = 128, int STAGES = 2, int OPT = 0>
inline cudaError_t launch_fused_prefill_sm90(FusedPrefillParams p, int num_seqs, int max_q_len, cudaStream_t stream,
                                             const Sm90Maps* maps = nullptr, int* item_counter = nullptr) {
  using Cfg = PrefillSm90Config<D, BN, STAGES, (OPT & kSm90ThreeWG) ? 3 : 2>;
  constexpr bool uses_maps = (OPT & (kSm90TmaKV | kSm90Ragged | kSm90TmaQ)) != 0;
  constexpr bool persist = (OPT & kSm90Persistent) != 0;
  if (num_seqs == 0 || max_q_len == 0) return cudaSuccess;
  if (uses_maps && maps == nullptr) return cudaErrorInvalidValue;
  if (persist && item_counter == nullptr) return cudaErrorInvalidValue;
  p.block_shift = (p.block_size & (p.block_size - 1)) == 0 ? __builtin_ctz(p.block_size) : -1;
  static bool attr_set = false;  // per instantiation, before its first launch
  static int num_sms = 0;        // kSm90Persistent's grid
  if (!attr_set) {
    cudaError_t e = cudaFuncSetAttribute(fused_prefill_sm90_kernel<T, D, BN, STAGES, OPT>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    if constexpr (persist) {
      int dev = 0;
      if (e == cudaSuccess) e = cudaGetDevice(&dev);
      if (e == cudaSuccess) e = cudaDeviceGetAttribute(&num_sms, cudaDevAttrMultiProcessorCount, dev);
    }
    if (e != cudaSuccess) return e;
    attr_set = true;
  }
  static const Sm90Maps no_maps{};
  const int q_tiles = (max_q_len + Cfg::kBM - 1) / Cfg::kBM;
  Sm90Sched sched{};
  dim3 grid((unsigned)q_tiles, p.num_heads, num_seqs);
  if constexpr (persist) {
    sched.counter = item_counter;
    sched.q_tiles = q_tiles;
    sched.num_items = q_tiles * p.num_heads * num_seqs;
    grid = dim3((unsigned)std::min(sched.num_items, num_sms));  // one CTA an SM (160+ KB of smem, 384 x 168 registers)
    const cudaError_t e = cudaMemsetAsync(item_counter, 0, sizeof(int), stream);
    if (e != cudaSuccess) return e;
  }
  fused_prefill_sm90_kernel<T, D, BN, STAGES, OPT>
      <<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p, uses_maps ? *maps : no_maps, sched);
  return cudaGetLastError();
}

// The configurations the fused backend uses (docs/perf-notes.md, sessions 5 to 7), the fastest
// measured on the H200 of those that passed every lab check and cuda_attn_test.
// With TMA-able pages (sm90_tma_kv_ok; maps from make_sm90_kv_maps<T, D, kSm90BestBN> and
// make_sm90_q_map<T, D>): lab v33 -- K/V by TMA including the last tile's whole pages (kSm90TmaTail),
// Q by TMA, warpgroup ping-pong, uniform descriptors, BN 128, 2 stages: 475 / 507-539 / 404-408 / 426-430
// TFLOPS on 8x4096 / 1x16384 / llama 8x2048 / chunk rows (session 7 runs 1-2). With `rows` (the
// step's own K/V rows in maps->kr / vr, make_sm90_ragged_maps<T, D, kSm90BestBN>): lab v35, the same
// kernel reading those rows for the slices without context -- for steps that mix slices with and
// without context (v32 below is 7-11 % faster where no slice has context: session 7 run 3's sweep,
// v35 524 / 599 / 497 vs v32 585 / 672 / 507 TFLOPS on 8x4096 / 16k / llama; the cause is not known).
// Other pages (maps == nullptr): lab v18 (cp.async gather, one fence, uniform descriptors, BN 64,
// 4 stages; 1.02-1.12x FA2 at head dim 128).
constexpr int kSm90BestBN = 128;
template <typename T, int D>
inline cudaError_t launch_fused_prefill_sm90_best(const FusedPrefillParams& p, int num_seqs, int max_q_len,
                                                  cudaStream_t stream, const Sm90Maps* maps, bool rows) {
  constexpr int kOpt = kSm90TmaKV | kSm90TmaTail | kSm90TmaQ | kSm90PingPong | kSm90UniformDesc;
  if (maps != nullptr && rows)
    return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt | kSm90Ragged>(p, num_seqs, max_q_len, stream, maps);
  if (maps != nullptr) return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt>(p, num_seqs, max_q_len, stream, maps);
  return launch_fused_prefill_sm90<T, D, 64, 4, kSm90OneFence | kSm90UniformDesc>(p, num_seqs, max_q_len, stream);
}

// Steps where no slice has context (any page size): lab v32 -- K/V from the step's own rows
// (kSm90Ragged alone), Q by TMA, ping-pong, BN 128, 2 stages: 581-588 / 603-675 / 503-507 TFLOPS on
// 8x4096 / 1x16384 / llama 8x2048, 334-340 on 16x2048x12x64 (session 7 runs 1-3). item_counter
// non-null: lab v34, the same persistent (kSm90Persistent). three_wg (head dim 64 only): three
// consumer warpgroups, BM 192 (kSm90ThreeWG; lab v38 persistent / v39): session 8 run 6, ncu at
// locked clocks, 16x2048x12x64 358 us vs v34's 382, varlen16 195 vs 210, but 128x256 158 vs 110 (a
// 256-token prompt fills a 192-row tile and a third of another). Maps from make_sm90_ragged_maps<T,
// D, kSm90BestBN> and make_sm90_q_map<T, D, BM> (BM 192 with three_wg, else 128).
template <typename T, int D>
inline cudaError_t launch_fused_prefill_sm90_rows(const FusedPrefillParams& p, int num_seqs, int max_q_len,
                                                  cudaStream_t stream, const Sm90Maps& maps, int* item_counter,
                                                  bool three_wg = false) {
  constexpr int kOpt = kSm90Ragged | kSm90TmaQ | kSm90PingPong | kSm90UniformDesc;
  if (three_wg) {
    if constexpr (D == 64) {
      if (item_counter != nullptr)
        return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt | kSm90ThreeWG | kSm90Persistent>(
            p, num_seqs, max_q_len, stream, &maps, item_counter);
      return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt | kSm90ThreeWG>(p, num_seqs, max_q_len, stream, &maps);
    }
    return cudaErrorInvalidValue;  // three consumer warpgroups: head dim 64 only
  }
  if (item_counter != nullptr)
    return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt | kSm90Persistent>(p, num_seqs, max_q_len, stream, &maps,
                                                                                  item_counter);
  return launch_fused_prefill_sm90<T, D, kSm90BestBN, 2, kOpt>(p, num_seqs, max_q_len, stream, &maps);
}

}  // namespace attnbench
