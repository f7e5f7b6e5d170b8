// defines: skinny_gemm_forward, skinny_gemm_supported, kSkinnyMaxRows
// y[M, N] = x[M, K] . w[N, K]^T (+ bias[N]) (then gelu_new) for few rows (M <= kSkinnyMaxRows):
// small-batch decode, where every GEMM is a stream over the weights and cuBLASLt's tensor-core
// tiles (64+ rows) mostly compute padding. Called from cuda/gemm.cu, which decides when.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/types.h"

namespace attnbench {

constexpr int kSkinnyMaxRows = 16;

// Shapes and pointers the kernel takes: M in [1, 16], K % 8 == 0 (16-byte rows), x, w and bias
// 16-byte aligned where 16-byte loads read them, in/out fp16 or bf16, out also fp32 (LM head logits).
// (kernels/skinny_gemm_tc.cu takes the same shapes up to its own row limit.)
inline bool skinny_shape_ok(const void* y, const void* x, const void* w, int M, int K, DType in, int max_rows) {
  auto al = [](const void* p) { return ((uintptr_t)p & 15) == 0; };
  return M >= 1 && M <= max_rows && K % 8 == 0 && K > 0 && al(x) && al(w) && y != nullptr &&
         (in == DType::F16 || in == DType::BF16);
}
inline bool skinny_gemm_supported(const void* y, const void* x, const void* w, int M, int K, DType in) {
  return skinny_shape_ok(y, x, w, M, K, in, kSkinnyMaxRows);
}

// bias: `in`'s type (may be null); gelu applies gelu_new after the bias. ldy: elements between
// rows of y (>= N). Out of `in`'s type, or fp32.
void skinny_gemm_forward(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K,
                         DType in, DType out, bool gelu, cudaStream_t stream);

}  // namespace attnbench
