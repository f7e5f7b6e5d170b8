// `naive` attention on CUDA: the baseline the fused backends are measured against.
//   prefill: one block per (query token, head): scores q.k for every visible key, materialised in a
//            global fp32 buffer [tokens, heads, max_k_len]; masked softmax in place; then P.V. Keys
//            and values come from the paged cache (this step's are already appended).
//   decode:  one block per (sequence, head) over the paged cache; each warp walks every 4th key
//            with a running (online) softmax and the four warps merge at the end. No scratch
//            memory and no step-dependent launch arguments, so a CUDA graph can capture it.
#include <cfloat>
#include <memory>
#include <string>

#include "attn/backend.h"
#include "attn/registry.h"
#include "core/cuda_check.h"
#include "core/device_buffer.h"
#include "kernels/dtype.cuh"

namespace attnbench {

namespace {

constexpr int kThreads = 128;  // 4 warps
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHeadDim = 256;

// Index into K/V cache [blocks, block_size, Hkv, D] of key j of the sequence whose block table is bt.
__device__ __forceinline__ long long kv_offset(const int32_t* bt, int j, int block_size, int kvh, int Hkv, int D) {
  long long slot = (long long)bt[j / block_size] * block_size + j % block_size;
  return (slot * Hkv + kvh) * D;
}

template <class T>
__global__ void __launch_bounds__(kThreads) naive_prefill_kernel(
    T* out, const T* q, const T* k_cache, const T* v_cache, float* scores, int score_stride,
    const int32_t* cu_seqlens_q, const int32_t* ctx_lens, const int32_t* block_tables, int max_blocks_per_seq,
    int num_prefill_seqs, int H, int Hkv, int D, int block_size, float scale) {
  __shared__ float s_q[kMaxHeadDim];
  __shared__ float s_red[kThreads];
  const int t = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  int lo = 0, hi = num_prefill_seqs - 1;  // slice s with cu[s] <= t < cu[s + 1]
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (cu_seqlens_q[mid] <= t) lo = mid; else hi = mid - 1;
  }
  const int s = lo;
  const int n_keys = ctx_lens[s] + (t - cu_seqlens_q[s]) + 1;  // causal: keys [0, position]
  const int kvh = h / (H / Hkv);
  const int32_t* bt = block_tables + (long long)s * max_blocks_per_seq;
  const T* qr = q + ((long long)t * H + h) * D;
  for (int d = tid; d < D; d += kThreads) s_q[d] = to_f32(qr[d]);
  __syncthreads();
  float* srow = scores + ((long long)t * H + h) * score_stride;

  // 1. scores, one warp per key
  for (int j = warp; j < n_keys; j += kWarps) {
    const T* kr = k_cache + kv_offset(bt, j, block_size, kvh, Hkv, D);
    float dot = 0.f;
    for (int d = lane; d < D; d += 32) dot += s_q[d] * to_f32(kr[d]);
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (lane == 0) srow[j] = dot * scale;
  }
  __syncthreads();

  // 2. softmax over the row, in place
  float mx = -FLT_MAX;
  for (int j = tid; j < n_keys; j += kThreads) mx = fmaxf(mx, srow[j]);
  s_red[tid] = mx;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (tid < w) s_red[tid] = fmaxf(s_red[tid], s_red[tid + w]);
    __syncthreads();
  }
  mx = s_red[0];
  __syncthreads();
  float sum = 0.f;
  for (int j = tid; j < n_keys; j += kThreads) {
    float p = __expf(srow[j] - mx);
    srow[j] = p;
    sum += p;
  }
  s_red[tid] = sum;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (tid < w) s_red[tid] += s_red[tid + w];
    __syncthreads();
  }
  const float inv_sum = 1.f / s_red[0];
  __syncthreads();

  // 3. out = P V: thread (d, g) sums keys j = g, g + G, ...; groups then add up in shared memory
  const int G = D >= kThreads ? 1 : kThreads / D;
  const int g = tid / (D >= kThreads ? kThreads : D);
  T* orow = out + ((long long)t * H + h) * D;
  for (int d0 = 0; d0 < D; d0 += kThreads) {
    const int d = d0 + tid % (D >= kThreads ? kThreads : D);
    float acc = 0.f;
    if (d < D)
      for (int j = g; j < n_keys; j += G) acc += srow[j] * to_f32(v_cache[kv_offset(bt, j, block_size, kvh, Hkv, D) + d]);
    s_red[tid] = acc;
    __syncthreads();
    if (g == 0 && d < D) {
      float total = 0.f;
      for (int gg = 0; gg < G; ++gg) total += s_red[gg * (kThreads / G) + tid];
      orow[d] = from_f32<T>(total * inv_sum);
    }
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) naive_decode_kernel(
    T* out, const T* q, const T* k_cache, const T* v_cache, const int32_t* seq_lens_k, const int32_t* block_tables,
    int max_blocks_per_seq, int num_prefill_seqs, int H, int Hkv, int D, int block_size, float scale) {
  constexpr int kPerLane = kMaxHeadDim / 32;
  __shared__ float s_m[kWarps], s_l[kWarps];
  __shared__ float s_acc[kWarps][kMaxHeadDim];
  const int row = blockIdx.x, h = blockIdx.y, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int s = num_prefill_seqs + row;
  const int n_keys = seq_lens_k[s];
  const int kvh = h / (H / Hkv);
  const int32_t* bt = block_tables + (long long)s * max_blocks_per_seq;
  const T* qr = q + ((long long)row * H + h) * D;
  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    int d = e * 32 + lane;
    qv[e] = d < D ? to_f32(qr[d]) * scale : 0.f;
    acc[e] = 0.f;
  }
  float m = -FLT_MAX, l = 0.f;
  for (int j = warp; j < n_keys; j += kWarps) {
    long long off = kv_offset(bt, j, block_size, kvh, Hkv, D);
    float dot = 0.f;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      int d = e * 32 + lane;
      if (d < D) dot += qv[e] * to_f32(k_cache[off + d]);
    }
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    float m_new = fmaxf(m, dot);
    float corr = __expf(m - m_new), p = __expf(dot - m_new);
    l = l * corr + p;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      int d = e * 32 + lane;
      acc[e] = acc[e] * corr + (d < D ? p * to_f32(v_cache[off + d]) : 0.f);
    }
    m = m_new;
  }
  if (lane == 0) { s_m[warp] = m; s_l[warp] = l; }
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    int d = e * 32 + lane;
    if (d < D) s_acc[warp][d] = acc[e];
  }
  __syncthreads();
  float M = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, s_m[w]);
  float L = 0.f;
  for (int w = 0; w < kWarps; ++w) L += s_l[w] * __expf(s_m[w] - M);  // empty warps: l = 0
  T* orow = out + ((long long)row * H + h) * D;
  for (int d = threadIdx.x; d < D; d += kThreads) {
    float o = 0.f;
    for (int w = 0; w < kWarps; ++w) o += s_acc[w][d] * __expf(s_m[w] - M);
    orow[d] = from_f32<T>(o / L);
  }
}

std::string naive_cuda_status(const AttnDims* dims) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return "unavailable: no CUDA device";
  }
  if (dims) {
    const int D = dims->head_dim;
    if (D % 8 != 0 || D > kMaxHeadDim || (D < kThreads && kThreads % D != 0))
      return "unavailable: head_dim " + std::to_string(D) + " (naive CUDA takes 8, 16, 32, 64, 128..256 in steps of 8)";
    if (dims->dtype == DType::F32) return "unavailable: fp32 (naive CUDA takes fp16/bf16)";
  }
  return "ok";
}

class NaivePrefillCuda final : public PrefillAttn {
 public:
  explicit NaivePrefillCuda(const AttnDims& d) : d_(d) {}
  // Grows the scores buffer on the host between steps (never inside a captured decode graph).
  void plan(const AttnMetadata& md) override {
    stride_ = md.max_k_len;
    scores_.resize((size_t)md.num_prefill_tokens * d_.num_heads * stride_ * sizeof(float));
  }
  void run(int /*layer*/, const void* q, const void*, const void*, const PagedKv& cache, void* out,
           const AttnMetadata& md, void* stream) override {
    if (md.num_prefill_tokens == 0) return;
    if ((size_t)md.num_prefill_tokens * d_.num_heads * md.max_k_len * sizeof(float) > scores_.bytes() ||
        md.max_k_len > stride_)
      throw std::runtime_error("naive CUDA prefill: run() without plan() for this step");
    dim3 grid(md.num_prefill_tokens, d_.num_heads);
    DISPATCH_DTYPE(d_.dtype, T, {
      naive_prefill_kernel<T><<<grid, kThreads, 0, (cudaStream_t)stream>>>(
          (T*)out, (const T*)q, (const T*)cache.k, (const T*)cache.v, scores_.get<float>(), stride_,
          md.cu_seqlens_q, md.ctx_lens, md.block_tables, md.max_blocks_per_seq, md.num_prefill_seqs,
          d_.num_heads, d_.num_kv_heads, d_.head_dim, d_.block_size, d_.scale);
    });
    CUDA_CHECK_LAUNCH();
  }

 private:
  AttnDims d_;
  DeviceBuffer scores_;
  int stride_ = 0;
};

class NaiveDecodeCuda final : public DecodeAttn {
 public:
  explicit NaiveDecodeCuda(const AttnDims& d) : d_(d) {}
  // No plan: the grid comes from md's counts at run(), the bucket's under capture.
  bool supports_graph() const override { return true; }
  void prepare_for_replay(const AttnMetadata& /*md*/) override {}
  void run(int /*layer*/, const void* q, const PagedKv& cache, void* out, const AttnMetadata& md,
           void* stream) override {
    if (md.num_decode_seqs == 0) return;
    dim3 grid(md.num_decode_seqs, d_.num_heads);
    DISPATCH_DTYPE(d_.dtype, T, {
      naive_decode_kernel<T><<<grid, kThreads, 0, (cudaStream_t)stream>>>(
          (T*)out, (const T*)q, (const T*)cache.k, (const T*)cache.v, md.seq_lens_k, md.block_tables,
          md.max_blocks_per_seq, md.num_prefill_seqs, d_.num_heads, d_.num_kv_heads, d_.head_dim, d_.block_size,
          d_.scale);
    });
    CUDA_CHECK_LAUNCH();
  }

 private:
  AttnDims d_;
};

std::unique_ptr<PrefillAttn> make_naive_prefill_cuda(const AttnDims& d) { return std::make_unique<NaivePrefillCuda>(d); }
std::unique_ptr<DecodeAttn> make_naive_decode_cuda(const AttnDims& d) { return std::make_unique<NaiveDecodeCuda>(d); }

}  // namespace

ATTNBENCH_REGISTER_PREFILL(naive, CUDA, make_naive_prefill_cuda, naive_cuda_status);
ATTNBENCH_REGISTER_DECODE(naive, CUDA, make_naive_decode_cuda, naive_cuda_status);

}  // namespace attnbench
