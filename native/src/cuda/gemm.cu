// cuBLASLt GEMMs (llm.c's matmul_cublaslt, simplified): one descriptor set and heuristic algorithm
// per (M, N, K, types, epilogue), cached, so a step costs no heuristic queries after warm-up.
//
// Row-major y[M,N] = x[M,K] w[N,K]^T is column-major y^T[N,M] = w^T... i.e. cuBLAS sees
//   A = w as col-major [K, N] (ld K), op T  ->  [N, K]
//   B = x as col-major [K, M] (ld K), op N
//   D = y as col-major [N, M] (ld N); the bias (length N) runs along D's rows, as cuBLASLt wants.
#include "cuda/gemm.h"

#include <cublasLt.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <vector>
#include <stdexcept>
#include <string>
#include <tuple>

#include "core/cuda_check.h"
#include "core/device_buffer.h"
#include "core/pdl.cuh"
#include "kernels/gelu.cuh"
#include "kernels/gemm_decode_sm90.cuh"
#include "kernels/skinny_gemm.cuh"
#include "kernels/skinny_gemm_tc.cuh"

namespace attnbench {

namespace {

// The skinny kernels (few rows) take only weights up to this size. They were made for GPT-2's
// 768-wide weights (1-5 MB), where cuBLASLt's fixed cost per GEMM (~4 us) is most of the time; on
// large weights the weight stream is the time and cuBLASLt streams it faster. H200,
// `attnbench-gemm-bench` (scripts/gpu/llama-perf.sh, docs/perf-notes.md "Session 5"), us, cuBLASLt /
// skinny (M <= 2) / skinny_tc (M 4..16):
//   GPT-2 XL attn_proj  1600x1600  (5.1 MB) M=1:  6.70 / 3.22 / 4.12   M=16:  5.24 / 24.4 / 4.91
//   GPT-2 XL qkv        4800x1600 (15.4 MB) M=1:  6.69 / 6.98 / 8.06   M=16:  6.78 / 32.5 / 9.81
//   GPT-2 XL fc         6400x1600 (20.5 MB) M=1:  7.86 / 8.84 / 11.3   M=16:  7.97 / 72.1 / 12.9
//   Llama-8B down      4096x14336 (117 MB)  M=1: 32.0  / 52.5 / 58.5   M=16: 31.4  / 387  / 61.8
// So the crossover lies between 5 and 15 MB: 8 MiB. (Llama-3.1-8B decode step, 16 x 8192 context:
// 12.06 -> 8.79 ms; 2 sequences x 900: 6.72 -> 4.78 ms.)
constexpr size_t kSkinnyMaxWeightBytes = (size_t)8 << 20;

// The Hopper decode GEMM (kernels/gemm_decode_sm90.cu: wgmma weight stream, TMA, split-K over a
// cluster) replaces cuBLASLt on sm_90 (sm_90a build) where the lab measured it faster: H200,
// native/dev/gemm_decode_sm90.cu run 2 (docs/perf-notes.md, session 6), bf16, us per GEMM,
// decode GEMM vs cuBLASLt (the configurations gemm_decode_sm90.cu picks: lab v9 / v11 / v8):
//   M = 16:  o 11.24 vs 13.88, down 30.45 vs 33.39, qkv 15.83 vs 17.05; gate_up 62.3 vs 59.1 and
//            the LM head 250.0 vs 252.7 (no clear win: run 1 had gate_up 60.8 vs 63.2) -> N <= 8192
//   M = 32, 64: every shape (LM head 252.2 vs 268.2 and 255.9 vs 284.7; gate_up 62.1 vs 64.0, 62.8
//            vs 64.4; down 30.5 vs 34.5, 31.1 vs 37.5)
//   M = 128: o 14.00 vs 15.16, down 34.42 vs 38.38, qkv 17.63 vs 18.15, gate_up 64.7 vs 69.0; the LM
//            head loses (288.7 vs 277.7) -> not the LM head
// The kernel's cost follows M rounded up to 16 / 32 / 64 / 128, so each measured M stands for its
// bucket (M = 16 for 16 only: fewer rows were not measured). Rows past 128, K < 4096 and weights
// under 16 MiB (GPT-2 class) were not measured: cuBLASLt (or the skinny kernels).
bool use_decode_gemm(int M, int N, int K, size_t weight_bytes) {
  if (M < 16 || M > 128 || K < 4096 || weight_bytes < ((size_t)16 << 20)) return false;
  if (M == 16) return N <= 8192;
  if (M <= 64) return true;
  return N <= 32768;  // not the LM head (128256 rows)
}

cudaDataType_t cuda_type(DType t) {
  return t == DType::F16 ? CUDA_R_16F : t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool has_bias = false;
  bool tuned = false;
  std::vector<cublasLtMatmulAlgo_t> candidates;  // ATTNBENCH_GEMM_TUNE: heuristic top-k to time
};

}  // namespace

struct Gemm::Impl {
  cublasLtHandle_t handle = nullptr;
  DeviceBuffer workspace;
  size_t workspace_bytes = 0;
  bool lt_gelu = true;
  // Rows up to which kernels/skinny_gemm.cu (a weight stream) replaces cuBLASLt; 0 = never.
  // ATTNBENCH_SKINNY_MAX_M overrides (A/B runs); attnbench-gemm-bench measures both. H100, GPT-2
  // shapes, graph replay: at M = 1 it is 1.2-1.6 us faster per GEMM (qkv 3.3 vs 4.7 us, fc_proj 5.4
  // vs 6.8, LM head 27 vs 33), at M = 2 still ahead, from M = 4 behind (each lane re-reads the
  // activation rows per weight vector). So 2.
  int skinny_max_m = 2;
  // Rows up to which kernels/skinny_gemm_tc.cu (tensor cores, weights loaded before the PDL wait)
  // replaces cuBLASLt, past skinny_max_m; ATTNBENCH_SKINNY_TC_MAX_M overrides, 0 = never. H100,
  // attnbench-gemm-bench: qkv 3.8 / 3.9 / 4.2 us at M = 4 / 8 / 16 (cuBLASLt 4.6-4.7), fc_proj 5.9 /
  // 6.0 / 6.5 (6.9-7.1); at M = 32 it loses (qkv 4.95 vs 4.78, fc_proj 9.5 vs 7.2). Decode step GPU,
  // same run: 4x900 0.487 -> 0.436 ms, 8x900 0.566 -> 0.515, 16x900 0.644 -> 0.613. So 16.
  int tc_max_m = 16;
  size_t max_weight_bytes = kSkinnyMaxWeightBytes;
  bool decode_ok = false;  // device and build can run the Hopper decode GEMM
  int decode_mode = 1;      // 0 never, 1 use_decode_gemm's rule, 2 whenever supported (set_decode_gemm)
  int algo_rank = 0;  // ATTNBENCH_GEMM_ALGO: which of cuBLASLt's heuristic results to use (0 = its first)
  int tune = 0;  // ATTNBENCH_GEMM_TUNE=N: time cuBLASLt's top N algorithms per shape, keep the fastest
  std::map<std::tuple<int, int, int, int, int, int, int>, Plan> plans;

  ~Impl() {
    for (auto& [key, p] : plans) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.d);
      cublasLtMatmulDescDestroy(p.op);
    }
    if (handle) cublasLtDestroy(handle);
  }

  // Returns false when cuBLASLt has no algorithm for this epilogue (caller falls back).
  bool make_plan(Plan& p, int M, int N, int K, int ldy, DType in, DType out, GemmEpilogue ep) {
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    cublasLtEpilogue_t e = ep == GemmEpilogue::None ? CUBLASLT_EPILOGUE_DEFAULT
                           : ep == GemmEpilogue::Bias ? CUBLASLT_EPILOGUE_BIAS
                                                      : CUBLASLT_EPILOGUE_GELU_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e)));
    p.has_bias = ep != GemmEpilogue::None;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, cuda_type(in), K, N, K));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, cuda_type(in), K, M, K));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.d, cuda_type(out), N, M, ldy));
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &workspace_bytes, sizeof(workspace_bytes)));
    cublasLtMatmulHeuristicResult_t res[16]{};
    int found = 0;
    const int want = std::min(16, std::max(tune > 1 ? tune : 1, algo_rank + 1));
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.a, p.b, p.d, p.d, pref, want, res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) return false;
    p.algo = res[std::min(algo_rank, found - 1)].algo;
    if (tune > 1)
      for (int i = 0; i < found; ++i) p.candidates.push_back(res[i].algo);
    p.tuned = p.candidates.size() <= 1;
    return true;
  }

  Plan& plan(int M, int N, int K, int ldy, DType in, DType out, GemmEpilogue ep) {
    auto key = std::make_tuple(M, N, K, ldy, (int)in, (int)out, (int)ep);
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    Plan p;
    if (!make_plan(p, M, N, K, ldy, in, out, ep))
      throw std::runtime_error("cuBLASLt: no algorithm for M=" + std::to_string(M) + " N=" + std::to_string(N) +
                               " K=" + std::to_string(K));
    return plans.emplace(key, p).first->second;
  }
};

Gemm::Gemm(const ExperimentSwitches& exp, size_t workspace_bytes) : impl_(new Impl) {
  CUBLAS_CHECK(cublasLtCreate(&impl_->handle));
  impl_->workspace.resize(workspace_bytes);
  impl_->workspace_bytes = workspace_bytes;
  impl_->lt_gelu = exp.lt_gelu;
  impl_->tune = exp.gemm_tune;
  if (exp.skinny_max_m >= 0) impl_->skinny_max_m = exp.skinny_max_m;
  if (exp.skinny_tc_max_m >= 0) impl_->tc_max_m = exp.skinny_tc_max_m;
  if (exp.skinny_max_weight_mb >= 0) impl_->max_weight_bytes = (size_t)exp.skinny_max_weight_mb << 20;
  impl_->algo_rank = std::max(0, std::min(15, exp.gemm_algo));
  // Probed here, not at the first GEMM, which may be inside a graph capture (the probe launches a
  // kernel and copies its result).
  impl_->decode_ok = gemm_decode_sm90_available();
  impl_->decode_mode = exp.decode_gemm ? 1 : 0;
}

bool Gemm::skinny(int M, size_t weight_bytes) const {
  return M <= impl_->skinny_max_m && M <= kSkinnyMaxRows && weight_bytes <= impl_->max_weight_bytes;
}
bool Gemm::skinny_tc(int M, size_t weight_bytes) const {
  return !skinny(M, weight_bytes) && M <= impl_->tc_max_m && M <= kSkinnyTcMaxRows &&
         weight_bytes <= impl_->max_weight_bytes;
}
bool Gemm::decode_gemm(int M, int N, int K, size_t weight_bytes) const {
  if (!impl_->decode_ok || impl_->decode_mode == 0) return false;
  return impl_->decode_mode == 2 || use_decode_gemm(M, N, K, weight_bytes);
}
void Gemm::set_decode_gemm(int mode) { impl_->decode_mode = mode; }
void Gemm::set_skinny_max_m(int m) { impl_->skinny_max_m = m; }
void Gemm::set_skinny_tc_max_m(int m) { impl_->tc_max_m = m; }
void Gemm::set_skinny_max_weight_bytes(size_t bytes) { impl_->max_weight_bytes = bytes; }

Gemm::~Gemm() = default;

bool Gemm::fused_gelu() const { return impl_->lt_gelu; }

void Gemm::linear(cudaStream_t stream, void* y, const void* x, const void* w, const void* bias, int M, int N, int K,
                  DType in, DType out, GemmEpilogue ep, int ldy) {
  if (M == 0) return;
  if (ldy <= 0) ldy = N;
  if (ldy != N && ep == GemmEpilogue::BiasGelu) throw std::runtime_error("Gemm::linear: ldy != N with BiasGelu");
  if (!bias && ep != GemmEpilogue::None) throw std::runtime_error("Gemm::linear: epilogue needs a bias");
  // The weight-stream kernels (few rows): outputs of the input type, or fp32 without gelu.
  const bool gelu = ep == GemmEpilogue::BiasGelu;
  const void* sk_bias = ep == GemmEpilogue::None ? nullptr : bias;
  const size_t weight_bytes = (size_t)N * K * dtype_bytes(in);
  if (out == in || (out == DType::F32 && !gelu)) {
    if (skinny(M, weight_bytes) && skinny_gemm_supported(y, x, w, M, K, in))
      return skinny_gemm_forward(y, ldy, x, w, sk_bias, M, N, K, in, out, gelu, stream);
    if (skinny_tc(M, weight_bytes) && skinny_gemm_tc_supported(y, x, w, M, K, in))
      return skinny_gemm_tc_forward(y, ldy, x, w, sk_bias, M, N, K, in, out, gelu, stream);
  }
  if (ep == GemmEpilogue::None && decode_gemm(M, N, K, weight_bytes) &&
      gemm_decode_sm90_supported(y, ldy, x, w, M, N, K, in, out))
    return gemm_decode_sm90_forward(y, ldy, x, w, M, N, K, in, out, pdl_enabled(), stream);
  GemmEpilogue lt_ep = ep;
  if (ep == GemmEpilogue::BiasGelu && !impl_->lt_gelu) lt_ep = GemmEpilogue::Bias;
  Plan* p = nullptr;
  try {
    p = &impl_->plan(M, N, K, ldy, in, out, lt_ep);
  } catch (const std::runtime_error&) {
    if (lt_ep != GemmEpilogue::BiasGelu) throw;
    impl_->lt_gelu = false;  // no fused GELU algorithm for this shape: fall back everywhere
    lt_ep = GemmEpilogue::Bias;
    p = &impl_->plan(M, N, K, ldy, in, out, lt_ep);
  }
  if (p->has_bias)
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  const float alpha = 1.f, beta = 0.f;
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  if (!p->tuned && cudaStreamIsCapturing(stream, &cap) == cudaSuccess && cap == cudaStreamCaptureStatusNone) {
    // Experimental (off by default): time each candidate on the real operands, keep the fastest.
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float best = 1e30f;
    for (const auto& algo : p->candidates) {
      bool ok = true;
      for (int i = 0; i < 3 && ok; ++i)
        ok = cublasLtMatmul(impl_->handle, p->op, &alpha, w, p->a, x, p->b, &beta, y, p->d, y, p->d, &algo,
                            impl_->workspace.get(), impl_->workspace_bytes, stream) == CUBLAS_STATUS_SUCCESS;
      if (!ok) continue;
      CUDA_CHECK(cudaEventRecord(e0, stream));
      for (int i = 0; i < 20; ++i)
        cublasLtMatmul(impl_->handle, p->op, &alpha, w, p->a, x, p->b, &beta, y, p->d, y, p->d, &algo,
                       impl_->workspace.get(), impl_->workspace_bytes, stream);
      CUDA_CHECK(cudaEventRecord(e1, stream));
      CUDA_CHECK(cudaEventSynchronize(e1));
      float t = 0.f;
      CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
      if (t < best) { best = t; p->algo = algo; }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    p->tuned = true;
  }
  CUBLAS_CHECK(cublasLtMatmul(impl_->handle, p->op, &alpha, w, p->a, x, p->b, &beta, y, p->d, y, p->d, &p->algo,
                              impl_->workspace.get(), impl_->workspace_bytes, stream));
  if (ep == GemmEpilogue::BiasGelu && lt_ep != GemmEpilogue::BiasGelu)
    bias_gelu_forward(y, nullptr, M, N, out, stream);
}

}  // namespace attnbench
