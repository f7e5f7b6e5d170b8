// attnbench-kernels: one benchmark problem on the device (several rotated input sets over a paged
// cache, the step metadata a runner would pass), and the fp32 GPU reference it is checked against.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "core/cuda_check.h"

namespace attnbench::bench {

struct Shape {
  std::string name;
  bool decode = false;
  std::vector<int> q_lens, ctx_lens;  // per sequence (decode: q_len 1, ctx = len - 1)
  int heads = 12, kv_heads = 12, head_dim = 64, page = 16;
  DType dtype = DType::F16;
};

// Pseudo-random values in [-2, 2), never all zero; seed picks the stream.
__global__ void fill_kernel(uint16_t* x, size_t n, uint32_t seed, bool bf16) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 2654435761u ^ (seed + 1) * 0x9e3779b9u ^ (uint32_t)(i >> 32) * 0x85ebca6bu;
    h ^= h >> 15, h *= 0x2c1b3c6du, h ^= h >> 12, h *= 0x297a2d39u, h ^= h >> 15;
    const float f = ((h & 0xffff) + (h >> 16)) * (2.0f / 65536.f) - 2.0f;
    if (bf16) {
      __nv_bfloat16 b = __float2bfloat16_rn(f);
      x[i] = reinterpret_cast<__nv_bfloat16_raw&>(b).x;
    } else {
      __half b = __float2half_rn(f);
      x[i] = reinterpret_cast<__half_raw&>(b).x;
    }
  }
}

// Writes this step's new K/V rows (contiguous [N, Hkv, D]) into their cache slots.
__global__ void scatter_kernel(uint16_t* cache, const uint16_t* rows, const int32_t* slots, int n, int row_elems) {
  const int r = blockIdx.x;
  if (r >= n) return;
  for (int i = threadIdx.x; i < row_elems; i += blockDim.x) cache[(size_t)slots[r] * row_elems + i] = rows[(size_t)r * row_elems + i];
}

__device__ __forceinline__ float load_f(const uint16_t* p, size_t i, bool bf16) {
  const uint16_t b = p[i];
  if (bf16) return __uint_as_float((uint32_t)b << 16);
  return __half2float(__ushort_as_half(b));
}

// fp32 reference for sampled (token, head) rows: one warp each, keys [0, pos] from the paged cache.
// ref [samples, D]; got [samples, D] = the backend's output rows, widened; D <= 256.
__global__ void reference_kernel(const int32_t* samples /*[n,3] token, head, seq*/, int n, const uint16_t* q,
                                 const uint16_t* kc, const uint16_t* vc, const uint16_t* out, const int32_t* cu_q,
                                 const int32_t* ctx, const int32_t* bt, int max_blocks, int bs, int H, int Hkv, int D,
                                 float scale, bool bf16, float* ref, float* got) {
  const int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (w >= n) return;
  const int tok = samples[3 * w], h = samples[3 * w + 1], s = samples[3 * w + 2];
  const int pos = ctx[s] + tok - cu_q[s], hk = h / (H / Hkv), E = D / 32;
  float qv[8], acc[8];
  for (int e = 0; e < E; ++e) qv[e] = load_f(q, ((size_t)tok * H + h) * D + lane * E + e, bf16) * scale, acc[e] = 0.f;
  float m = -INFINITY, l = 0.f;
  for (int t = 0; t <= pos; ++t) {
    const size_t off = (((size_t)bt[(size_t)s * max_blocks + t / bs] * bs + t % bs) * Hkv + hk) * D + lane * E;
    float dot = 0.f;
    for (int e = 0; e < E; ++e) dot += qv[e] * load_f(kc, off + e, bf16);
    for (int o = 16; o; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    const float mn = fmaxf(m, dot), a = expf(m - mn), pr = expf(dot - mn);
    l = l * a + pr;
    for (int e = 0; e < E; ++e) acc[e] = acc[e] * a + pr * load_f(vc, off + e, bf16);
    m = mn;
  }
  for (int e = 0; e < E; ++e) {
    ref[(size_t)w * D + lane * E + e] = acc[e] / l;
    got[(size_t)w * D + lane * E + e] = load_f(out, ((size_t)tok * H + h) * D + lane * E + e, bf16);
  }
}

__global__ void count_nonfinite_kernel(const uint16_t* x, size_t n, bool bf16, unsigned long long* count) {
  unsigned long long c = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    c += !isfinite(load_f(x, i, bf16));
  if (c) atomicAdd(count, c);
}

struct DeviceSet {
  void *q = nullptr, *k_new = nullptr, *v_new = nullptr, *k = nullptr, *v = nullptr, *out = nullptr;
};

// Device buffers and metadata of one shape; `sets` input sets rotated so that timing reads HBM.
struct Problem {
  Shape shape;
  StepBatch host;
  AttnDims dims;
  AttnMetadata md;
  std::vector<DeviceSet> sets;
  int num_blocks = 0;
  int32_t *d_cu = nullptr, *d_ctx = nullptr, *d_lens = nullptr, *d_bt = nullptr, *d_slots = nullptr;

  size_t q_elems() const { return (size_t)host.num_tokens() * shape.heads * shape.head_dim; }
  size_t new_elems() const { return (size_t)host.num_tokens() * shape.kv_heads * shape.head_dim; }
  size_t cache_elems() const { return (size_t)num_blocks * shape.page * shape.kv_heads * shape.head_dim; }
  // Bytes the attention must read/write at least (inputs once, output once).
  double min_bytes() const {
    double kv = 0;
    for (int L : host.seq_lens_k) kv += (double)L * shape.kv_heads * shape.head_dim * 2 * 2;
    return kv + 2.0 * q_elems() * 2;
  }
  double kv_bytes() const {
    double kv = 0;
    for (int L : host.seq_lens_k) kv += (double)L * shape.kv_heads * shape.head_dim * 2 * 2;
    return kv;
  }
  double causal_flops() const {  // 4 * Sq * Sk * D * H / 2 convention (PERF.md), per sequence
    double f = 0;
    for (size_t s = 0; s < shape.q_lens.size(); ++s) {
      const double q = shape.q_lens[s], c = shape.ctx_lens[s];
      f += 4.0 * shape.head_dim * shape.heads * (q * c + q * q / 2);
    }
    return f;
  }

  void build(const Shape& sh, double min_total_bytes, uint32_t seed) {
    shape = sh;
    const int B = (int)sh.q_lens.size(), bs = sh.page;
    host = StepBatch{};
    host.cu_seqlens_q.assign(B + 1, 0);
    int max_blocks = 0;
    for (int s = 0; s < B; ++s) {
      host.cu_seqlens_q[s + 1] = host.cu_seqlens_q[s] + sh.q_lens[s];
      host.ctx_lens.push_back(sh.ctx_lens[s]);
      host.seq_lens_k.push_back(sh.ctx_lens[s] + sh.q_lens[s]);
      max_blocks = std::max(max_blocks, (host.seq_lens_k[s] + bs - 1) / bs);
      num_blocks += (host.seq_lens_k[s] + bs - 1) / bs;
    }
    num_blocks += 1;
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937 rng(seed);
    std::shuffle(perm.begin(), perm.end(), rng);  // pages scattered over the pool
    host.max_blocks_per_seq = max_blocks;
    host.block_tables.assign((size_t)B * max_blocks, 0);
    int next = 0;
    for (int s = 0; s < B; ++s) {
      for (int j = 0; j < (host.seq_lens_k[s] + bs - 1) / bs; ++j) host.block_tables[(size_t)s * max_blocks + j] = perm[next++];
      for (int i = 0; i < sh.q_lens[s]; ++i) {
        const int t = sh.ctx_lens[s] + i;
        host.slot_mapping.push_back(host.block_tables[(size_t)s * max_blocks + t / bs] * bs + t % bs);
        host.positions.push_back(t);
        host.tokens.push_back(0);
      }
    }
    host.num_prefill_seqs = sh.decode ? 0 : B;
    host.num_decode_seqs = sh.decode ? B : 0;

    dims.num_heads = sh.heads;
    dims.num_kv_heads = sh.kv_heads;
    dims.head_dim = sh.head_dim;
    dims.scale = 1.f / std::sqrt((float)sh.head_dim);
    dims.block_size = bs;
    dims.exp = read_experiment_switches();  // ATTNBENCH_PREFILL_SM90 etc. pick the kernels measured
    dims.dtype = sh.dtype;

    auto up = [](int32_t*& d, const std::vector<int32_t>& h) {
      CUDA_CHECK(cudaMalloc(&d, std::max<size_t>(1, h.size()) * 4));
      CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
    };
    up(d_cu, host.cu_seqlens_q);
    up(d_ctx, host.ctx_lens);
    up(d_lens, host.seq_lens_k);
    up(d_bt, host.block_tables);
    up(d_slots, host.slot_mapping);
    md = host_attn_metadata(host);  // counts from the host batch, arrays swapped for the device copies
    md.cu_seqlens_q = d_cu;
    md.ctx_lens = d_ctx;
    md.seq_lens_k = d_lens;
    md.block_tables = d_bt;

    const double set_bytes = 2.0 * (2 * q_elems() + 2 * new_elems() + 2 * cache_elems());
    const int n_sets = (int)std::clamp(std::ceil(min_total_bytes / set_bytes), 1.0, 8.0);
    const bool bf16 = sh.dtype == DType::BF16;
    for (int i = 0; i < n_sets; ++i) {
      DeviceSet d;
      CUDA_CHECK(cudaMalloc(&d.q, q_elems() * 2));
      CUDA_CHECK(cudaMalloc(&d.out, q_elems() * 2));
      CUDA_CHECK(cudaMalloc(&d.k_new, new_elems() * 2));
      CUDA_CHECK(cudaMalloc(&d.v_new, new_elems() * 2));
      CUDA_CHECK(cudaMalloc(&d.k, cache_elems() * 2));
      CUDA_CHECK(cudaMalloc(&d.v, cache_elems() * 2));
      const uint32_t base = seed * 16 + i * 6;
      fill(d.q, q_elems(), base + 0, bf16);
      fill(d.k_new, new_elems(), base + 1, bf16);
      fill(d.v_new, new_elems(), base + 2, bf16);
      fill(d.k, cache_elems(), base + 3, bf16);  // the earlier context
      fill(d.v, cache_elems(), base + 4, bf16);
      const int row = sh.kv_heads * sh.head_dim, n = host.num_tokens();
      if (n > 0) {
        scatter_kernel<<<n, 128>>>((uint16_t*)d.k, (const uint16_t*)d.k_new, d_slots, n, row);
        scatter_kernel<<<n, 128>>>((uint16_t*)d.v, (const uint16_t*)d.v_new, d_slots, n, row);
        CUDA_CHECK_LAUNCH();
      }
      sets.push_back(d);
    }
    CUDA_CHECK(cudaDeviceSynchronize());
  }

  static void fill(void* p, size_t n, uint32_t seed, bool bf16) {
    fill_kernel<<<2048, 256>>>(static_cast<uint16_t*>(p), n, seed, bf16);
    CUDA_CHECK_LAUNCH();
  }

  void release() {
    for (auto& d : sets)
      for (void* p : {d.q, d.k_new, d.v_new, d.k, d.v, d.out}) cudaFree(p);
    for (void* p : {(void*)d_cu, (void*)d_ctx, (void*)d_lens, (void*)d_bt, (void*)d_slots}) cudaFree(p);
    sets.clear();
  }

  // Samples: a few rows per sequence (first, last, some between), every head.
  std::vector<int32_t> samples(int rows_per_seq = 6) const {
    std::vector<int32_t> out;
    std::mt19937 rng(5);
    for (size_t s = 0; s < shape.q_lens.size(); ++s) {
      const int q0 = host.cu_seqlens_q[s], n = shape.q_lens[s];
      std::vector<int> rows = {0, n - 1};
      for (int i = 2; i < rows_per_seq && i < n; ++i) rows.push_back((int)(rng() % n));
      std::sort(rows.begin(), rows.end());
      rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
      for (int r : rows)
        for (int h = 0; h < shape.heads; ++h) out.insert(out.end(), {q0 + r, h, (int)s});
    }
    return out;
  }

  struct Check {
    double rel_err = NAN;
    unsigned long long nonfinite = 0;
  };
  // Compares set 0's output (after one call) against the fp32 reference on sampled rows.
  Check check(int max_samples = 4096) const {
    std::vector<int32_t> smp = samples();
    const int n = std::min((int)smp.size() / 3, max_samples);
    int32_t* d_smp;
    float *d_ref, *d_got;
    unsigned long long* d_cnt;
    const int D = shape.head_dim;
    CUDA_CHECK(cudaMalloc(&d_smp, smp.size() * 4));
    CUDA_CHECK(cudaMalloc(&d_ref, (size_t)n * D * 4));
    CUDA_CHECK(cudaMalloc(&d_got, (size_t)n * D * 4));
    CUDA_CHECK(cudaMalloc(&d_cnt, 8));
    CUDA_CHECK(cudaMemcpy(d_smp, smp.data(), smp.size() * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(d_cnt, 0, 8));
    const bool bf16 = shape.dtype == DType::BF16;
    const DeviceSet& d = sets[0];
    reference_kernel<<<(n * 32 + 127) / 128, 128>>>(d_smp, n, (const uint16_t*)d.q, (const uint16_t*)d.k,
                                                     (const uint16_t*)d.v, (const uint16_t*)d.out, d_cu, d_ctx, d_bt,
                                                     host.max_blocks_per_seq, shape.page, shape.heads, shape.kv_heads, D,
                                                     dims.scale, bf16, d_ref, d_got);
    count_nonfinite_kernel<<<1024, 256>>>((const uint16_t*)d.out, q_elems(), bf16, d_cnt);
    CUDA_CHECK_LAUNCH();
    std::vector<float> ref((size_t)n * D), got((size_t)n * D);
    Check c;
    CUDA_CHECK(cudaMemcpy(ref.data(), d_ref, ref.size() * 4, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(got.data(), d_got, got.size() * 4, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(&c.nonfinite, d_cnt, 8, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) num += (got[i] - ref[i]) * (double)(got[i] - ref[i]), den += (double)ref[i] * ref[i];
    c.rel_err = std::isfinite(num) ? std::sqrt(num / std::max(den, 1e-30)) : NAN;
    for (void* p : {(void*)d_smp, (void*)d_ref, (void*)d_got, (void*)d_cnt}) cudaFree(p);
    return c;
  }
};

}  // namespace attnbench::bench
