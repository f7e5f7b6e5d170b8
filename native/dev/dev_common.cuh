// Kernel lab helpers: error checks, 16-bit host conversion, a paged-cache test problem with its
// fp32 CPU reference, relative error, and CUDA-event timing (median).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#define CK(x)                                                                                     \
  do {                                                                                            \
    cudaError_t e_ = (x);                                                                         \
    if (e_ != cudaSuccess) {                                                                      \
      fprintf(stderr, "%s:%d %s -> %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));      \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

namespace lab {

inline float bits_to_float(uint16_t b, bool bf16) {
  if (bf16) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  __half_raw r;
  r.x = b;
  return __half2float(__half(r));
}
inline uint16_t float_to_bits(float f, bool bf16) {
  if (bf16) {
    __nv_bfloat16 h = __float2bfloat16_rn(f);
    return reinterpret_cast<__nv_bfloat16_raw&>(h).x;
  }
  __half h = __float2half_rn(f);
  return reinterpret_cast<__half_raw&>(h).x;
}

// Pseudo-random values in about [-2, 2] (sum of uniforms), written on the device.
__global__ void device_fill_kernel(uint16_t* x, size_t n, uint32_t seed, bool bf16) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 2654435761u ^ seed * 0x9e3779b9u;
    h ^= h >> 15; h *= 0x2c1b3c6du; h ^= h >> 12; h *= 0x297a2d39u; h ^= h >> 15;
    const float f = ((h & 0xffff) + (h >> 16)) * (2.0f / 65536.f) - 2.0f;
    if (bf16) { __nv_bfloat16 b = __float2bfloat16_rn(f); x[i] = reinterpret_cast<__nv_bfloat16_raw&>(b).x; }
    else { __half b = __float2half_rn(f); x[i] = reinterpret_cast<__half_raw&>(b).x; }
  }
}
inline void device_fill(void* x, size_t n, uint32_t seed, bool bf16) {
  device_fill_kernel<<<1024, 256>>>(static_cast<uint16_t*>(x), n, seed, bf16);
  CK(cudaGetLastError());
}

// A batch of sequences over a paged cache, in host memory (16-bit bits) and on the device.
struct Problem {
  int H = 12, Hkv = 12, D = 64, block_size = 16;
  bool bf16 = false;
  std::vector<int> q_lens, ctx_lens;  // per sequence
  std::vector<int32_t> cu_q, bt, seq_lens;
  int max_blocks = 0, num_blocks = 0, num_tokens = 0, max_q = 0;
  std::vector<uint16_t> q, k, v;      // q [tokens,H,D]; k,v [num_blocks, bs, Hkv, D]
  void *dq = nullptr, *dk = nullptr, *dv = nullptr, *dout = nullptr;
  int32_t *dcu = nullptr, *dctx = nullptr, *dbt = nullptr, *dlens = nullptr;
  uint64_t id = 0;  // new at every upload(): a cache keyed by it never outlives its problem (device addresses are reused)

  size_t kv_elems() const { return (size_t)num_blocks * block_size * Hkv * D; }
  size_t q_elems() const { return (size_t)num_tokens * H * D; }

  void build(uint64_t seed, bool host_data = true) {
    std::mt19937_64 rng(seed);
    const int B = (int)q_lens.size();
    cu_q.assign(B + 1, 0);
    seq_lens.resize(B);
    max_blocks = 0;
    for (int b = 0; b < B; ++b) {
      cu_q[b + 1] = cu_q[b] + q_lens[b];
      seq_lens[b] = ctx_lens[b] + q_lens[b];
      max_blocks = std::max(max_blocks, (seq_lens[b] + block_size - 1) / block_size);
      max_q = std::max(max_q, q_lens[b]);
    }
    num_tokens = cu_q[B];
    num_blocks = 0;
    for (int b = 0; b < B; ++b) num_blocks += (seq_lens[b] + block_size - 1) / block_size;
    num_blocks += 3;  // some unused blocks
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);  // scattered pages
    bt.assign((size_t)B * max_blocks, 0);
    int next = 0;
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < (seq_lens[b] + block_size - 1) / block_size; ++j) bt[(size_t)b * max_blocks + j] = perm[next++];
    std::normal_distribution<float> nd(0.f, 1.f);
    auto fill = [&](std::vector<uint16_t>& x, size_t n) {
      x.resize(n);
      for (auto& e : x) e = float_to_bits(nd(rng), bf16);
    };
    if (!host_data) return;  // upload() fills on the device (large sweeps)
    fill(q, q_elems());
    fill(k, kv_elems());
    fill(v, kv_elems());
  }
  void upload() {
    static uint64_t next_id = 0;
    id = ++next_id;
    free_device();
    CK(cudaMalloc(&dq, q_elems() * 2));
    CK(cudaMalloc(&dout, q_elems() * 2));
    CK(cudaMalloc(&dk, kv_elems() * 2));
    CK(cudaMalloc(&dv, kv_elems() * 2));
    if (q.empty()) {
      device_fill(dq, q_elems(), 11, bf16);
      device_fill(dk, kv_elems(), 12, bf16);
      device_fill(dv, kv_elems(), 13, bf16);
    } else {
      CK(cudaMemcpy(dq, q.data(), q_elems() * 2, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dk, k.data(), kv_elems() * 2, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dv, v.data(), kv_elems() * 2, cudaMemcpyHostToDevice));
    }
    auto up = [](int32_t*& d, const std::vector<int32_t>& h) {
      CK(cudaMalloc(&d, std::max<size_t>(1, h.size()) * 4));
      CK(cudaMemcpy(d, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
    };
    std::vector<int32_t> ctx(ctx_lens.begin(), ctx_lens.end());
    up(dcu, cu_q);
    up(dctx, ctx);
    up(dbt, bt);
    up(dlens, seq_lens);
  }
  void poison_out() { CK(cudaMemset(dout, 0xff, q_elems() * 2)); }  // NaN in fp16 and bf16
  void free_device() {
    for (void* p : {dq, dk, dv, dout, (void*)dcu, (void*)dctx, (void*)dbt, (void*)dlens})
      if (p) CK(cudaFree(p));
    dq = dk = dv = dout = nullptr;
    dcu = dctx = dbt = dlens = nullptr;
  }
  float kv_at(const std::vector<uint16_t>& c, int b, int t, int h, int d) const {
    const int slot = bt[(size_t)b * max_blocks + t / block_size] * block_size + t % block_size;
    return bits_to_float(c[((size_t)slot * Hkv + h) * D + d], bf16);
  }

  // fp32 causal reference for the query rows of sequence b (all rows when rows == -1, else the
  // last `rows` rows): out [q_len, H, D] (rows not computed are left NaN).
  void reference(std::vector<float>& out, int max_rows_per_seq = -1) const {
    out.assign(q_elems(), NAN);
    const float scale = 1.f / std::sqrt((float)D);
    std::vector<float> s, kf, vf;
    for (int b = 0; b < (int)q_lens.size(); ++b) {
      const int L = seq_lens[b];
      kf.resize((size_t)L * D);
      vf.resize((size_t)L * D);
      for (int h = 0; h < H; ++h) {
        const int hk = h / (H / Hkv);
        for (int t = 0; t < L; ++t)
          for (int d = 0; d < D; ++d) kf[(size_t)t * D + d] = kv_at(k, b, t, hk, d), vf[(size_t)t * D + d] = kv_at(v, b, t, hk, d);
        const int first = max_rows_per_seq < 0 ? 0 : std::max(0, q_lens[b] - max_rows_per_seq);
        for (int i = first; i < q_lens[b]; ++i) {
          const int qpos = ctx_lens[b] + i, n = qpos + 1;
          const size_t qoff = ((size_t)(cu_q[b] + i) * H + h) * D;
          s.resize(n);
          float mx = -INFINITY;
          for (int t = 0; t < n; ++t) {
            float acc = 0.f;
            for (int d = 0; d < D; ++d) acc += bits_to_float(q[qoff + d], bf16) * kf[(size_t)t * D + d];
            s[t] = acc * scale;
            mx = std::max(mx, s[t]);
          }
          float sum = 0.f;
          for (int t = 0; t < n; ++t) s[t] = std::exp(s[t] - mx), sum += s[t];
          for (int d = 0; d < D; ++d) {
            float acc = 0.f;
            for (int t = 0; t < n; ++t) acc += s[t] * vf[(size_t)t * D + d];
            out[qoff + d] = acc / sum;
          }
        }
      }
    }
  }
};

// ||out - ref|| / ||ref|| over the rows where ref is defined; NaN in out (unwritten) -> NaN.
inline double rel_error(const std::vector<uint16_t>& out, const std::vector<float>& ref, bool bf16) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(ref[i])) continue;
    const double o = bits_to_float(out[i], bf16);
    if (std::isnan(o)) return NAN;
    num += (o - ref[i]) * (o - ref[i]);
    den += (double)ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

template <class F>
inline float median_ms(F&& f, int warmup = 3, int iters = 20) {
  for (int i = 0; i < warmup; ++i) f();
  CK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  std::vector<float> ms(iters);
  for (int i = 0; i < iters; ++i) {
    CK(cudaEventRecord(a));
    f();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaEventElapsedTime(&ms[i], a, b));
  }
  CK(cudaGetLastError());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2];
}

// Flush L2 by writing a buffer larger than it.
struct L2Flush {
  void* buf = nullptr;
  size_t bytes = 0;
  L2Flush() {
    int dev = 0, l2 = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    bytes = (size_t)std::max(l2, 1 << 20) * 2;
    CK(cudaMalloc(&buf, bytes));
  }
  ~L2Flush() { cudaFree(buf); }
  void operator()() const { CK(cudaMemsetAsync(buf, 0, bytes)); }
};

}  // namespace lab
