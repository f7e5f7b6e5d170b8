// defines: gemm_decode_sm90_kernel, launch_gemm_decode_sm90, encode_gemm_decode_map, DecodeGemmCfg,
//          gemm_decode_sm90_forward, gemm_decode_sm90_supported
// Decode-sized GEMM for Hopper (sm_90a): y[M, N] = x[M, K] . w[N, K]^T for M <= 256 rows, fp16/bf16
// operands, fp32 accumulation, output 16-bit (the input type) or fp32. Memory-bound on the weight
// stream, so the kernel is a weight stream through wgmma (lab: native/dev/gemm_decode_sm90.cu;
// measurements: docs/perf-notes.md, session 6).
//
// A and B swapped: a CTA owns BM = 64 x CW x R output features (weight rows) and wgmma computes
// D[n, m] = W[n, :] . x[m, :] with the weight tile as wgmma's M operand (R blocks of 64 rows per
// consumer warpgroup) and the tokens as its N (NT = M rounded up to 16, 32, 64, 128 or 256); both operands
// K-major in shared memory with the 128-byte swizzle, loaded by TMA (weights: box 64 k x BM rows;
// activations: box 64 k x NT rows, rows past M zero-filled by the tensor map), BK = 64.
//
//   block = (CW + 1) warpgroups: warpgroup 0 is the producer (one thread issues the TMA loads into a
//           STAGES-deep ring of full/empty mbarriers); warpgroups 1..CW consume (wgmma m64nNTk16,
//           one commit group per k-block in flight, a stage released when its group is done).
//   grid  = ceil(N / BM) tiles x S splits of K. S > 1 runs as a thread-block cluster of S CTAs (one
//           tile): each CTA leaves its fp32 partial tile in its own shared memory and, after a
//           cluster barrier, CTA r sums the token rows m = r, r + S, ... of all S partials through
//           distributed shared memory in rank order (deterministic, no workspace, no atomics) and
//           writes them. S = 1 is the same path with a cluster of one.
//   epilogue: the accumulators go to shared memory transposed ([token][feature], padded rows), and
//           rows of y are written with 16-byte (fp32) / 8-byte (16-bit) coalesced stores.
// Options (OPT bits): kDecodeGemmPdl -- launched with programmatic dependent launch: the producer
// issues the weight loads of the first STAGES k-blocks before griddepcontrol.wait (weights are
// never written by the kernel before), the activation loads after it; kDecodeGemmEvictFirst -- the
// weight loads carry an L2 evict-first policy (each weight byte is read once per step);
// kDecodeGemmPersistent (S = 1 only) -- grid = min(tiles, grid limit), each CTA walks tiles
// blockIdx.x, + gridDim.x, ... with one ring across them (the producer runs into the next tile while
// the consumers store the last), and the consumers store straight from the accumulators (16-byte
// pieces per 8 features; no shared-memory staging, no cluster barrier).
#pragma once
#include <cuda.h>  // CUtensorMap and its enums (types only: the encoder comes through the runtime)
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "core/types.h"
#include "kernels/sm90_wgmma.cuh"
#include "kernels/tma_map.h"

namespace attnbench {

constexpr int kDecodeGemmPdl = 1, kDecodeGemmEvictFirst = 2, kDecodeGemmPersistent = 4;
constexpr int kDecodeGemmMaxRows = 256;

template <int NT, int CW, int R = 1>
struct DecodeGemmCfg {
  static constexpr int kBM = 64 * CW * R;                  // weight rows (output features) per CTA
  static constexpr int kBK = 64;                           // one 128-byte swizzle panel of k
  static constexpr int kThreads = 128 * (CW + 1);
  static constexpr uint32_t kWBytes = kBM * 128;           // one stage's weight tile
  static constexpr uint32_t kXBytes = NT * 128;            // one stage's activation tile
  static constexpr uint32_t kStageBytes = kWBytes + kXBytes;
  static constexpr int kSmemLimit = 232448;                // sm_90 opt-in maximum per block
  static constexpr int kFit = (kSmemLimit - 1024 - 256) / (int)kStageBytes;
  static constexpr int kStages = kFit > 12 ? 12 : kFit;
  static constexpr int kRedStride = kBM + 4;               // floats per token row of the fp32 staging tile
  static constexpr uint32_t kRingBytes = kStages * kStageBytes;
  static constexpr uint32_t kBarOffset = kRingBytes;
  static constexpr size_t kSmemBytes = kBarOffset + 2 * kStages * 8 + 1024;  // + barriers + alignment slack
  static_assert(kStages >= 3, "stages");
  static_assert((size_t)NT * kRedStride * 4 <= kRingBytes, "the staging tile reuses the ring");
  static_assert(NT == 16 || NT == 32 || NT == 64 || NT == 128 || NT == 256, "wgmma N");
  static_assert(CW >= 1 && CW <= 3 && R >= 1 && R <= 2, "consumer warpgroups, m64 blocks per warpgroup");
};

template <typename TO>
__device__ __forceinline__ void decode_gemm_store4(TO* dst, float4 v) {
  if constexpr (std::is_same<TO, float>::value) {
    *reinterpret_cast<float4*>(dst) = v;
  } else if constexpr (std::is_same<TO, __half>::value) {
    __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
    uint2 u;
    u.x = *reinterpret_cast<uint32_t*>(&a);
    u.y = *reinterpret_cast<uint32_t*>(&b);
    *reinterpret_cast<uint2*>(dst) = u;
  } else {
    __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), b = __floats2bfloat162_rn(v.z, v.w);
    uint2 u;
    u.x = *reinterpret_cast<uint32_t*>(&a);
    u.y = *reinterpret_cast<uint32_t*>(&b);
    *reinterpret_cast<uint2*>(dst) = u;
  }
}

// wmap: w as [N rows, K] (box 64 x BM); xmap: x as [M rows, K] (box 64 x NT). y: [M, ldy] of TO.
template <typename T, typename TO, int NT, int CW, int OPT = 0, int R = 1>
__global__ void __launch_bounds__(128 * (CW + 1), 1)
    gemm_decode_sm90_kernel(const __grid_constant__ CUtensorMap wmap, const __grid_constant__ CUtensorMap xmap,
                            TO* __restrict__ y, int ldy, int M, int N, int K) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __trap();  // built without sm_90a (wgmma): the host only picks this kernel on sm_90a builds
#else
  using namespace sm90;
  using Cfg = DecodeGemmCfg<NT, CW, R>;
  constexpr int BM = Cfg::kBM, STAGES = Cfg::kStages, RS = Cfg::kRedStride;
  constexpr bool PDL = (OPT & kDecodeGemmPdl) != 0, EVICT = (OPT & kDecodeGemmEvictFirst) != 0;
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);  // swizzle atoms: 1 KB aligned
  unsigned char* sW = smem;                                   // STAGES x [BM rows x 128 B]
  unsigned char* sX = smem + STAGES * Cfg::kWBytes;           // STAGES x [NT rows x 128 B]
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + Cfg::kBarOffset);
  uint64_t* empty = full + STAGES;
  float* red = reinterpret_cast<float*>(smem);                // after the main loop: [NT][RS] fp32

  constexpr bool PERSIST = (OPT & kDecodeGemmPersistent) != 0;
  const int S = PERSIST ? 1 : (int)cluster_nctarank();
  const int rank = PERSIST ? 0 : (int)cluster_ctarank();
  const int tiles = (N + BM - 1) / BM;
  const int tile0 = PERSIST ? (int)blockIdx.x : (int)blockIdx.x / S;
  const int tstep = PERSIST ? (int)gridDim.x : tiles;  // one tile per CTA unless persistent
  const int nkb = (K + Cfg::kBK - 1) / Cfg::kBK;
  const int kb0 = (int)((long long)rank * nkb / S), kb1 = (int)((long long)(rank + 1) * nkb / S);
  const int nk = kb1 - kb0;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full + s, 1);        // the producer's arrival with the byte count
      mbar_init(empty + s, CW * 4);  // one arrival per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (wg == 0) {
    // ---------------- producer (one thread) ----------------
    if (threadIdx.x == 0) {
      tma_prefetch_map(&wmap);
      tma_prefetch_map(&xmap);
      uint64_t policy = 0;
      if constexpr (EVICT) policy = l2_evict_first();
      // Load g (a count over this CTA's k-blocks of all its tiles) goes to stage g % STAGES.
      auto load_w = [&](int g, int i, int n0) {
        const int s = g % STAGES;
        if constexpr (EVICT)
          tma_load_2d_hint(sW + s * Cfg::kWBytes, &wmap, (kb0 + i) * Cfg::kBK, n0, full + s, policy);
        else
          tma_load_2d(sW + s * Cfg::kWBytes, &wmap, (kb0 + i) * Cfg::kBK, n0, full + s);
      };
      auto load_x = [&](int g, int i) {
        const int s = g % STAGES;
        tma_load_2d(sX + s * Cfg::kXBytes, &xmap, (kb0 + i) * Cfg::kBK, 0, full + s);
      };
      int pre = 0;
      if constexpr (PDL) {
        // Weights first (nothing before this kernel writes them), then wait for the kernel that
        // writes x.
        pre = nk < STAGES ? nk : STAGES;
        if (tile0 < tiles) {
          for (int j = 0; j < pre; ++j) {
            mbar_arrive_expect_tx(full + j, Cfg::kStageBytes);
            load_w(j, j, tile0 * BM);
          }
        }
        asm volatile("griddepcontrol.wait;\n" ::: "memory");
        if (tile0 < tiles)
          for (int j = 0; j < pre; ++j) load_x(j, j);
      }
      int g = 0;
      for (int tile = tile0; tile < tiles; tile += tstep) {
        for (int i = 0; i < nk; ++i, ++g) {
          if (tile == tile0 && i < pre) continue;
          const int s = g % STAGES;
          mbar_wait(empty + s, ((unsigned)(g / STAGES) & 1u) ^ 1u);  // first round passes on the fresh barrier
          mbar_arrive_expect_tx(full + s, Cfg::kStageBytes);
          load_w(g, i, tile * BM);
          load_x(g, i);
        }
      }
    }
  } else {
    // ---------------- consumers ----------------
    const int cw = __shfl_sync(0xffffffffu, wg, 0) - 1;  // consumer warpgroup 0 .. CW-1 (warp-uniform)
    const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    if constexpr (PDL) asm volatile("griddepcontrol.wait;\n" ::: "memory");  // before writing y
    float acc[R][NT / 2];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int j = 0; j < NT / 2; ++j) acc[r][j] = 0.f;
    // Descriptor bases: the address field is bits 0-13 (address >> 4); offsets stay inside the
    // CTA's shared window, so adding (offset >> 4) to the 64-bit value is exact.
    const uint64_t da0 = desc_sw128(smem_u32(sW) + cw * R * 64 * 128, 16, 1024);
    const uint64_t db0 = desc_sw128(smem_u32(sX), 16, 1024);
    const int r0 = cw * R * 64 + warp * 16 + lane / 4, c0 = 2 * (lane % 4);  // feature row (block 0), token column
    int g = 0;
    for (int tile = tile0; tile < tiles; tile += tstep) {
    for (int i = 0; i < nk; ++i, ++g) {
      const int s = g % STAGES;
      mbar_wait(full + s, (unsigned)(g / STAGES) & 1u);
      const uint64_t da = da0 + (uint64_t)((s * Cfg::kWBytes) >> 4), db = db0 + (uint64_t)((s * Cfg::kXBytes) >> 4);
#pragma unroll
      for (int r = 0; r < R; ++r) fence_regs(acc[r]);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < Cfg::kBK / 16; ++kk)
#pragma unroll
        for (int r = 0; r < R; ++r)
          wgmma_ss<NT, T>(acc[r], da + (uint64_t)(r * 512 + kk * 2), db + (uint64_t)(kk * 2), (i > 0 || kk > 0) ? 1 : 0);
      wgmma_commit();
      wgmma_wait<1>();  // the group of k-block i - 1 is done: its stage can be refilled
#pragma unroll
      for (int r = 0; r < R; ++r) fence_regs(acc[r]);
      if (i > 0) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty + (g - 1) % STAGES);
      }
    }
    wgmma_wait<0>();
#pragma unroll
    for (int r = 0; r < R; ++r) fence_regs(acc[r]);
    __syncwarp();
    if (lane == 0) mbar_arrive(empty + (g - 1) % STAGES);
    if constexpr (PERSIST) {
      // acc[4q + e]: feature row r0 + 8 (e >> 1), token 8q + c0 + (e & 1).
      const int n0 = tile * BM;
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
      for (int q = 0; q < NT / 8; ++q) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int c = 8 * q + c0 + (e & 1), n = n0 + r0 + r * 64 + 8 * (e >> 1);
          if (c < M && n < N) {
            if constexpr (std::is_same<TO, float>::value) y[(size_t)c * ldy + n] = acc[r][4 * q + e];
            else if constexpr (std::is_same<TO, __half>::value) y[(size_t)c * ldy + n] = __float2half_rn(acc[r][4 * q + e]);
            else y[(size_t)c * ldy + n] = __float2bfloat16_rn(acc[r][4 * q + e]);
          }
        }
      }
    }
    }  // tiles
    if constexpr (!PERSIST) {
    // Every consumer is past its last wgmma (and every TMA write landed: all full barriers were
    // waited), so the ring can hold the fp32 staging tile.
    named_barrier_sync(1, CW * 128);
    // acc[4q + e]: feature row r0 + 8 (e >> 1), token 8q + c0 + (e & 1).
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
    for (int q = 0; q < NT / 8; ++q) {
#pragma unroll
      for (int e = 0; e < 4; ++e) red[(8 * q + c0 + (e & 1)) * RS + r0 + r * 64 + 8 * (e >> 1)] = acc[r][4 * q + e];
    }
    }  // !PERSIST
  }
  if constexpr (PDL) asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  if constexpr (PERSIST) return;
  const int n0 = tile0 * BM;
  cluster_sync();  // every CTA's partial tile is in its shared memory
  if (wg > 0) {
    // CTA `rank` writes token rows rank, rank + S, ...: the sum of the S partials in rank order.
    const int t = threadIdx.x - 128;
    const int rows = M < NT ? M : NT;
    const int my_rows = rows > rank ? (rows - rank + S - 1) / S : 0;
    constexpr int PER_ROW = BM / 4;  // float4s per token row
    const uint32_t red_addr = smem_u32(red);
    for (int idx = t; idx < my_rows * PER_ROW; idx += CW * 128) {
      const int c = rank + (idx / PER_ROW) * S, j = (idx % PER_ROW) * 4;
      const uint32_t off = (uint32_t)((c * RS + j) * 4);
      float4 v;
      if (S == 1) {
        v = *reinterpret_cast<const float4*>(red + c * RS + j);
      } else {
        v = ld_cluster_f4(cluster_map(red_addr + off, 0));
        for (int q = 1; q < S; ++q) {
          const float4 u = ld_cluster_f4(cluster_map(red_addr + off, (uint32_t)q));
          v.x += u.x, v.y += u.y, v.z += u.z, v.w += u.w;
        }
      }
      const int n = n0 + j;
      if (n < N) decode_gemm_store4<TO>(y + (size_t)c * ldy + n, v);
    }
  }
  if (S > 1) cluster_sync();  // no CTA leaves while another still reads its shared memory
#endif
}

// A weight or activation matrix [rows, cols] as a TMA tensor map (kernels/tma_map.h: boxes of 64 columns x box_rows rows,
// 128-byte swizzle, zeros outside). cols % 8 == 0, base 16-byte
// aligned.
inline cudaError_t encode_gemm_decode_map(CUtensorMap* map, const void* base, bool bf16, long long rows, long long cols,
                                          int box_rows) {
  return encode_sw128_map_2d(map, base, bf16, rows, cols, box_rows);
}

// One launch: `splits` CTAs per tile of BM = 64 CW weight rows, as a cluster when splits > 1.
// wmap from encode_gemm_decode_map(w, N, K, box_rows = 64 CW), xmap from (x, M, K, box_rows = NT).
// Host work only (no allocation, no sync): safe inside graph capture.
// pdl: launch with programmatic stream serialization (only meaningful for OPT & kDecodeGemmPdl
// kernels, whose griddepcontrol.wait is a no-op in a launch without it). max_ctas: the persistent
// grid (the SM count). set_smem_attr false: the caller raised the kernel's shared-memory limit
// already (kernels/gemm_decode_sm90.cu does it for all its kernels up front).
template <typename T, typename TO, int NT, int CW, int OPT = 0, int R = 1>
inline cudaError_t launch_gemm_decode_sm90(const CUtensorMap& wmap, const CUtensorMap& xmap, TO* y, int ldy, int M,
                                           int N, int K, int splits, cudaStream_t stream,
                                           bool pdl = (OPT & kDecodeGemmPdl) != 0, int max_ctas = 132,
                                           bool set_smem_attr = true) {
  using Cfg = DecodeGemmCfg<NT, CW, R>;
  auto kernel = gemm_decode_sm90_kernel<T, TO, NT, CW, OPT, R>;
  static bool attr_set = false;  // per instantiation, before its first launch
  if (set_smem_attr && !attr_set) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)Cfg::kSmemBytes);
    if (e != cudaSuccess) return e;
    attr_set = true;
  }
  if (M < 1 || M > NT || splits < 1 || splits > 8) return cudaErrorInvalidValue;
  const int tiles = (N + Cfg::kBM - 1) / Cfg::kBM;
  if ((OPT & kDecodeGemmPersistent) != 0 && (splits != 1 || max_ctas < 1)) return cudaErrorInvalidValue;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3((unsigned)((OPT & kDecodeGemmPersistent) != 0 ? (tiles < max_ctas ? tiles : max_ctas) : tiles * splits));
  cfg.blockDim = dim3(Cfg::kThreads);
  cfg.dynamicSmemBytes = Cfg::kSmemBytes;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  int n = 0;
  if (splits > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = (unsigned)splits;
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  if (pdl) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  return cudaLaunchKernelEx(&cfg, kernel, wmap, xmap, y, ldy, M, N, K);
}

}  // namespace attnbench

namespace attnbench {

// ---- engine entry (kernels/gemm_decode_sm90.cu) ----

// Whether the decode GEMM can run here: an sm_90 device and a build with sm_90a device code.
bool gemm_decode_sm90_available();

// Whether the kernel takes this GEMM: M in [1, 256], fp16/bf16 in, out the input type or fp32,
// K % 8 == 0, N % 4 == 0, ldy % 4 == 0, x and w 16-byte aligned, y 16-byte aligned.
bool gemm_decode_sm90_supported(const void* y, int ldy, const void* x, const void* w, int M, int N, int K, DType in,
                                DType out);

// y[M, ldy] = x[M, K] . w[N, K]^T, no bias. Tensor maps are cached per (pointer, shape); no
// allocation or sync: safe inside graph capture. pdl: launch with programmatic dependent launch
// (the weight loads of the first stages start before the previous kernel ends).
void gemm_decode_sm90_forward(void* y, int ldy, const void* x, const void* w, int M, int N, int K, DType in, DType out,
                              bool pdl, cudaStream_t stream);

}  // namespace attnbench
