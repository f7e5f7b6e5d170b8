// Kernel lab: the element-wise kernels of a Llama layer at Llama-3.1-8B shapes (bf16; hidden 4096,
// 32 q / 8 kv heads of 128, ffn 14336), at M = 8192 rows (a prefill step) and M = 128 (a decode step
// of 128 sequences), against a device-to-device copy measured in the same run.
//
//   mkdir -p bin && nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I../src elementwise.cu \
//     ../src/kernels/layernorm.cu ../src/kernels/silu_mul.cu ../src/kernels/rope_append.cu \
//     ../src/kernels/embedding.cu -o bin/elementwise
//   ./bin/elementwise            check every version, then time them
//   ./bin/elementwise check      correctness only
//
// Every version is checked against an fp32/fp64 CPU reference on fresh random inputs (M = 128 and an
// odd M = 1037, outputs poisoned first), then timed with CUDA events: back-to-back launches (PDL, as
// in the engine) over input sets rotated so that one pass over them exceeds the 60 MB L2 several
// times, median of 7 batches. GB/s counts compulsory bytes (what a call must read and write once);
// "% copy" is against the copy ceiling, a 1 GB cudaMemcpy device to device (read + write counted).
//
// Versions ("prod" is whatever the engine now calls; the numbered ones are kept as they were):
//   residual_rmsnorm_forward (x fp32 += delta bf16, then RMSNorm to bf16 out)
//     r1  session 6's production: a 128-thread block a row, 4-wide fp32 / 8-byte bf16 accesses, VPT 8
//     r2  8-wide (two float4 of x, one 16-byte delta / out access), 256 threads a row, 2 chunks each
//     r3  r2 with 512 threads a row, 1 chunk each
//     r4  r2 with 128 threads a row, 4 chunks each
//   silu_mul_forward ([M, 2F] gate | up -> [M, F])
//     s1  session 6's production (still production: 98-100 % of copy at 8192): a thread per 8 outputs,
//         a 1D grid (64-bit divide for the row), IEEE divide
//     s2  a 2D grid (row = blockIdx.x: no divide), __fdividef, 256 threads, 1 chunk of 8 each
//     s3  s2 with 2 chunks a thread (4 loads of 16 bytes in flight), 128 threads
//   qkv_rope_kv_append (QKV rows [M, 6144] -> RoPE'd q [M,32,128], k, v [M,8,128] + paged K/V cache)
//     p1  session 6's production: 3 CTAs of 128 threads a token, 8 sincosf a thread before its loads
//     p2  one CTA of 128 threads a token, every load issued first (up to 4 items a thread: 3 q/k
//         chunk pairs and a v chunk), the token's 64 angles computed once (64 threads) into shared
//     p3  p2 with 256 threads a token (2 items a thread)
//     p4  p2 with 64 threads a token (7 items a thread)
//   embedding_forward (bf16 table rows -> fp32 residual rows)
//     e1  session 6's production: a thread per element, 2-byte reads, a 64-bit divide
//     e2  a thread per 8 elements (16-byte read, two 16-byte writes), 2D grid
#include "dev_common.cuh"

#include "core/pdl.cuh"
#include "kernels/dtype.cuh"
#include "kernels/embedding.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/mma.cuh"
#include "kernels/rope.cuh"
#include "kernels/rope_append.cuh"
#include "kernels/silu_mul.cuh"

using namespace attnbench;
using bf16 = __nv_bfloat16;

namespace {

constexpr int kC = 4096, kF = 14336, kH = 32, kHkv = 8, kD = 128, kVocab = 128256, kPage = 16;
constexpr int kQkv = (kH + 2 * kHkv) * kD;  // 6144
constexpr float kEps = 1e-5f;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// ---------------------------------------------------------------- RMSNorm
// r1: session 6's residual_layernorm_row_kernel, RMS, VEC 4 (a verbatim copy of its RMS path).
constexpr int kR1Threads = 128;
template <int VPT>
__global__ void __launch_bounds__(kR1Threads) rms_r1(bf16* out, float* x, const bf16* delta, int C, const float* w, float eps) {
  __shared__ float sh[4];
  pdl_wait();
  pdl_launch_dependents();
  const int i = blockIdx.x;
  float* xr = x + (int64_t)i * C;
  const bf16* dr = delta + (int64_t)i * C;
  float v[VPT][4], wk[VPT][4];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = (threadIdx.x + k * kR1Threads) * 4;
    const float4 ww = __ldg(reinterpret_cast<const float4*>(w + c));
    wk[k][0] = ww.x, wk[k][1] = ww.y, wk[k][2] = ww.z, wk[k][3] = ww.w;
    const float4 xx = *reinterpret_cast<const float4*>(xr + c);
    v[k][0] = xx.x, v[k][1] = xx.y, v[k][2] = xx.z, v[k][3] = xx.w;
    const uint2 dd = *reinterpret_cast<const uint2*>(dr + c);
    const bf16* dh = reinterpret_cast<const bf16*>(&dd);
#pragma unroll
    for (int j = 0; j < 4; ++j) v[k][j] += to_f32(dh[j]);
    *reinterpret_cast<float4*>(xr + c) = make_float4(v[k][0], v[k][1], v[k][2], v[k][3]);
#pragma unroll
    for (int j = 0; j < 4; ++j) sum += v[k][j];
  }
  (void)sum;  // RMS: the mean pass is skipped
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; ++k)
#pragma unroll
    for (int j = 0; j < 4; ++j) sq += v[k][j] * v[k][j];
  sq = warp_sum(sq);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) sh[warp] = sq;
  __syncthreads();
  const float rstd = rsqrtf((sh[0] + sh[1] + sh[2] + sh[3]) / C + eps);
  bf16* o = out + (int64_t)i * C;
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    const int c = (threadIdx.x + k * kR1Threads) * 4;
    uint2 ov;
    bf16* oh = reinterpret_cast<bf16*>(&ov);
#pragma unroll
    for (int j = 0; j < 4; ++j) oh[j] = from_f32<bf16>(v[k][j] * rstd * wk[k][j]);
    *reinterpret_cast<uint2*>(o + c) = ov;
  }
}

// r2-r4: 8-wide chunks (two float4 of x, one uint4 of delta / out), THREADS a row, CPT chunks a thread.
template <int THREADS, int CPT>
__global__ void __launch_bounds__(THREADS) rms_v8(bf16* out, float* x, const bf16* delta, int C, const float* w, float eps) {
  __shared__ float sh[THREADS / 32];
  pdl_wait();
  pdl_launch_dependents();
  const int i = blockIdx.x;
  float* xr = x + (int64_t)i * C;
  const bf16* dr = delta + (int64_t)i * C;
  float v[CPT][8];
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < CPT; ++k) {
    const int c = (threadIdx.x + k * THREADS) * 8;
    const float4 x0 = *reinterpret_cast<const float4*>(xr + c), x1 = *reinterpret_cast<const float4*>(xr + c + 4);
    float d[8];
    mma::unpack8<bf16>(*reinterpret_cast<const uint4*>(dr + c), d);
    v[k][0] = x0.x + d[0], v[k][1] = x0.y + d[1], v[k][2] = x0.z + d[2], v[k][3] = x0.w + d[3];
    v[k][4] = x1.x + d[4], v[k][5] = x1.y + d[5], v[k][6] = x1.z + d[6], v[k][7] = x1.w + d[7];
    *reinterpret_cast<float4*>(xr + c) = make_float4(v[k][0], v[k][1], v[k][2], v[k][3]);
    *reinterpret_cast<float4*>(xr + c + 4) = make_float4(v[k][4], v[k][5], v[k][6], v[k][7]);
#pragma unroll
    for (int j = 0; j < 8; ++j) sq += v[k][j] * v[k][j];
  }
  sq = warp_sum(sq);
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = sq;
  __syncthreads();
  float tot = 0.f;
#pragma unroll
  for (int j = 0; j < THREADS / 32; ++j) tot += sh[j];
  const float rstd = rsqrtf(tot / C + eps);
  bf16* o = out + (int64_t)i * C;
#pragma unroll
  for (int k = 0; k < CPT; ++k) {
    const int c = (threadIdx.x + k * THREADS) * 8;
    const float4 w0 = __ldg(reinterpret_cast<const float4*>(w + c)), w1 = __ldg(reinterpret_cast<const float4*>(w + c + 4));
    const float wk[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
    uint4 ov;
    uint32_t* op = reinterpret_cast<uint32_t*>(&ov);
#pragma unroll
    for (int j = 0; j < 4; ++j)
      op[j] = mma::pack2<bf16>(v[k][2 * j] * rstd * wk[2 * j], v[k][2 * j + 1] * rstd * wk[2 * j + 1]);
    *reinterpret_cast<uint4*>(o + c) = ov;
  }
}

// ---------------------------------------------------------------- SiLU x up
__device__ __forceinline__ float silu_ieee(float g) { return g / (1.f + __expf(-g)); }
// Fast divide: 1 + e^-g is >= 1, and where it overflows to inf the product is -0 as with the IEEE divide.
__device__ __forceinline__ float silu_fast(float g) { return __fdividef(g, 1.f + __expf(-g)); }

__global__ void silu_s1(bf16* y, const bf16* x, int rows, int F) {
  pdl_wait();
  pdl_launch_dependents();
  const int per_row = F / 8;
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)rows * per_row) return;
  const int r = (int)(i / per_row), c = (int)(i % per_row) * 8;
  const bf16* g = x + (long long)r * 2 * F + c;
  const uint4 gv = *reinterpret_cast<const uint4*>(g), uv = *reinterpret_cast<const uint4*>(g + F);
  const bf16* gh = reinterpret_cast<const bf16*>(&gv);
  const bf16* uh = reinterpret_cast<const bf16*>(&uv);
  uint4 ov;
  bf16* oh = reinterpret_cast<bf16*>(&ov);
#pragma unroll
  for (int j = 0; j < 8; ++j) oh[j] = from_f32<bf16>(silu_ieee(to_f32(gh[j])) * to_f32(uh[j]));
  *reinterpret_cast<uint4*>(y + (long long)r * F + c) = ov;
}

// grid (rows, ceil(F/8 / (THREADS*CPT))) (rows in x: up to 2^31 - 1 of them); chunk =
// blockIdx.y * THREADS * CPT + k * THREADS + tid.
template <int THREADS, int CPT>
__global__ void __launch_bounds__(THREADS) silu_v2(bf16* y, const bf16* x, int F) {
  pdl_wait();
  pdl_launch_dependents();
  const int r = blockIdx.x, n = F / 8;
  const bf16* g = x + (long long)r * 2 * F;
  uint4 gv[CPT], uv[CPT];
#pragma unroll
  for (int k = 0; k < CPT; ++k) {
    const int ch = (blockIdx.y * CPT + k) * THREADS + threadIdx.x;
    if (ch < n) {
      gv[k] = *reinterpret_cast<const uint4*>(g + ch * 8);
      uv[k] = *reinterpret_cast<const uint4*>(g + F + ch * 8);
    }
  }
#pragma unroll
  for (int k = 0; k < CPT; ++k) {
    const int ch = (blockIdx.y * CPT + k) * THREADS + threadIdx.x;
    if (ch >= n) continue;
    float gf[8], uf[8];
    mma::unpack8<bf16>(gv[k], gf);
    mma::unpack8<bf16>(uv[k], uf);
    uint4 ov;
    uint32_t* op = reinterpret_cast<uint32_t*>(&ov);
#pragma unroll
    for (int j = 0; j < 4; ++j)
      op[j] = mma::pack2<bf16>(silu_fast(gf[2 * j]) * uf[2 * j], silu_fast(gf[2 * j + 1]) * uf[2 * j + 1]);
    *reinterpret_cast<uint4*>(y + (long long)r * F + ch * 8) = ov;
  }
}

// ---------------------------------------------------------------- RoPE + append
// p1: session 6's qkv_rope_kv_append_vec_kernel (P = 8, no q/k norm), a verbatim copy.
constexpr int kP1Threads = 128;
__global__ void __launch_bounds__(kP1Threads)
    rope_p1(bf16* q, bf16* k, bf16* v, bf16* k_cache, bf16* v_cache, const bf16* qkv, const int32_t* slot_mapping,
            const int32_t* positions, const float* inv_freq, int H, int Hkv) {
  constexpr int P = 8, D = 16 * P, HALF = D / 2;
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x;
  const int heads = H + 2 * Hkv;
  const bf16* src = qkv + (long long)t * heads * D;
  const int slot = slot_mapping[t];
  const float pos = (float)positions[t];
  const int stride = gridDim.y * kP1Threads;
  const int first = blockIdx.y * kP1Threads + threadIdx.x;
  const int c = first % P;
  float cs[8], sn[8];
  rope_angles8(pos, inv_freq, c, cs, sn);
  const int n_qk = (H + Hkv) * P, n_qk_warps = (n_qk + 31) / 32 * 32;
  for (int it = first; it < n_qk_warps; it += stride) {
    const bool active = it < n_qk;
    const int h = it / P;
    uint4 w0, w1;
    qk_transform_pair<bf16, D>(src + (long long)h * D, c, active, cs, sn, nullptr, 0.f, 0xffffffffu, w0, w1);
    if (!active) continue;
    bf16* dst = h < H ? q + ((long long)t * H + h) * D : k + ((long long)t * Hkv + (h - H)) * D;
    *reinterpret_cast<uint4*>(dst + c * 8) = w0;
    *reinterpret_cast<uint4*>(dst + HALF + c * 8) = w1;
    if (h >= H && slot >= 0) {
      bf16* cache = k_cache + ((long long)slot * Hkv + (h - H)) * D;
      *reinterpret_cast<uint4*>(cache + c * 8) = w0;
      *reinterpret_cast<uint4*>(cache + HALF + c * 8) = w1;
    }
  }
  const int n_v = Hkv * 2 * P;
  for (int it = first; it < n_v; it += stride) {
    const int hv = it / (2 * P), ch = it % (2 * P);
    const uint4 w = *reinterpret_cast<const uint4*>(src + (long long)(H + Hkv + hv) * D + ch * 8);
    *reinterpret_cast<uint4*>(v + ((long long)t * Hkv + hv) * D + ch * 8) = w;
    if (slot >= 0) *reinterpret_cast<uint4*>(v_cache + ((long long)slot * Hkv + hv) * D + ch * 8) = w;
  }
}

// p2-p4: one CTA of THREADS a token; the token's items are the (H + Hkv) x P q/k chunk pairs, then
// the Hkv x 2P v chunks (contiguous in the row); thread tid takes items tid + j x THREADS, j < K.
// All loads first, then the angles (HALF threads, one sincosf each, into shared), then the stores.
template <int THREADS, int K>
__global__ void __launch_bounds__(THREADS)
    rope_v2(bf16* q, bf16* k, bf16* v, bf16* k_cache, bf16* v_cache, const bf16* qkv, const int32_t* slot_mapping,
            const int32_t* positions, const float* inv_freq, int H, int Hkv) {
  constexpr int P = 8, D = 16 * P, HALF = D / 2;
  static_assert(THREADS % P == 0 && THREADS >= HALF, "a thread's chunk c is fixed; HALF threads make the angles");
  __shared__ float4 ang_cs[HALF / 4], ang_sn[HALF / 4];
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x, tid = threadIdx.x, c = tid % P;
  const bf16* src = qkv + (long long)t * (H + 2 * Hkv) * D;
  const int n_qk = (H + Hkv) * P, n_all = n_qk + Hkv * 2 * P;
  uint4 ra[K], rb[K];
#pragma unroll
  for (int j = 0; j < K; ++j) {
    const int it = tid + j * THREADS;
    if (it < n_qk) {
      const bf16* row = src + (it / P) * D + c * 8;
      ra[j] = *reinterpret_cast<const uint4*>(row);
      rb[j] = *reinterpret_cast<const uint4*>(row + HALF);
    } else if (it < n_all) {
      ra[j] = *reinterpret_cast<const uint4*>(src + n_qk / P * D + (it - n_qk) * 8);
    }
  }
  const int slot = slot_mapping[t];
  if (tid < HALF) {
    float s, co;
    sincosf((float)positions[t] * inv_freq[tid], &s, &co);
    reinterpret_cast<float*>(ang_cs)[tid] = co;
    reinterpret_cast<float*>(ang_sn)[tid] = s;
  }
  __syncthreads();
  float cs[8], sn[8];
  *reinterpret_cast<float4*>(cs) = ang_cs[2 * c], *reinterpret_cast<float4*>(cs + 4) = ang_cs[2 * c + 1];
  *reinterpret_cast<float4*>(sn) = ang_sn[2 * c], *reinterpret_cast<float4*>(sn + 4) = ang_sn[2 * c + 1];
#pragma unroll
  for (int j = 0; j < K; ++j) {
    const int it = tid + j * THREADS;
    if (it < n_qk) {
      const int h = it / P;
      uint4 w0, w1;
      qk_transform_words<bf16, D>(ra[j], rb[j], c, cs, sn, nullptr, 0.f, 0xffffffffu, w0, w1);
      bf16* dst = h < H ? q + ((long long)t * H + h) * D : k + ((long long)t * Hkv + (h - H)) * D;
      *reinterpret_cast<uint4*>(dst + c * 8) = w0;
      *reinterpret_cast<uint4*>(dst + HALF + c * 8) = w1;
      if (h >= H && slot >= 0) {
        bf16* cache = k_cache + ((long long)slot * Hkv + (h - H)) * D;
        *reinterpret_cast<uint4*>(cache + c * 8) = w0;
        *reinterpret_cast<uint4*>(cache + HALF + c * 8) = w1;
      }
    } else if (it < n_all) {
      const int e = (it - n_qk) * 8;  // element offset in the token's v heads
      *reinterpret_cast<uint4*>(v + (long long)t * Hkv * D + e) = ra[j];
      if (slot >= 0) *reinterpret_cast<uint4*>(v_cache + (long long)slot * Hkv * D + e) = ra[j];
    }
  }
}

// ---------------------------------------------------------------- embedding
__global__ void emb_e1(float* x, const int32_t* tokens, const bf16* wte, int num_tokens, int C) {
  pdl_wait();
  pdl_launch_dependents();
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)num_tokens * C) return;
  int t = (int)(i / C), c = (int)(i % C);
  x[i] = to_f32(wte[(int64_t)tokens[t] * C + c]);
}
// grid (tokens, ceil(C/8 / 256))
__global__ void emb_e2(float* x, const int32_t* tokens, const bf16* wte, int C) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x, ch = blockIdx.y * blockDim.x + threadIdx.x;
  if (ch * 8 >= C) return;
  float f[8];
  mma::unpack8<bf16>(*reinterpret_cast<const uint4*>(wte + (int64_t)tokens[t] * C + ch * 8), f);
  float4* o = reinterpret_cast<float4*>(x + (int64_t)t * C + ch * 8);
  o[0] = make_float4(f[0], f[1], f[2], f[3]);
  o[1] = make_float4(f[4], f[5], f[6], f[7]);
}

__global__ void fill_f32_kernel(float* x, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 2654435761u ^ seed * 0x9e3779b9u;
    h ^= h >> 15; h *= 0x2c1b3c6du; h ^= h >> 12; h *= 0x297a2d39u; h ^= h >> 15;
    x[i] = ((h & 0xffff) + (h >> 16)) * (2.0f / 65536.f) - 2.0f;
  }
}

// ---------------------------------------------------------------- problems
std::mt19937_64 g_rng(20261202);

std::vector<uint16_t> rand_bits(size_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<uint16_t> v(n);
  for (auto& e : v) e = lab::float_to_bits(nd(g_rng), true);
  return v;
}
std::vector<float> rand_f32(size_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = nd(g_rng);
  return v;
}
template <class V>
void* upload(const V& h) {
  void* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(1, h.size() * sizeof(h[0]))));
  CK(cudaMemcpy(d, h.data(), h.size() * sizeof(h[0]), cudaMemcpyHostToDevice));
  return d;
}
template <class E>
std::vector<E> download(const void* d, size_t n) {
  std::vector<E> h(n);
  CK(cudaMemcpy(h.data(), d, n * sizeof(E), cudaMemcpyDeviceToHost));
  return h;
}
void* alloc_poisoned(size_t bytes) {
  void* d = nullptr;
  CK(cudaMalloc(&d, bytes));
  CK(cudaMemset(d, 0xff, bytes));  // NaN in bf16 and fp32
  return d;
}
double rel_l2(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(got[i])) return NAN;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}
std::vector<float> bits_to_f32(const std::vector<uint16_t>& b) {
  std::vector<float> f(b.size());
  for (size_t i = 0; i < b.size(); ++i) f[i] = lab::bits_to_float(b[i], true);
  return f;
}

// Device buffers of one call of each kernel (one input set).
struct RmsSet { float* x; bf16* delta; bf16* out; };
struct SiluSet { bf16* x; bf16* y; };
struct RopeSet { bf16 *qkv, *q, *k, *v, *kc, *vc; int32_t *slots, *pos; };
struct EmbSet { float* x; int32_t* tok; };

using RmsFn = void (*)(const RmsSet&, const float* w, int M);
using SiluFn = void (*)(const SiluSet&, int M);
using RopeFn = void (*)(const RopeSet&, const float* inv, int M);
using EmbFn = void (*)(const EmbSet&, const bf16* wte, int M);

// ---- launchers (every launch checked)
void rms_prod(const RmsSet& s, const float* w, int M) {
  residual_rmsnorm_forward(s.out, s.x, s.delta, nullptr, M, kC, w, kEps, DType::BF16, 0);
}
void rms_1(const RmsSet& s, const float* w, int M) {
  launch_pdl(rms_r1<kC / (kR1Threads * 4)>, dim3(M), dim3(kR1Threads), 0, 0, s.out, s.x, (const bf16*)s.delta, kC, w, kEps);
}
template <int THREADS>
void rms_v8_launch(const RmsSet& s, const float* w, int M) {
  launch_pdl(rms_v8<THREADS, kC / (8 * THREADS)>, dim3(M), dim3(THREADS), 0, 0, s.out, s.x, (const bf16*)s.delta, kC, w, kEps);
}
void silu_prod(const SiluSet& s, int M) { silu_mul_forward(s.y, s.x, M, kF, DType::BF16, 0); }
void silu_1(const SiluSet& s, int M) {
  const long long n = (long long)M * (kF / 8);
  launch_pdl(silu_s1, dim3((unsigned)((n + 255) / 256)), dim3(256), 0, 0, s.y, (const bf16*)s.x, M, kF);
}
template <int THREADS, int CPT>
void silu_v2_launch(const SiluSet& s, int M) {
  const int blocks = (kF / 8 + THREADS * CPT - 1) / (THREADS * CPT);
  launch_pdl(silu_v2<THREADS, CPT>, dim3(M, blocks), dim3(THREADS), 0, 0, s.y, (const bf16*)s.x, kF);
}
void rope_prod(const RopeSet& s, const float* inv, int M) {
  qkv_rope_kv_append(s.q, s.k, s.v, s.kc, s.vc, s.qkv, s.slots, s.pos, inv, nullptr, nullptr, kEps, M, kH, kHkv, kD,
                     DType::BF16, 0);
}
void rope_1(const RopeSet& s, const float* inv, int M) {
  const int n_qk = (kH + kHkv) * 8;
  launch_pdl(rope_p1, dim3(M, (n_qk + kP1Threads - 1) / kP1Threads), dim3(kP1Threads), 0, 0, s.q, s.k, s.v, s.kc, s.vc,
             (const bf16*)s.qkv, (const int32_t*)s.slots, (const int32_t*)s.pos, inv, kH, kHkv);
}
template <int THREADS>
void rope_v2_launch(const RopeSet& s, const float* inv, int M) {
  constexpr int items = (kH + kHkv) * 8 + kHkv * 16, K = (items + THREADS - 1) / THREADS;
  launch_pdl(rope_v2<THREADS, K>, dim3(M), dim3(THREADS), 0, 0, s.q, s.k, s.v, s.kc, s.vc, (const bf16*)s.qkv,
             (const int32_t*)s.slots, (const int32_t*)s.pos, inv, kH, kHkv);
}
void emb_prod(const EmbSet& s, const bf16* wte, int M) {
  embedding_forward(s.x, s.tok, nullptr, wte, nullptr, M, kC, DType::BF16, 0);
}
void emb_1(const EmbSet& s, const bf16* wte, int M) {
  const long long n = (long long)M * kC;
  launch_pdl(emb_e1, dim3((unsigned)((n + 255) / 256)), dim3(256), 0, 0, s.x, (const int32_t*)s.tok, wte, M, kC);
}
void emb_2(const EmbSet& s, const bf16* wte, int M) {
  launch_pdl(emb_e2, dim3(M, (kC / 8 + 255) / 256), dim3(256), 0, 0, s.x, (const int32_t*)s.tok, wte, kC);
}

struct Version { const char* name; void* fn; };
const Version kRms[] = {{"prod", (void*)rms_prod}, {"r1", (void*)rms_1}, {"r2", (void*)rms_v8_launch<256>},
                        {"r3", (void*)rms_v8_launch<512>}, {"r4", (void*)rms_v8_launch<128>}};
const Version kSilu[] = {{"prod", (void*)silu_prod}, {"s1", (void*)silu_1}, {"s2", (void*)silu_v2_launch<256, 1>},
                         {"s3", (void*)silu_v2_launch<128, 2>}};
const Version kRope[] = {{"prod", (void*)rope_prod}, {"p1", (void*)rope_1}, {"p2", (void*)rope_v2_launch<128>},
                         {"p3", (void*)rope_v2_launch<256>}, {"p4", (void*)rope_v2_launch<64>}};
const Version kEmb[] = {{"prod", (void*)emb_prod}, {"e1", (void*)emb_1}, {"e2", (void*)emb_2}};

int g_fail = 0;
void report(const char* kernel, const char* ver, int M, bool ok, const char* detail) {
  std::printf("%-6s %-8s %-5s M=%-5d %s\n", ok ? "OK" : "NOT OK", kernel, ver, M, detail);
  if (!ok) ++g_fail;
}

// ---------------------------------------------------------------- checks (fresh inputs per call)
void check_rms(const Version& ver, int M, const float* d_w, const std::vector<float>& w) {
  auto x0 = rand_f32((size_t)M * kC, 2.f);
  auto delta = rand_bits((size_t)M * kC);
  RmsSet s{(float*)upload(x0), (bf16*)upload(delta), (bf16*)alloc_poisoned((size_t)M * kC * 2)};
  ((RmsFn)ver.fn)(s, d_w, M);
  CK(cudaDeviceSynchronize());
  auto out = bits_to_f32(download<uint16_t>(s.out, (size_t)M * kC));
  auto x1 = download<float>(s.x, (size_t)M * kC);
  std::vector<double> ref((size_t)M * kC);
  double max_dx = 0;
  for (int r = 0; r < M; ++r) {
    double sq = 0;
    for (int c = 0; c < kC; ++c) {
      const size_t i = (size_t)r * kC + c;
      const double xv = (double)x0[i] + lab::bits_to_float(delta[i], true);
      ref[i] = xv;
      sq += xv * xv;
      max_dx = std::max(max_dx, std::fabs(x1[i] - xv) / (1.0 + std::fabs(xv)));
    }
    const double inv = 1.0 / std::sqrt(sq / kC + kEps);
    for (int c = 0; c < kC; ++c) ref[(size_t)r * kC + c] *= inv * w[c];
  }
  const double e = rel_l2(out, ref);
  char buf[128];
  std::snprintf(buf, sizeof buf, "out rel %.2e, residual max rel %.1e", e, max_dx);
  report("rmsnorm", ver.name, M, e < 1e-2 && max_dx < 1e-6, buf);
  for (void* p : {(void*)s.x, (void*)s.delta, (void*)s.out}) CK(cudaFree(p));
}

void check_silu(const Version& ver, int M) {
  auto x = rand_bits((size_t)M * 2 * kF, 2.f);
  SiluSet s{(bf16*)upload(x), (bf16*)alloc_poisoned((size_t)M * kF * 2)};
  ((SiluFn)ver.fn)(s, M);
  CK(cudaDeviceSynchronize());
  auto y = bits_to_f32(download<uint16_t>(s.y, (size_t)M * kF));
  std::vector<double> ref((size_t)M * kF);
  for (int r = 0; r < M; ++r)
    for (int i = 0; i < kF; ++i) {
      const double g = lab::bits_to_float(x[(size_t)r * 2 * kF + i], true), u = lab::bits_to_float(x[(size_t)r * 2 * kF + kF + i], true);
      ref[(size_t)r * kF + i] = g / (1 + std::exp(-g)) * u;
    }
  const double e = rel_l2(y, ref);
  char buf[64];
  std::snprintf(buf, sizeof buf, "rel %.2e", e);
  report("silu_mul", ver.name, M, e < 1e-2, buf);
  CK(cudaFree(s.x));
  CK(cudaFree(s.y));
}

std::vector<float> llama3_inv_freq() {  // base 500000 (the llama3 scaling is just another table)
  std::vector<float> inv(kD / 2);
  for (int i = 0; i < kD / 2; ++i) inv[i] = (float)(1.0 / std::pow(500000.0, (2.0 * i) / kD));
  return inv;
}
// Scattered pages of kPage slots, every kCacheSlotsPerTok-th token without a cache slot (-1).
std::vector<int32_t> make_slots(int M, int num_slots, bool with_holes) {
  const int pages = num_slots / kPage;
  std::vector<int32_t> perm(pages);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), g_rng);
  std::vector<int32_t> s(M);
  for (int t = 0; t < M; ++t) s[t] = perm[t / kPage] * kPage + t % kPage;
  if (with_holes) s[3] = -1;
  return s;
}

void check_rope(const Version& ver, int M, const float* d_inv, const std::vector<float>& inv) {
  const int num_slots = (M / kPage + 2) * kPage;
  auto qkv = rand_bits((size_t)M * kQkv);
  auto slots = make_slots(M, num_slots, true);
  std::vector<int32_t> pos(M);
  for (int t = 0; t < M; ++t) pos[t] = (int)(g_rng() % 131072);
  const size_t qn = (size_t)M * kH * kD, kn = (size_t)M * kHkv * kD, cn = (size_t)num_slots * kHkv * kD;
  std::vector<uint16_t> cache0(cn, 0x1234);
  RopeSet s{(bf16*)upload(qkv), (bf16*)alloc_poisoned(qn * 2), (bf16*)alloc_poisoned(kn * 2), (bf16*)alloc_poisoned(kn * 2),
            (bf16*)upload(cache0), (bf16*)upload(cache0), (int32_t*)upload(slots), (int32_t*)upload(pos)};
  ((RopeFn)ver.fn)(s, d_inv, M);
  CK(cudaDeviceSynchronize());
  auto q = bits_to_f32(download<uint16_t>(s.q, qn)), k = bits_to_f32(download<uint16_t>(s.k, kn));
  auto v = download<uint16_t>(s.v, kn), kc = download<uint16_t>(s.kc, cn), vc = download<uint16_t>(s.vc, cn);
  std::vector<double> qref(qn), kref(kn);
  const int half = kD / 2;
  auto rot = [&](const uint16_t* src, int p, double* dst) {
    for (int i = 0; i < half; ++i) {
      const double ang = (double)((float)p * inv[i]), a = lab::bits_to_float(src[i], true),
                   b = lab::bits_to_float(src[i + half], true);
      dst[i] = a * std::cos(ang) - b * std::sin(ang);
      dst[i + half] = b * std::cos(ang) + a * std::sin(ang);
    }
  };
  bool v_ok = true, kc_ok = true;
  std::vector<float> kc_got;
  std::vector<double> kc_ref;
  for (int t = 0; t < M; ++t) {
    const uint16_t* row = &qkv[(size_t)t * kQkv];
    for (int h = 0; h < kH; ++h) rot(row + h * kD, pos[t], &qref[((size_t)t * kH + h) * kD]);
    for (int h = 0; h < kHkv; ++h) {
      rot(row + (kH + h) * kD, pos[t], &kref[((size_t)t * kHkv + h) * kD]);
      for (int d = 0; d < kD; ++d) {
        const uint16_t want = row[(kH + kHkv + h) * kD + d];
        v_ok &= v[((size_t)t * kHkv + h) * kD + d] == want;
        if (slots[t] >= 0) {
          const size_t ci = ((size_t)slots[t] * kHkv + h) * kD + d;
          v_ok &= vc[ci] == want;
          kc_got.push_back(lab::bits_to_float(kc[ci], true));
          kc_ref.push_back(kref[((size_t)t * kHkv + h) * kD + d]);
        }
      }
    }
  }
  size_t untouched = 0;
  for (size_t i = 0; i < cn; ++i) untouched += vc[i] == 0x1234;
  kc_ok = untouched == cn - (size_t)(M - 1) * kHkv * kD;
  const double eq = rel_l2(q, qref), ek = rel_l2(k, kref), ec = rel_l2(kc_got, kc_ref);
  char buf[160];
  std::snprintf(buf, sizeof buf, "q rel %.2e, k rel %.2e, k cache rel %.2e%s%s", eq, ek, ec, v_ok ? "" : ", v WRONG",
                kc_ok ? "" : ", cache slots written that should not be");
  report("rope", ver.name, M, eq < 1e-2 && ek < 1e-2 && ec < 1e-2 && v_ok && kc_ok, buf);
  for (void* p : {(void*)s.qkv, (void*)s.q, (void*)s.k, (void*)s.v, (void*)s.kc, (void*)s.vc, (void*)s.slots, (void*)s.pos})
    CK(cudaFree(p));
}

void check_emb(const Version& ver, int M, const bf16* d_wte, const std::vector<uint16_t>& wte_rows, int table_rows) {
  std::vector<int32_t> tok(M);
  for (int t = 0; t < M; ++t) tok[t] = (int)(g_rng() % table_rows);
  EmbSet s{(float*)alloc_poisoned((size_t)M * kC * 4), (int32_t*)upload(tok)};
  ((EmbFn)ver.fn)(s, d_wte, M);
  CK(cudaDeviceSynchronize());
  auto x = download<float>(s.x, (size_t)M * kC);
  size_t bad = 0;
  for (int t = 0; t < M; ++t)
    for (int c = 0; c < kC; ++c) bad += x[(size_t)t * kC + c] != lab::bits_to_float(wte_rows[(size_t)tok[t] * kC + c], true);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu elements differ", bad);
  report("embed", ver.name, M, bad == 0, buf);
  CK(cudaFree(s.x));
  CK(cudaFree(s.tok));
}

// ---------------------------------------------------------------- timing
// Sets of inputs so that one pass over them moves >= 4 x L2 (~240 MB), at least 2.
int num_sets(double bytes_per_call) { return std::max(2, (int)std::ceil(240e6 / bytes_per_call)); }

// Median over 7 batches of the time per call, each batch `calls` back-to-back launches over the sets.
template <class Launch>
double time_us(Launch&& launch, int sets) {
  const int calls = std::max(20, 2 * sets);
  for (int i = 0; i < sets; ++i) launch(i);
  CK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int rep = 0; rep < 7; ++rep) {
    CK(cudaEventRecord(a));
    for (int i = 0; i < calls; ++i) launch(i % sets);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float t = 0;
    CK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  CK(cudaGetLastError());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[3] * 1e3 / calls;
}

double g_copy_gbs = 0;
struct Row { std::string kernel, ver; int M; double bytes, us; };
std::vector<Row> g_rows;
void print_row(const Row& r) {
  const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
  std::printf("%-8s %-5s M=%-5d %8.1f MB %9.2f us %7.0f GB/s %5.1f %% copy\n", r.kernel.c_str(), r.ver.c_str(), r.M,
              r.bytes / 1e6, r.us, gbs, 100.0 * gbs / g_copy_gbs);
}
void add_row(const char* kernel, const char* ver, int M, double bytes, double us) {
  g_rows.push_back({kernel, ver, M, bytes, us});
  print_row(g_rows.back());
  std::fflush(stdout);
}

double measure_copy() {
  const size_t bytes = 1ull << 30;
  void *a = nullptr, *b = nullptr;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  const double us = time_us([&](int) { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0)); }, 1);
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * bytes / (us * 1e-6) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const bool check_only = argc > 1 && std::strcmp(argv[1], "check") == 0;
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs, L2 %.0f MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6);

  // Parameters shared by every call: RMSNorm weight, inverse frequencies, an embedding table.
  auto w = rand_f32(kC, 0.1f);
  for (float& e : w) e += 1.f;
  const float* d_w = (const float*)upload(w);
  const auto inv = llama3_inv_freq();
  const float* d_inv = (const float*)upload(inv);
  const int check_table_rows = 2048;  // the checks gather from the first rows (host copy kept small)
  auto wte_head = rand_bits((size_t)check_table_rows * kC);
  bf16* d_wte = nullptr;
  CK(cudaMalloc(&d_wte, (size_t)kVocab * kC * 2));
  lab::device_fill(d_wte, (size_t)kVocab * kC, 77, true);
  CK(cudaMemcpy(d_wte, wte_head.data(), wte_head.size() * 2, cudaMemcpyHostToDevice));

  for (int M : {128, 1037}) {
    for (const auto& v : kRms) check_rms(v, M, d_w, w);
    for (const auto& v : kSilu) check_silu(v, M);
    for (const auto& v : kRope) check_rope(v, M, d_inv, inv);
    for (const auto& v : kEmb) check_emb(v, M, d_wte, wte_head, check_table_rows);
  }
  std::printf("checks: %d failure(s)\n", g_fail);
  if (check_only || g_fail) return g_fail ? 1 : 0;

  g_copy_gbs = measure_copy();
  std::printf("copy ceiling: %.0f GB/s (1 GB cudaMemcpy device to device, read + write)\n", g_copy_gbs);
  for (int M : {8192, 128}) {
    {  // RMSNorm
      const double bytes = (double)M * kC * (4 + 4 + 2 + 2);
      const int S = num_sets(bytes);
      std::vector<RmsSet> sets(S);
      for (int i = 0; i < S; ++i) {
        CK(cudaMalloc(&sets[i].x, (size_t)M * kC * 4));
        CK(cudaMalloc(&sets[i].delta, (size_t)M * kC * 2));
        CK(cudaMalloc(&sets[i].out, (size_t)M * kC * 2));
        fill_f32_kernel<<<1024, 256>>>(sets[i].x, (size_t)M * kC, 100 + i);
        CK(cudaGetLastError());
        lab::device_fill(sets[i].delta, (size_t)M * kC, 200 + i, true);
      }
      for (const auto& v : kRms) add_row("rmsnorm", v.name, M, bytes, time_us([&](int i) { ((RmsFn)v.fn)(sets[i], d_w, M); }, S));
      for (auto& s : sets) for (void* p : {(void*)s.x, (void*)s.delta, (void*)s.out}) CK(cudaFree(p));
    }
    {  // SiLU x up
      const double bytes = (double)M * kF * 2 * 3;
      const int S = num_sets(bytes);
      std::vector<SiluSet> sets(S);
      for (int i = 0; i < S; ++i) {
        CK(cudaMalloc(&sets[i].x, (size_t)M * 2 * kF * 2));
        CK(cudaMalloc(&sets[i].y, (size_t)M * kF * 2));
        lab::device_fill(sets[i].x, (size_t)M * 2 * kF, 300 + i, true);
      }
      for (const auto& v : kSilu) add_row("silu_mul", v.name, M, bytes, time_us([&](int i) { ((SiluFn)v.fn)(sets[i], M); }, S));
      for (auto& s : sets) for (void* p : {(void*)s.x, (void*)s.y}) CK(cudaFree(p));
    }
    {  // RoPE + append: one sequence's positions 0..M-1 (prefill), scattered pages, every slot valid
      const double bytes = (double)M * (kQkv * 2 + (kH + 2 * kHkv) * kD * 2 + 2 * kHkv * kD * 2);
      const int S = num_sets(bytes);
      std::vector<RopeSet> sets(S);
      std::vector<int32_t> pos(M);
      std::iota(pos.begin(), pos.end(), 0);
      for (int i = 0; i < S; ++i) {
        auto& s = sets[i];
        const int num_slots = (M / kPage + 1) * kPage;
        CK(cudaMalloc(&s.qkv, (size_t)M * kQkv * 2));
        CK(cudaMalloc(&s.q, (size_t)M * kH * kD * 2));
        CK(cudaMalloc(&s.k, (size_t)M * kHkv * kD * 2));
        CK(cudaMalloc(&s.v, (size_t)M * kHkv * kD * 2));
        CK(cudaMalloc(&s.kc, (size_t)num_slots * kHkv * kD * 2));
        CK(cudaMalloc(&s.vc, (size_t)num_slots * kHkv * kD * 2));
        lab::device_fill(s.qkv, (size_t)M * kQkv, 400 + i, true);
        s.slots = (int32_t*)upload(make_slots(M, num_slots, false));
        s.pos = (int32_t*)upload(pos);
      }
      for (const auto& v : kRope) add_row("rope", v.name, M, bytes, time_us([&](int i) { ((RopeFn)v.fn)(sets[i], d_inv, M); }, S));
      for (auto& s : sets)
        for (void* p : {(void*)s.qkv, (void*)s.q, (void*)s.k, (void*)s.v, (void*)s.kc, (void*)s.vc, (void*)s.slots, (void*)s.pos})
          CK(cudaFree(p));
    }
    {  // embedding: random token ids over the whole 128256-row table
      const double bytes = (double)M * kC * (2 + 4);
      const int S = num_sets(bytes);
      std::vector<EmbSet> sets(S);
      for (int i = 0; i < S; ++i) {
        std::vector<int32_t> tok(M);
        for (auto& t : tok) t = (int)(g_rng() % kVocab);
        CK(cudaMalloc(&sets[i].x, (size_t)M * kC * 4));
        sets[i].tok = (int32_t*)upload(tok);
      }
      for (const auto& v : kEmb) add_row("embed", v.name, M, bytes, time_us([&](int i) { ((EmbFn)v.fn)(sets[i], d_wte, M); }, S));
      for (auto& s : sets) for (void* p : {(void*)s.x, (void*)s.tok}) CK(cudaFree(p));
    }
  }
  std::printf("\n== summary (copy ceiling %.0f GB/s) ==\n", g_copy_gbs);
  for (const auto& r : g_rows) print_row(r);
  return 0;
}
