// Each CUDA kernel (and the cuBLASLt GEMM wrapper) against a CPU fp32 reference on fresh random
// inputs of odd sizes, fp16 and bf16. Prints OK / NOT OK per check; exit code = failures > 0.
#include <algorithm>
#include <cfloat>
#include <cstdio>

#include "cpu/sampling.h"
#include "cuda/gemm.h"
#include "cuda_test_util.h"
#include "kernels/cast.cuh"
#include "kernels/embedding.cuh"
#include "kernels/gelu.cuh"
#include "kernels/gemm_decode_sm90.cuh"
#include "kernels/kv_append.cuh"
#include "kernels/layernorm.cuh"
#include "kernels/logprobs.cuh"
#include "kernels/residual.cuh"
#include "kernels/rope_append.cuh"
#include "kernels/silu_mul.cuh"
#include "kernels/sampling.cuh"
#include "kernels/skinny_gemm.cuh"
#include "kernels/skinny_gemm_tc.cuh"
#include "kernels/top_logprobs.cuh"

using namespace attnbench;
using namespace attnbench::test;

static std::mt19937 rng(1234);

// C = 96: the 8-wide vector kernel; 90: one thread per element.
static void test_embedding(DType t, int C) {
  const int V = 1001, P = 77, T = 37;
  auto wte = round16(randn((size_t)V * C, rng), t), wpe = round16(randn((size_t)P * C, rng), t);
  std::vector<int32_t> tok(T), pos(T);
  for (int i = 0; i < T; ++i) { tok[i] = rng() % V; pos[i] = rng() % P; }
  auto d_wte = to_device(to_bits(wte, t)), d_wpe = to_device(to_bits(wpe, t));
  auto d_tok = to_device(tok), d_pos = to_device(pos);
  float* d_x = to_device(std::vector<float>((size_t)T * C, NAN));
  embedding_forward(d_x, d_tok, d_pos, d_wte, d_wpe, T, C, t, 0);
  auto x = to_host(d_x, (size_t)T * C);
  std::vector<float> ref((size_t)T * C);
  for (int i = 0; i < T; ++i)
    for (int c = 0; c < C; ++c) ref[(size_t)i * C + c] = wte[(size_t)tok[i] * C + c] + wpe[(size_t)pos[i] * C + c];
  double e = rel_l2(x, ref);
  check(e < 1e-6, std::string("embedding ") + dtype_name(t) + " C=" + std::to_string(C) + fmt(" rel %.2e", e));
}

// No learned positions (Llama): wpe null.
static void test_embedding_no_pos(DType t) {
  const int V = 513, C = 72, T = 21;
  auto wte = round16(randn((size_t)V * C, rng), t);
  std::vector<int32_t> tok(T), pos(T, 7);
  for (int i = 0; i < T; ++i) tok[i] = rng() % V;
  auto d_wte = to_device(to_bits(wte, t));
  auto d_tok = to_device(tok), d_pos = to_device(pos);
  float* d_x = to_device(std::vector<float>((size_t)T * C, NAN));
  embedding_forward(d_x, d_tok, d_pos, d_wte, nullptr, T, C, t, 0);
  auto x = to_host(d_x, (size_t)T * C);
  std::vector<float> ref((size_t)T * C);
  for (int i = 0; i < T; ++i)
    for (int c = 0; c < C; ++c) ref[(size_t)i * C + c] = wte[(size_t)tok[i] * C + c];
  double e = rel_l2(x, ref);
  check(e < 1e-6, std::string("embedding without positions ") + dtype_name(t) + fmt(" rel %.2e", e));
}

// RMSNorm with the residual add fused, C = 200 / 198 / 199 as for LayerNorm, and a wide row (4096:
// Llama 8B) on the block-per-row path.
static void test_residual_rmsnorm(DType t, bool gather, int C) {
  const int T = 23, R = gather ? 5 : T;
  auto x0 = randn((size_t)T * C, rng), delta = round16(randn((size_t)T * C, rng), t);
  auto w = randn(C, rng, 0.1f);
  for (float& v : w) v += 1.f;
  std::vector<int32_t> rows;
  for (int i = 0; i < R; ++i) rows.push_back(gather ? (i * 3 + 2) % T : i);
  float* d_x = to_device(x0);
  auto d_delta = to_device(to_bits(delta, t));
  auto d_w = to_device(w);
  auto d_rows = to_device(rows);
  auto d_out = poisoned16((size_t)R * C);
  residual_rmsnorm_forward(d_out, d_x, d_delta, gather ? d_rows : nullptr, R, C, d_w, 1e-6f, t, 0);
  auto out = from_bits(to_host(d_out, (size_t)R * C), t);
  auto x_after = to_host(d_x, (size_t)T * C);
  std::vector<float> ref((size_t)R * C);
  bool residual_ok = true;
  for (int i = 0; i < R; ++i) {
    const int r = rows[i];
    double sq = 0;
    std::vector<double> xr(C);
    for (int c = 0; c < C; ++c) {
      xr[c] = (double)x0[(size_t)r * C + c] + delta[(size_t)r * C + c];
      sq += xr[c] * xr[c];
      residual_ok &= std::fabs(x_after[(size_t)r * C + c] - xr[c]) < 1e-5;
    }
    const double inv = 1.0 / std::sqrt(sq / C + 1e-6);
    for (int c = 0; c < C; ++c) ref[(size_t)i * C + c] = (float)(xr[c] * inv * w[c]);
  }
  double e = rel_l2(out, ref);
  check(e < (t == DType::F16 ? 2e-3 : 1e-2) && residual_ok, std::string("residual_rmsnorm ") + dtype_name(t) +
                                                                (gather ? " gather" : "") + " C=" + std::to_string(C) + fmt(" rel %.2e", e));
}

// q/k norm (optional) + rotary embedding + append, against a double reference. Head dims 16-256
// (powers of two: the vector kernel; 96: the one-warp kernel), GQA 4:1 and 1:1, positions up to 100k
// (llama3-scaled frequencies are just another inv_freq table), T tokens (300: several head groups).
static void test_rope_append(DType t, int D, int H, int Hkv, bool qk_norm, int T = 17) {
  const int bs = 16, blocks = (T + 1 + bs - 1) / bs + 1, half = D / 2;
  const int heads = H + 2 * Hkv, N = heads * D;
  auto qkv = round16(randn((size_t)T * N, rng), t);
  std::vector<int32_t> slots(T), pos(T);
  std::vector<int> perm(blocks * bs);
  for (int i = 0; i < blocks * bs; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int i = 0; i < T; ++i) { slots[i] = perm[i]; pos[i] = (int)(rng() % 100000); }
  slots[3] = -1;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = (float)(1.0 / std::pow(500000.0, (2.0 * i) / D));
  auto qn = randn(D, rng, 0.1f), kn = randn(D, rng, 0.1f);
  for (float& v : qn) v += 1.f;
  for (float& v : kn) v += 1.f;
  auto d_qkv = to_device(to_bits(qkv, t));
  auto d_slots = to_device(slots), d_pos = to_device(pos);
  auto d_inv = to_device(inv), d_qn = to_device(qn), d_kn = to_device(kn);
  auto d_q = poisoned16((size_t)T * H * D), d_k = poisoned16((size_t)T * Hkv * D), d_v = poisoned16((size_t)T * Hkv * D);
  std::vector<uint16_t> cache0((size_t)blocks * bs * Hkv * D, 0x1234);
  auto d_kc = to_device(cache0), d_vc = to_device(cache0);
  qkv_rope_kv_append(d_q, d_k, d_v, d_kc, d_vc, d_qkv, d_slots, d_pos, d_inv, qk_norm ? d_qn : nullptr,
                     qk_norm ? d_kn : nullptr, 1e-6f, T, H, Hkv, D, t, 0);
  auto q = from_bits(to_host(d_q, (size_t)T * H * D), t), k = from_bits(to_host(d_k, (size_t)T * Hkv * D), t);
  auto v = to_host(d_v, (size_t)T * Hkv * D);
  auto kc = from_bits(to_host(d_kc, cache0.size()), t);
  auto vc_bits = to_host(d_vc, cache0.size());
  auto qkv_bits = to_bits(qkv, t);
  std::vector<float> qref((size_t)T * H * D), kref((size_t)T * Hkv * D), kc_got, kc_ref;
  auto rot = [&](const float* src, const std::vector<float>& nw, int p, float* dst) {
    std::vector<double> x(src, src + D);
    if (qk_norm) {
      double sq = 0;
      for (double a : x) sq += a * a;
      const double r = 1.0 / std::sqrt(sq / D + 1e-6);
      for (int i = 0; i < D; ++i) x[i] = x[i] * r * nw[i];
    }
    for (int i = 0; i < half; ++i) {
      const double ang = (double)((float)p * inv[i]);
      dst[i] = (float)(x[i] * std::cos(ang) - x[i + half] * std::sin(ang));
      dst[i + half] = (float)(x[i + half] * std::cos(ang) + x[i] * std::sin(ang));
    }
  };
  bool v_ok = true, untouched_ok = true;
  for (int i = 0; i < T; ++i) {
    for (int h = 0; h < H; ++h) rot(&qkv[(size_t)i * N + h * D], qn, pos[i], &qref[((size_t)i * H + h) * D]);
    for (int h = 0; h < Hkv; ++h) {
      rot(&qkv[(size_t)i * N + (H + h) * D], kn, pos[i], &kref[((size_t)i * Hkv + h) * D]);
      for (int d = 0; d < D; ++d) {
        const uint16_t want = qkv_bits[(size_t)i * N + (H + Hkv + h) * D + d];
        v_ok &= v[((size_t)i * Hkv + h) * D + d] == want;
        if (slots[i] >= 0) {
          v_ok &= vc_bits[((size_t)slots[i] * Hkv + h) * D + d] == want;
          kc_got.push_back(kc[((size_t)slots[i] * Hkv + h) * D + d]);
          kc_ref.push_back(kref[((size_t)i * Hkv + h) * D + d]);
        }
      }
    }
  }
  size_t untouched = 0;
  for (uint16_t x : vc_bits) untouched += x == 0x1234;
  untouched_ok = untouched == cache0.size() - (size_t)(T - 1) * Hkv * D;
  const double eq = rel_l2(q, qref), ek = rel_l2(k, kref), ec = rel_l2(kc_got, kc_ref);
  const double tol = t == DType::F16 ? 2e-3 : 1e-2;
  check(eq < tol && ek < tol && ec < tol && v_ok && untouched_ok,
        std::string("qkv_rope_kv_append ") + dtype_name(t) + " D=" + std::to_string(D) + " H=" + std::to_string(H) + "/" +
            std::to_string(Hkv) + (qk_norm ? " qk_norm" : "") + " T=" + std::to_string(T) + fmt(" q rel %.2e", eq) + fmt(" k rel %.2e", ek) +
            (v_ok ? "" : " (v wrong)") + (untouched_ok ? "" : " (cache slots written that should not be)"));
}

static void test_silu_mul(DType t, int F) {
  const int R = 11;
  auto x = round16(randn((size_t)R * 2 * F, rng, 2.f), t);
  auto d_x = to_device(to_bits(x, t));
  auto d_y = poisoned16((size_t)R * F);
  silu_mul_forward(d_y, d_x, R, F, t, 0);
  auto y = from_bits(to_host(d_y, (size_t)R * F), t);
  std::vector<float> ref((size_t)R * F);
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < F; ++i) {
      const double g = x[(size_t)r * 2 * F + i], u = x[(size_t)r * 2 * F + F + i];
      ref[(size_t)r * F + i] = (float)(g / (1 + std::exp(-g)) * u);
    }
  double e = rel_l2(y, ref);
  check(e < (t == DType::F16 ? 2e-3 : 1e-2), std::string("silu_mul ") + dtype_name(t) + " F=" + std::to_string(F) + fmt(" rel %.2e", e));
}

// C = 200 takes the 4-wide vector path, 198 the 2-wide, 199 the scalar one, 4096 the 8-wide one for
// wide rows.
static void test_residual_layernorm(DType t, bool gather, int C = 200) {
  const int T = 29, R = gather ? 7 : T;
  auto x0 = randn((size_t)T * C, rng), delta = round16(randn((size_t)T * C, rng), t);
  auto w = randn(C, rng, 0.1f), b = randn(C, rng, 0.1f);
  for (float& v : w) v += 1.f;
  std::vector<int32_t> rows;
  for (int i = 0; i < R; ++i) rows.push_back(gather ? (i * 4 + 1) % T : i);
  float* d_x = to_device(x0);
  auto d_delta = to_device(to_bits(delta, t));
  auto d_w = to_device(w), d_b = to_device(b);
  auto d_rows = to_device(rows);
  auto d_out = poisoned16((size_t)R * C);
  residual_layernorm_forward(d_out, d_x, d_delta, gather ? d_rows : nullptr, R, C, d_w, d_b, 1e-5f, t, 0);
  auto out = from_bits(to_host(d_out, (size_t)R * C), t);
  std::vector<float> ref((size_t)R * C);
  for (int i = 0; i < R; ++i) {
    const int r = rows[i];
    double mean = 0, var = 0;
    std::vector<double> xr(C);
    for (int c = 0; c < C; ++c) mean += (xr[c] = (double)x0[(size_t)r * C + c] + delta[(size_t)r * C + c]);
    mean /= C;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    for (int c = 0; c < C; ++c) ref[(size_t)i * C + c] = (float)((xr[c] - mean) / std::sqrt(var + 1e-5) * w[c] + b[c]);
  }
  double e = rel_l2(out, ref);
  check(e < (t == DType::F16 ? 2e-3 : 1e-2),
        std::string("residual_layernorm ") + dtype_name(t) + (gather ? " gather" : "") + " C=" + std::to_string(C) + fmt(" rel %.2e", e));
}

static void test_residual(DType t) {
  const long long n = 12345;
  auto x = randn(n, rng), d = round16(randn(n, rng), t);
  float* d_x = to_device(x);
  auto d_d = to_device(to_bits(d, t));
  residual_forward(d_x, d_d, n, t, 0);
  auto out = to_host(d_x, n);
  std::vector<float> ref(n);
  for (long long i = 0; i < n; ++i) ref[i] = x[i] + d[i];
  double e = rel_l2(out, ref);
  check(e < 1e-6, std::string("residual ") + dtype_name(t) + fmt(" rel %.2e", e));
}

static void test_bias_gelu(DType t) {
  const int R = 13, N = 301;
  auto y = round16(randn((size_t)R * N, rng, 2.f), t), b = round16(randn(N, rng), t);
  auto d_y = to_device(to_bits(y, t)), d_b = to_device(to_bits(b, t));
  bias_gelu_forward(d_y, d_b, R, N, t, 0);
  auto out = from_bits(to_host(d_y, (size_t)R * N), t);
  std::vector<float> ref((size_t)R * N);
  for (int i = 0; i < R * N; ++i) ref[i] = gelu_new(y[i] + b[i % N]);
  double e = rel_l2(out, ref);
  check(e < (t == DType::F16 ? 2e-3 : 1e-2), std::string("bias_gelu ") + dtype_name(t) + fmt(" rel %.2e", e));
}

static void test_kv_append(DType t) {
  const int T = 19, H = 3, Hkv = 3, D = 64, bs = 16, blocks = 5;
  const int N = (H + 2 * Hkv) * D;
  auto qkv = to_bits(randn((size_t)T * N, rng), t);
  std::vector<int32_t> slots(T);
  std::vector<int> perm(blocks * bs);
  for (int i = 0; i < blocks * bs; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int i = 0; i < T; ++i) slots[i] = perm[i];
  slots[5] = -1;  // padding: no cache write
  auto d_qkv = to_device(qkv);
  auto d_slots = to_device(slots);
  auto d_q = poisoned16((size_t)T * H * D), d_k = poisoned16((size_t)T * Hkv * D), d_v = poisoned16((size_t)T * Hkv * D);
  std::vector<uint16_t> cache0((size_t)blocks * bs * Hkv * D, 0x1234);
  auto d_kc = to_device(cache0), d_vc = to_device(cache0);
  qkv_split_kv_append(d_q, d_k, d_v, d_kc, d_vc, d_qkv, d_slots, T, H, Hkv, D, t, 0);
  auto q = to_host(d_q, (size_t)T * H * D), k = to_host(d_k, (size_t)T * Hkv * D), v = to_host(d_v, (size_t)T * Hkv * D);
  auto kc = to_host(d_kc, cache0.size()), vc = to_host(d_vc, cache0.size());
  bool ok = true;
  const int C = H * D, Ckv = Hkv * D;
  for (int i = 0; i < T; ++i) {
    for (int c = 0; c < C; ++c) ok &= q[(size_t)i * C + c] == qkv[(size_t)i * N + c];
    for (int c = 0; c < Ckv; ++c) {
      ok &= k[(size_t)i * Ckv + c] == qkv[(size_t)i * N + C + c];
      ok &= v[(size_t)i * Ckv + c] == qkv[(size_t)i * N + C + Ckv + c];
      if (slots[i] >= 0) {
        ok &= kc[(size_t)slots[i] * Ckv + c] == qkv[(size_t)i * N + C + c];
        ok &= vc[(size_t)slots[i] * Ckv + c] == qkv[(size_t)i * N + C + Ckv + c];
      }
    }
  }
  size_t untouched = 0;
  for (uint16_t x : kc) untouched += x == 0x1234;
  ok &= untouched == cache0.size() - (size_t)(T - 1) * Ckv;
  check(ok, std::string("qkv_split_kv_append ") + dtype_name(t));
}

static void test_cast() {
  const int R = 33, Cc = 70;
  auto in = randn((size_t)R * Cc, rng);
  float* d_in = to_device(in);
  auto d_out = poisoned16((size_t)R * Cc);
  cast_f32_forward(d_out, d_in, R, Cc, true, DType::F16, 0);
  auto out = from_bits(to_host(d_out, (size_t)R * Cc), DType::F16);
  auto rin = round16(in, DType::F16);
  bool ok = true;
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < Cc; ++c) ok &= out[(size_t)c * R + r] == rin[(size_t)r * Cc + c];
  check(ok, "cast_f32 transpose fp16");
}

// y = x . w^T (+ bias, then gelu_new), x [M, K], w [N, K], in double: every GEMM test's reference.
static std::vector<float> gemm_ref(const std::vector<float>& x, const std::vector<float>& w, int M, int N, int K,
                                   const std::vector<float>* bias = nullptr, bool gelu = false) {
  std::vector<float> ref((size_t)M * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = bias ? (*bias)[n] : 0;
      for (int k = 0; k < K; ++k) acc += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
      ref[(size_t)m * N + n] = gelu ? gelu_new((float)acc) : (float)acc;
    }
  return ref;
}
// A GEMM's M x N result on the host: fp32 rows ldy apart, or packed 16-bit rows of type t.
static std::vector<float> gemm_result(const void* d_y, bool f32, int M, int N, int ldy, DType t) {
  if (!f32) return from_bits(to_host((const uint16_t*)d_y, (size_t)M * N), t);
  auto all = to_host((const float*)d_y, (size_t)M * ldy);
  std::vector<float> y;
  for (int m = 0; m < M; ++m) y.insert(y.end(), all.begin() + (size_t)m * ldy, all.begin() + (size_t)m * ldy + N);
  return y;
}

static void test_gemm(DType t, GemmEpilogue ep, Gemm& gemm) {
  const int M = 37, N = 200, K = 72;
  auto x = round16(randn((size_t)M * K, rng), t), w = round16(randn((size_t)N * K, rng, 0.1f), t);
  auto b = round16(randn(N, rng), t);
  auto d_x = to_device(to_bits(x, t)), d_w = to_device(to_bits(w, t)), d_b = to_device(to_bits(b, t));
  auto d_y = poisoned16((size_t)M * N);
  gemm.linear(0, d_y, d_x, d_w, ep == GemmEpilogue::None ? nullptr : d_b, M, N, K, t, t, ep);
  auto y = from_bits(to_host(d_y, (size_t)M * N), t);
  const auto ref = gemm_ref(x, w, M, N, K, ep == GemmEpilogue::None ? nullptr : &b, ep == GemmEpilogue::BiasGelu);
  double e = rel_l2(y, ref);
  const char* en = ep == GemmEpilogue::None ? "none" : ep == GemmEpilogue::Bias ? "bias" : "bias+gelu";
  check(e < (t == DType::F16 ? 2e-3 : 1e-2),
        std::string("gemm ") + dtype_name(t) + " " + en + (ep == GemmEpilogue::BiasGelu && gemm.fused_gelu() ? " (cuBLASLt epilogue)" : "") +
            fmt(" rel %.2e", e));
}

static void test_gemm_f32_out(Gemm& gemm) {  // the LM head: fp16 in, fp32 logits out
  const int M = 3, N = 1000, K = 64;
  auto x = round16(randn((size_t)M * K, rng), DType::F16), w = round16(randn((size_t)N * K, rng), DType::F16);
  auto d_x = to_device(to_bits(x, DType::F16)), d_w = to_device(to_bits(w, DType::F16));
  float* d_y = to_device(std::vector<float>((size_t)M * N, NAN));
  gemm.linear(0, d_y, d_x, d_w, nullptr, M, N, K, DType::F16, DType::F32, GemmEpilogue::None);
  auto y = to_host(d_y, (size_t)M * N);
  double e = rel_l2(y, gemm_ref(x, w, M, N, K));
  check(e < 1e-5, fmt("gemm fp16 -> fp32 (LM head) rel %.2e", e));
}

// The few-row weight-stream GEMM (Gemm::linear's path for M <= 16) against a double reference:
// every unrolled row count, K with and without a tail past the 256-element lane stride, odd N (tail
// columns), each epilogue, 16-bit and fp32 outputs at an aligned row stride.
// tc: the tensor-core kernel (skinny_gemm_tc.cu), rows up to 32 (two m-tiles), K also past 1024 (its
// 8-warp variant) and K tails inside a 32-wide chunk (72, 776, 3080 = 32 n + 8).
static void test_skinny_gemm(DType t, bool tc) {
  const std::vector<int> Ms = tc ? std::vector<int>{1, 2, 3, 5, 8, 11, 16, 17, 24, 32} : std::vector<int>{1, 2, 3, 5, 8, 11, 16};
  const std::vector<int> Ks = tc ? std::vector<int>{72, 776, 3080} : std::vector<int>{72, 776};
  const char* kname = tc ? "skinny gemm (tensor cores) " : "skinny gemm ";
  for (int M : Ms)
    for (int K : Ks)
      for (int ep = 0; ep < 3; ++ep)
        for (bool f32 : {false, true}) {
          if (f32 && ep == 2) continue;
          if (K > 1024 && M != 5 && M != 32) continue;  // the double reference is slow; two row counts suffice
          const int N = M % 2 ? 203 : 1001, ldy = f32 ? (N + 31) / 32 * 32 : N;
          auto x = round16(randn((size_t)M * K, rng), t), w = round16(randn((size_t)N * K, rng, 0.1f), t);
          auto b = round16(randn(N, rng), t);
          auto d_x = to_device(to_bits(x, t)), d_w = to_device(to_bits(w, t)), d_b = to_device(to_bits(b, t));
          void* d_y = f32 ? (void*)to_device(std::vector<float>((size_t)M * ldy, NAN)) : (void*)poisoned16((size_t)M * ldy);
          (tc ? skinny_gemm_tc_forward : skinny_gemm_forward)(d_y, ldy, d_x, d_w, ep ? d_b : nullptr, M, N, K, t,
                                                               f32 ? DType::F32 : t, ep == 2, 0);
          const double e = rel_l2(gemm_result(d_y, f32, M, N, ldy, t), gemm_ref(x, w, M, N, K, ep ? &b : nullptr, ep == 2));
          const double tol = f32 ? 1e-5 : t == DType::F16 ? 2e-3 : 1e-2;
          if (e >= tol || M == Ms.back() || (M == 1 && K == 776) || K > 1024)  // a sample of the passes, every failure
            check(e < tol, std::string(kname) + dtype_name(t) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                               (ep == 0 ? " none" : ep == 1 ? " bias" : " bias+gelu") + (f32 ? " -> fp32" : "") +
                               fmt(" rel %.2e", e));
          CUDA_CHECK(cudaFree(d_x)); CUDA_CHECK(cudaFree(d_w)); CUDA_CHECK(cudaFree(d_b)); CUDA_CHECK(cudaFree(d_y));
        }
}

// The Hopper decode GEMM (kernels/gemm_decode_sm90.cu) on each of its configurations, against a
// double reference: N / 64 tiles with two K splits as a cluster (N = 324: a partial last tile),
// one tile per CTA with direct stores (N = 5000: 79 tiles), BM 128 over many tiles (N = 8712: 69
// tiles of 128, partial); K with a partial last k-block (1000, 136); M at every NT bucket, odd ones
// included; 16-bit and fp32 outputs, an fp32 row stride past N; and once through Gemm::linear at a
// shape its rule sends there (K = 4096, 16 MiB). Needs an sm_90 device and an sm_90a build.
static std::string mnk(int M, int N, int K) {
  return " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
}
static void test_decode_gemm(DType t, Gemm& gemm) {
  if (!gemm_decode_sm90_available()) {
    std::printf("skip   decode gemm (sm_90a): not available on this device/build\n");
    return;
  }
  struct Case { int M, N, K; bool f32; };
  const Case cases[] = {{1, 324, 1000, false},   {17, 324, 1000, true},  {33, 324, 1000, false},
                        {100, 324, 1000, false}, {128, 324, 1000, true}, {200, 324, 1000, false},
                        {256, 324, 1000, false}, {5, 5000, 136, false},  {64, 5000, 136, true},
                        {129, 5000, 136, false}, {17, 8712, 136, false}, {100, 8712, 136, true},
                        {256, 8712, 136, false}};
  for (const Case& c : cases) {
    const int M = c.M, N = c.N, K = c.K, ldy = c.f32 ? N + 4 : N;
    auto x = round16(randn((size_t)M * K, rng), t), w = round16(randn((size_t)N * K, rng, 0.1f), t);
    auto d_x = to_device(to_bits(x, t)), d_w = to_device(to_bits(w, t));
    void* d_y = c.f32 ? (void*)to_device(std::vector<float>((size_t)M * ldy, NAN)) : (void*)poisoned16((size_t)M * ldy);
    const DType out = c.f32 ? DType::F32 : t;
    if (!gemm_decode_sm90_supported(d_y, ldy, d_x, d_w, M, N, K, t, out)) {
      check(false, "decode gemm" + mnk(M, N, K) + ": not supported");
      continue;
    }
    gemm_decode_sm90_forward(d_y, ldy, d_x, d_w, M, N, K, t, out, false, 0);
    CUDA_CHECK(cudaGetLastError());
    const double e = rel_l2(gemm_result(d_y, c.f32, M, N, ldy, t), gemm_ref(x, w, M, N, K));
    const double tol = c.f32 ? 1e-5 : t == DType::F16 ? 2e-3 : 1e-2;
    check(e < tol, std::string("decode gemm (sm_90a) ") + dtype_name(t) + mnk(M, N, K) +
                       (c.f32 ? " -> fp32" : "") + fmt(" rel %.2e", e));
    CUDA_CHECK(cudaFree(d_x)); CUDA_CHECK(cudaFree(d_w)); CUDA_CHECK(cudaFree(d_y));
  }
  {  // through Gemm::linear (the rule: 16..128 rows, K >= 4096, >= 16 MiB)
    const int M = 37, N = 2048, K = 4096;
    auto x = round16(randn((size_t)M * K, rng), t), w = round16(randn((size_t)N * K, rng, 0.02f), t);
    auto d_x = to_device(to_bits(x, t)), d_w = to_device(to_bits(w, t));
    auto d_y = poisoned16((size_t)M * N);
    gemm.linear(0, d_y, d_x, d_w, nullptr, M, N, K, t, t, GemmEpilogue::None);
    const double e = rel_l2(from_bits(to_host(d_y, (size_t)M * N), t), gemm_ref(x, w, M, N, K));
    check(e < (t == DType::F16 ? 2e-3 : 1e-2),
          std::string("gemm ") + dtype_name(t) + mnk(M, N, K) + " (decode gemm rule)" + fmt(" rel %.2e", e));
    CUDA_CHECK(cudaFree(d_x)); CUDA_CHECK(cudaFree(d_w)); CUDA_CHECK(cudaFree(d_y));
  }
}

static void test_sampling() {
  const int R = 200, V = 5003;
  std::vector<float> logits = randn((size_t)R * V, rng, 2.f);
  logits[(size_t)0 * V + 17] = logits[(size_t)0 * V + 4000] = 50.f;  // tie: lowest index wins
  std::vector<float> temp(R), top_p(R);
  std::vector<int32_t> top_k(R);
  std::vector<uint32_t> seed_lo(R), seed_hi(R), step(R);
  std::vector<SamplingParams> params(R);
  for (int r = 0; r < R; ++r) {
    SamplingParams& p = params[r];
    p.temperature = r < 20 ? 0.f : std::uniform_real_distribution<float>(0.3f, 1.5f)(rng);
    p.top_k = r % 3 == 0 ? 0 : (int)(rng() % 50) + 1;
    p.top_p = r % 4 == 0 ? 1.f : std::uniform_real_distribution<float>(0.3f, 1.f)(rng);
    p.seed = ((uint64_t)rng() << 32) | rng();
    temp[r] = p.temperature; top_k[r] = p.top_k; top_p[r] = p.top_p;
    seed_lo[r] = (uint32_t)p.seed; seed_hi[r] = (uint32_t)(p.seed >> 32); step[r] = r % 7;
  }
  SampleParamsDev dp;
  dp.temperature = to_device(temp); dp.top_p = to_device(top_p); dp.top_k = to_device(top_k);
  dp.seed_lo = to_device(seed_lo); dp.seed_hi = to_device(seed_hi); dp.step = to_device(step);
  float* d_l = to_device(logits);
  int32_t* d_tok = to_device(std::vector<int32_t>(R, -1));
  float* d_lp = to_device(std::vector<float>(R, NAN));
  sample_forward(d_tok, d_lp, d_l, R, V, dp, 0);
  auto tok = to_host(d_tok, R);
  auto lp = to_host(d_lp, R);
  int greedy_bad = 0, sampled_bad = 0, lp_bad = 0;
  for (int r = 0; r < R; ++r) {
    SampleResult ref = sample_token(logits.data() + (size_t)r * V, V, params[r], step[r]);
    if (tok[r] != ref.token) (r < 20 ? greedy_bad : sampled_bad)++;
    else if (!(std::fabs(lp[r] - ref.logprob) < 1e-4f)) ++lp_bad;
  }
  check(tok[0] == 17, "sampling greedy tie -> lowest index");
  check(greedy_bad == 0, "sampling greedy == CPU on 20 rows (" + std::to_string(greedy_bad) + " differ)");
  // fp32 on the GPU vs double on the CPU: a draw landing within rounding of a boundary may differ.
  check(sampled_bad <= 2, "sampling top-k/top-p/temperature == CPU rule on 180 rows (" + std::to_string(sampled_bad) + " differ)");
  check(lp_bad == 0, "sampling logprob == CPU log-sum-exp (" + std::to_string(lp_bad) + " differ)");
}

static void test_target_logprob() {
  const int R = 9, V = 50257;
  auto logits = randn((size_t)R * V, rng, 3.f);
  std::vector<int32_t> tg(R);
  for (int& x : tg) x = rng() % V;
  float* d_l = to_device(logits);
  auto d_t = to_device(tg);
  float* d_o = to_device(std::vector<float>(R, NAN));
  target_logprob_forward(d_o, d_l, d_t, R, V, 0);
  auto o = to_host(d_o, R);
  bool ok = true;
  for (int r = 0; r < R; ++r) {
    double mx = -1e30, s = 0;
    for (int i = 0; i < V; ++i) mx = std::max(mx, (double)logits[(size_t)r * V + i]);
    for (int i = 0; i < V; ++i) s += std::exp(logits[(size_t)r * V + i] - mx);
    ok &= std::fabs(o[r] - (logits[(size_t)r * V + tg[r]] - (mx + std::log(s)))) < 1e-3;
  }
  check(ok, "target_logprob vs double log-softmax");
}

// top_logprobs: the k best tokens of chosen rows (strided, out of order) == the CPU rule, ties by
// index; k beyond the vocabulary pads with -1.
static void test_top_logprobs() {
  const int R = 37, V = 5003, ld = V + 13, k = kMaxTopLogprobs;
  std::vector<float> logits = randn((size_t)R * ld, rng, 3.f);
  for (int i = 0; i < 30; ++i) logits[(size_t)2 * ld + 100 + 7 * i] = 20.f;  // row 2: 30 tied maxima
  logits[(size_t)5 * ld + 4000] = logits[(size_t)5 * ld + 9] = 25.f;          // row 5: a tie for first
  std::vector<int32_t> rows = {5, 2, 36, 0, 17, 17, 11, 30};
  const int n = (int)rows.size();
  float* d_l = to_device(logits);
  auto d_rows = to_device(rows);
  int32_t* d_ids = to_device(std::vector<int32_t>((size_t)n * k, -7));
  float* d_lp = to_device(std::vector<float>((size_t)n * k, NAN));
  top_logprobs_forward(d_ids, d_lp, d_l, d_rows, n, V, ld, k, 0);
  auto ids = to_host(d_ids, (size_t)n * k);
  auto lp = to_host(d_lp, (size_t)n * k);
  int id_bad = 0, lp_bad = 0;
  for (int j = 0; j < n; ++j) {
    const float* row = logits.data() + (size_t)rows[j] * ld;
    double mx = -1e30, s = 0;
    for (int i = 0; i < V; ++i) mx = std::max(mx, (double)row[i]);
    for (int i = 0; i < V; ++i) s += std::exp(row[i] - mx);
    auto ref = top_logprobs(row, V, k, (float)(mx + std::log(s)));
    for (int t = 0; t < k; ++t) {
      if (ids[(size_t)j * k + t] != ref[t].first) ++id_bad;
      else if (!(std::fabs(lp[(size_t)j * k + t] - ref[t].second) < 1e-4f)) ++lp_bad;
    }
  }
  check(ids[0] == 9 && ids[1] == 4000, "top_logprobs: tie for first -> lower index first");
  check(id_bad == 0, "top_logprobs ids == CPU rule on 8 rows x 20 (" + std::to_string(id_bad) + " differ)");
  check(lp_bad == 0, "top_logprobs logprobs == log-softmax (" + std::to_string(lp_bad) + " differ)");
  // A vocabulary smaller than k: the rest is -1.
  const int V2 = 7;
  top_logprobs_forward(d_ids, d_lp, d_l, d_rows, 1, V2, ld, k, 0);
  auto small = to_host(d_ids, (size_t)k);
  check(small[V2 - 1] >= 0 && small[V2] == -1 && small[k - 1] == -1, "top_logprobs: k > vocab pads with -1");
}

int main() {
  try {
    Gemm gemm;
    for (DType t : {DType::F16, DType::BF16}) {
      test_embedding(t, 96);
      test_embedding(t, 90);
      test_residual_layernorm(t, false);
      test_residual_layernorm(t, true);
      test_residual_layernorm(t, false, 198);
      test_residual_layernorm(t, true, 199);
      test_residual_layernorm(t, true, 4096);
      test_residual(t);
      test_bias_gelu(t);
      test_kv_append(t);
      test_embedding_no_pos(t);
      for (int C : {200, 198, 199, 4096}) test_residual_rmsnorm(t, C == 199, C);
      test_rope_append(t, 128, 8, 2, false);
      test_rope_append(t, 64, 4, 4, false);
      test_rope_append(t, 128, 16, 8, true);
      test_rope_append(t, 128, 32, 8, false, 300);  // Llama-3.1-8B heads
      test_rope_append(t, 128, 32, 8, true, 300);
      test_rope_append(t, 16, 4, 2, true);
      test_rope_append(t, 256, 4, 1, false, 40);
      test_rope_append(t, 256, 32, 8, true, 20);  // 896 items a token: two CTAs a token
      test_rope_append(t, 96, 4, 2, true);  // not a power of two: the one-warp kernel
      test_silu_mul(t, 344);
      test_silu_mul(t, 173);
      for (GemmEpilogue ep : {GemmEpilogue::None, GemmEpilogue::Bias, GemmEpilogue::BiasGelu}) test_gemm(t, ep, gemm);
      test_skinny_gemm(t, false);
      test_skinny_gemm(t, true);
      test_decode_gemm(t, gemm);
    }
    test_cast();
    test_gemm_f32_out(gemm);
    test_sampling();
    test_target_logprob();
    test_top_logprobs();
  } catch (const std::exception& e) {
    std::printf("NOT OK exception: %s\n", e.what());
    return 1;
  }
  std::printf("cuda_kernels_test: %d failure(s)\n", g_failures);
  return g_failures ? 1 : 0;
}
