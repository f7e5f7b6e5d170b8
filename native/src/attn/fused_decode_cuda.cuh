// Fused paged decode, split-KV (flash-decoding): one query token per sequence over its paged cache.
//
//   kernel 1  grid = (num_splits, num_seqs, num_heads / G) or, heads_inner, (num_heads / G, num_splits,
//             num_seqs)   block = 128 threads
//             A CTA serves G query heads that share one KV head (GQA) over one split of the keys.
//             Lanes form groups of D/8; a group holds one key row (16 bytes per lane) and keeps its
//             own online-softmax state; U keys per group are loaded before the first is used
//             (2U 16-byte loads in flight per lane). At the end the CTA's groups are merged in
//             shared memory. One split: the result goes straight to `out`; several: a partial
//             output (normalised) and its log2-sum-exp go to the workspace.
//   kernel 2  grid = (num_seqs, num_heads)  merges the splits of sequences that have more than one.
//
// Reading QKV rows (p.k_new set): q comes straight from the QKV GEMM's output rows (row stride
// q_row_stride), the sequence's newest key (position len - 1) is read from those rows instead of the
// cache, and the CTA of the last split writes it into the cache slot. This replaces the split/append
// kernel for decode rows (one launch a layer fewer). No CTA reads that slot during the kernel, so
// the write does not race; the next layer and step read it from the cache.
//
// The split count is chosen on the host (plan) and passed by value; each sequence uses
// min(num_splits, ceil(len / kMinChunk)) splits, computed the same way by both kernels from the
// device seq_lens, so the grid is fixed for a given batch and the pair can be captured in a graph.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

#include "kernels/mma.cuh"
#include "core/pdl.cuh"

namespace attnbench {

struct FusedDecodeParams {
  const void* q;      // [num_seqs, num_heads, D] (rows q_row_stride elements apart)
  const void* k;      // paged cache [num_blocks, block_size, num_kv_heads, D]
  const void* v;
  // QKV rows (optional): the newest key/value of each sequence, [num_seqs, num_kv_heads, D] with rows
  // q_row_stride elements apart; written to the cache slot slot_mapping[seq] (skipped when < 0).
  const void* k_new = nullptr;
  const void* v_new = nullptr;
  const int32_t* slot_mapping = nullptr;
  void* k_cache_out = nullptr;  // == k, writable (the append target)
  void* v_cache_out = nullptr;
  int q_row_stride = 0;         // 0: num_heads * D (a packed q)
  // With QKV rows, the q/k transform of Llama-family models, applied by the tensor-core kernel as it
  // reads q and appends k (fused_decode_tc_cuda.cuh): an optional per-head RMSNorm (q_norm_w and
  // k_norm_w, Qwen3; both or neither), then the rotary embedding at positions[seq] (rotate_half
  // form, angle = position x inv_freq[i] in fp32, as kernels/rope_append.cu). Null rope_inv_freq:
  // the rows are used as they are.
  const float* rope_inv_freq = nullptr;  // [D / 2]
  const int32_t* positions = nullptr;    // [num_seqs]
  const float* q_norm_w = nullptr;       // [D]
  const float* k_norm_w = nullptr;
  float norm_eps = 0.f;
  void* out;          // [num_seqs, num_heads, D]
  const int32_t* seq_lens;      // [num_seqs] keys per sequence (already offset to the decode slices)
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq] (offset likewise)
  int max_blocks_per_seq;
  int block_size;
  int num_heads;
  int num_kv_heads;
  float scale_log2;
  int num_splits;     // upper bound of splits per sequence (grid.x)
  int min_chunk;      // keys per split at least (decode_min_chunk)
  int heads_inner;    // grid (head groups, splits, seqs) instead of (splits, seqs, head groups)
  float* partial_o;   // [num_seqs, num_heads, num_splits, D]
  float* partial_lse; // [num_seqs, num_heads, num_splits]
  int num_items = 0;  // persistent tensor-core kernel: (sequence, head group, split) work items in all
};

// One (sequence, head, split)'s merged result for element d: with one split the output itself, else
// the split's normalised partial output and its log2-sum-exp (M_use + log2 L) for the merge kernel.
// Shared by the CUDA-core and tensor-core decode kernels.
template <class T, int D>
__device__ __forceinline__ void store_decode_result(const FusedDecodeParams& p, int seq, int head, int split, int n_splits,
                                                    int d, float O, float L, float M_use) {
  const float inv = L > 0.f ? 1.f / L : 0.f;
  if (n_splits == 1) {
    static_cast<T*>(p.out)[((size_t)seq * p.num_heads + head) * D + d] = mma::from_float<T>(O * inv);
  } else {
    const size_t row = ((size_t)seq * p.num_heads + head) * p.num_splits + split;
    p.partial_o[row * D + d] = O * inv;
    if (d == 0) p.partial_lse[row] = L > 0.f ? M_use + log2f(L) : -INFINITY;
  }
}

constexpr int kDecodeThreads = 128;
constexpr int kDecodeMaxSplits = 64;

__device__ __forceinline__ int decode_splits_for(int len, int num_splits, int min_chunk) {
  const int by_len = (len + min_chunk - 1) / min_chunk;
  return max(1, min(num_splits, by_len));
}

template <typename T, int D, int G, int U>
__device__ __forceinline__ void fused_decode_body(const FusedDecodeParams& p) {
  constexpr int TPG = D / 8;               // lanes per key row
  constexpr int GPW = 32 / TPG;            // groups per warp
  constexpr int NG = GPW * (kDecodeThreads / 32);
  // heads_inner: the CTAs of one sequence's heads are launched next to each other, so they read the
  // neighbouring 128-byte rows of the same KV blocks (layout [block, token, head, D]) at about the
  // same time instead of 128 sequences apart.
  pdl_wait();  // launched with launch_pdl (core/pdl.cuh)
  pdl_launch_dependents();
  const int split = p.heads_inner ? blockIdx.y : blockIdx.x;
  const int seq = p.heads_inner ? blockIdx.z : blockIdx.y;
  const int head0 = (p.heads_inner ? blockIdx.x : blockIdx.z) * G;
  const int len = p.seq_lens[seq];
  const int n_splits = decode_splits_for(len, p.num_splits, p.min_chunk);
  if (split >= n_splits) return;
  const int chunk = (len + n_splits - 1) / n_splits;
  const int t_begin = split * chunk, t_end = min(len, t_begin + chunk);
  const int kv_head = head0 / (p.num_heads / p.num_kv_heads);
  const size_t row_stride = p.q_row_stride > 0 ? (size_t)p.q_row_stride : (size_t)p.num_heads * D;
  // The newest key comes from the QKV rows; -1: every key from the cache.
  const int t_new = p.k_new ? len - 1 : -1;
  const T* knew = p.k_new ? static_cast<const T*>(p.k_new) + seq * row_stride + (size_t)kv_head * D : nullptr;
  const T* vnew = p.k_new ? static_cast<const T*>(p.v_new) + seq * row_stride + (size_t)kv_head * D : nullptr;
  if (p.slot_mapping && split == n_splits - 1 && threadIdx.x < 2 * (D / 8)) {
    const int slot = p.slot_mapping[seq];
    if (slot >= 0) {
      const bool is_v = threadIdx.x >= D / 8;
      const int i = (threadIdx.x % (D / 8)) * 8;
      const size_t dst = (size_t)slot * p.num_kv_heads * D + (size_t)kv_head * D + i;
      *reinterpret_cast<uint4*>(static_cast<T*>(is_v ? p.v_cache_out : p.k_cache_out) + dst) =
          *reinterpret_cast<const uint4*>((is_v ? vnew : knew) + i);
    }
  }

  const int lane = threadIdx.x % 32, group = threadIdx.x / TPG, sub = lane % TPG;
  const T* qp = static_cast<const T*>(p.q) + seq * row_stride + (size_t)head0 * D + sub * 8;
  float qv[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    mma::unpack8<T>(*reinterpret_cast<const uint4*>(qp + g * D), qv[g]);
#pragma unroll
    for (int i = 0; i < 8; ++i) qv[g][i] *= p.scale_log2;
  }
  float m[G], l[G], acc[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[g][i] = 0.f;
  }

  const int32_t* bt = p.block_tables + (size_t)seq * p.max_blocks_per_seq;
  const size_t kv_stride = (size_t)p.num_kv_heads * D;
  const T* kbase = static_cast<const T*>(p.k) + (size_t)kv_head * D + sub * 8;
  const T* vbase = static_cast<const T*>(p.v) + (size_t)kv_head * D + sub * 8;

  for (int base = t_begin; base < t_end; base += U * NG) {
    uint4 kr[U], vr[U];
    size_t off[U];
    bool from_new[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int t = base + u * NG + group;
      from_new[u] = t == t_new;
      off[u] = t < t_end && !from_new[u] ? ((size_t)bt[t / p.block_size] * p.block_size + t % p.block_size) * kv_stride : 0;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      kr[u] = __ldg(reinterpret_cast<const uint4*>(from_new[u] ? knew + sub * 8 : kbase + off[u]));
      vr[u] = __ldg(reinterpret_cast<const uint4*>(from_new[u] ? vnew + sub * 8 : vbase + off[u]));
    }
    float s[G][U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float kf[8];
      mma::unpack8<T>(kr[u], kf);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float d = 0.f;
#pragma unroll
        for (int i = 0; i < 8; ++i) d = fmaf(qv[g][i], kf[i], d);
        s[g][u] = d;
      }
    }
#pragma unroll
    for (int off_l = 1; off_l < TPG; off_l <<= 1)
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int u = 0; u < U; ++u) s[g][u] += __shfl_xor_sync(0xffffffffu, s[g][u], off_l);
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (base + u * NG + group >= t_end)
#pragma unroll
        for (int g = 0; g < G; ++g) s[g][u] = -INFINITY;

#pragma unroll
    for (int g = 0; g < G; ++g) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < U; ++u) mx = fmaxf(mx, s[g][u]);
      const float m_use = mx == -INFINITY ? 0.f : mx;
      const float alpha = exp2f(m[g] - m_use);
      m[g] = mx;
      l[g] *= alpha;
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[g][i] *= alpha;
#pragma unroll
      for (int u = 0; u < U; ++u) s[g][u] = exp2f(s[g][u] - m_use), l[g] += s[g][u];
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float vf[8];
      mma::unpack8<T>(vr[u], vf);
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[g][i] = fmaf(s[g][u], vf[i], acc[g][i]);
    }
  }

  // Merge the NG groups of this CTA.
  __shared__ float sm_m[NG][G], sm_l[NG][G];
  __shared__ float sm_acc[NG][G][D];
  if (sub == 0)
#pragma unroll
    for (int g = 0; g < G; ++g) sm_m[group][g] = m[g], sm_l[group][g] = l[g];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int i = 0; i < 8; ++i) sm_acc[group][g][sub * 8 + i] = acc[g][i];
  __syncthreads();

  for (int idx = threadIdx.x; idx < G * D; idx += kDecodeThreads) {
    const int g = idx / D, d = idx % D;
    float M = -INFINITY;
    for (int i = 0; i < NG; ++i) M = fmaxf(M, sm_m[i][g]);
    const float M_use = M == -INFINITY ? 0.f : M;
    float L = 0.f, O = 0.f;
    for (int i = 0; i < NG; ++i) {
      const float w = exp2f(sm_m[i][g] - M_use);
      L += sm_l[i][g] * w;
      O += sm_acc[i][g][d] * w;
    }
    store_decode_result<T, D>(p, seq, head0 + g, split, n_splits, d, O, L, M_use);
  }
}

// Two register budgets for the same body. Default bounds: ptxas keeps the kernel at 56 registers
// (D 64 and 128, G 1). Bounds (128, 1): ptxas takes ~77, with more loads kept in flight per thread.
// H100, attnbench-kernels: MHA D 64 gains with the wide budget (GPT-2 seed 128x290x12: 2.33 vs
// 2.06 TB/s; 64x2048x12: 2.83 vs 2.60), D 128 and GQA lose (16x8192x32x128: 2.63 vs 2.94; the GQA
// G 4 kernel went to 147 registers), so only MHA D 64 uses it (docs/perf-notes.md).
template <typename T, int D, int G, int U>
__global__ void __launch_bounds__(kDecodeThreads) fused_decode_kernel(const FusedDecodeParams p) {
  fused_decode_body<T, D, G, U>(p);
}
template <typename T, int D, int G, int U>
__global__ void __launch_bounds__(kDecodeThreads, 1) fused_decode_kernel_wide(const FusedDecodeParams p) {
  fused_decode_body<T, D, G, U>(p);
}

// grid (num_seqs, num_heads), block D: out = sum_s w_s * o_s with w_s = 2^(lse_s - max) / sum.
template <typename T, int D>
__global__ void fused_decode_merge_kernel(const FusedDecodeParams p) {
  pdl_wait();
  pdl_launch_dependents();
  const int seq = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
  const int n_splits = decode_splits_for(p.seq_lens[seq], p.num_splits, p.min_chunk);
  if (n_splits == 1) return;
  const size_t row = ((size_t)seq * p.num_heads + head) * p.num_splits;
  float M = -INFINITY;
  for (int s = 0; s < n_splits; ++s) M = fmaxf(M, p.partial_lse[row + s]);
  const float M_use = M == -INFINITY ? 0.f : M;
  float L = 0.f, O = 0.f;
  for (int s = 0; s < n_splits; ++s) {
    const float w = exp2f(p.partial_lse[row + s] - M_use);
    L += w;
    O += w * p.partial_o[(row + s) * D + d];
  }
  static_cast<T*>(p.out)[((size_t)seq * p.num_heads + head) * D + d] = mma::from_float<T>(L > 0.f ? O / L : 0.f);
}

// Largest supported group size dividing num_heads / num_kv_heads.
inline int decode_group_tile(int num_heads, int num_kv_heads) {
  const int group = num_heads / num_kv_heads;
  for (int g : {8, 4, 2}) if (group % g == 0) return g;
  return 1;
}

// Keys per split at least. Few (sequence, head-group) CTAs (small-batch decode, the online case):
// 64, so a 1k-token context still spreads over 16 splits -- each CTA's chain of dependent loads
// (block table, then K, then V) is what a short step waits on, not bandwidth. Otherwise 256: a
// split costs a partial-output write and a merge that a full machine does not win back.
inline int decode_min_chunk(int num_seqs, int num_heads, int group_tile, int num_sms) {
  return num_seqs * (num_heads / group_tile) < num_sms ? 64 : 256;
}

// Splits per sequence: enough CTAs to fill the machine a few times over, but no split shorter
// than decode_min_chunk keys.
inline int choose_decode_splits(int num_seqs, int num_heads, int group_tile, int max_len, int num_sms) {
  const int ctas = num_seqs * (num_heads / group_tile);
  // Few (seq, head-group) CTAs: split deep (bs 1 x 32k: 8 x SMs gave 2.73 TB/s, 4 x SMs 2.43).
  // Otherwise 4 x SMs: 8 x SMs cost 8-9% at 64 x 2048 x 12 and 16 x 8192 x 32 (docs/perf-notes.md).
  const int target = (ctas < num_sms ? 8 : 4) * num_sms;
  int s = (target + ctas - 1) / ctas;
  const int min_chunk = decode_min_chunk(num_seqs, num_heads, group_tile, num_sms);
  const int by_len = (max_len + min_chunk - 1) / min_chunk;
  s = s < by_len ? s : by_len;
  return s < 1 ? 1 : (s > kDecodeMaxSplits ? kDecodeMaxSplits : s);
}

template <typename T, int D, int G, int U = 4>
inline cudaError_t launch_fused_decode_g(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  const dim3 grid = p.heads_inner ? dim3(p.num_heads / G, p.num_splits, num_seqs) : dim3(p.num_splits, num_seqs, p.num_heads / G);
  if constexpr (D == 64 && G == 1)
    launch_pdl(fused_decode_kernel_wide<T, D, G, U>, grid, dim3(kDecodeThreads), 0, stream, p);
  else
    launch_pdl(fused_decode_kernel<T, D, G, U>, grid, dim3(kDecodeThreads), 0, stream, p);
  if (p.num_splits > 1) launch_pdl(fused_decode_merge_kernel<T, D>, dim3(num_seqs, p.num_heads), dim3(D), 0, stream, p);
  return cudaGetLastError();
}

template <typename T, int D>
inline cudaError_t launch_fused_decode(const FusedDecodeParams& p, int num_seqs, cudaStream_t stream) {
  if (num_seqs == 0) return cudaSuccess;
  switch (decode_group_tile(p.num_heads, p.num_kv_heads)) {
    case 8: return launch_fused_decode_g<T, D, 8>(p, num_seqs, stream);
    case 4: return launch_fused_decode_g<T, D, 4>(p, num_seqs, stream);
    case 2: return launch_fused_decode_g<T, D, 2>(p, num_seqs, stream);
    default: return launch_fused_decode_g<T, D, 1>(p, num_seqs, stream);
  }
}

}  // namespace attnbench
