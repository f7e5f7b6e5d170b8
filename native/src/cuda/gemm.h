// defines: Gemm (cuBLASLt wrapper), GemmEpilogue
// The one place that talks to cuBLAS: kernels and everything else stay compile-checkable where only
// nvcc is installed. Weights are stored [out, in] (nn.Linear layout), which makes every GEMM the
// "TN" form cuBLASLt is fastest at.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "core/experiments.h"
#include "core/types.h"

namespace attnbench {

enum class GemmEpilogue { None, Bias, BiasGelu };

class Gemm {
 public:
  explicit Gemm(const ExperimentSwitches& exp = ExperimentSwitches{}, size_t workspace_bytes = 32u << 20);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y[M, N] = x[M, K] . w[N, K]^T (+ bias[N], then gelu_new for BiasGelu), all row-major.
  // x, w: `in` (fp16/bf16); bias: `out`'s type; y: `out` (fp16/bf16/fp32); fp32 accumulation.
  // Host work only (cached descriptors and algorithm per shape): safe inside graph capture.
  // ldy: elements between rows of y (>= N; 0 = N). An aligned ldy (e.g. N rounded up to 32) lets
  // cuBLASLt use vectorised epilogue stores when N itself is odd (GPT-2's vocab, 50257).
  void linear(cudaStream_t stream, void* y, const void* x, const void* w, const void* bias, int M, int N, int K,
              DType in, DType out, GemmEpilogue ep, int ldy = 0);

  // False when cuBLASLt's GELU epilogue is not used (ATTNBENCH_NO_LT_GELU=1 or no algorithm):
  // then BiasGelu runs as a bias epilogue plus kernels/gelu.cu.
  bool fused_gelu() const;

  // True when an M-row GEMM over a weight of weight_bytes goes to kernels/skinny_gemm.cu instead of
  // cuBLASLt (M <= 2 unless ATTNBENCH_SKINNY_MAX_M says otherwise; shapes it cannot take still go to
  // cuBLASLt). Only small weights: the skinny kernels win where cuBLASLt's fixed cost is a large part
  // of the GEMM, and lose where the weight stream is (see kSkinnyMaxWeightBytes in gemm.cu).
  bool skinny(int M, size_t weight_bytes) const;
  void set_skinny_max_m(int m);  // benchmarks: 0 forces cuBLASLt
  // True when an M-row GEMM goes to kernels/skinny_gemm_tc.cu (rows past skinny(), up to 16 unless
  // ATTNBENCH_SKINNY_TC_MAX_M says otherwise; the same weight-size limit).
  bool skinny_tc(int M, size_t weight_bytes) const;
  void set_skinny_tc_max_m(int m);  // benchmarks: 0 = never
  void set_skinny_max_weight_bytes(size_t bytes);  // benchmarks: SIZE_MAX = any weight
  // True when the GEMM goes to kernels/gemm_decode_sm90.cu (sm_90, sm_90a build; the rows and shapes
  // where the lab measured it faster than cuBLASLt, see use_decode_gemm in gemm.cu).
  bool decode_gemm(int M, int N, int K, size_t weight_bytes) const;
  // Benchmarks: 0 never the decode GEMM, 1 the measured rule (default; ATTNBENCH_DECODE_GEMM=0 makes
  // it 0), 2 every GEMM without bias it supports. Modes 1 and 2 still need the device and build.
  void set_decode_gemm(int mode);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attnbench
