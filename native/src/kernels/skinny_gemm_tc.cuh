// defines: skinny_gemm_tc_forward, skinny_gemm_tc_supported, kSkinnyTcMaxRows
// y[M, N] = x[M, K] . w[N, K]^T (+ bias[N]) (then gelu_new) for M <= 32 on tensor cores (mma.sync
// m16n8k16, fp32 accumulation): the small-batch decode GEMMs as a stream over the weights, with
// the weight loads started before the previous kernel ends (launch_pdl). cuBLASLt's time per GPT-2
// decode GEMM barely moves from M = 1 to 128 (H100, attnbench-gemm-bench: qkv 4.6-5.1 us, attn_proj
// 4.2-4.3, fc+gelu 5.0-5.8, fc_proj 6.8-7.3): a fixed cost; the
// CUDA-core kernel in skinny_gemm.cu wins only at M <= 2 because it re-reads x per weight vector.
// Called from cuda/gemm.cu, which decides when.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/types.h"
#include "kernels/skinny_gemm.cuh"  // skinny_shape_ok

namespace attnbench {

constexpr int kSkinnyTcMaxRows = 32;

// M in [1, 32], K % 8 == 0 (16-byte rows), x and w 16-byte aligned, in fp16 or bf16; out the input
// type or fp32 (LM head logits).
inline bool skinny_gemm_tc_supported(const void* y, const void* x, const void* w, int M, int K, DType in) {
  return skinny_shape_ok(y, x, w, M, K, in, kSkinnyTcMaxRows);
}

// bias: `in`'s type (may be null); gelu applies gelu_new after the bias. ldy: elements between rows of y.
void skinny_gemm_tc_forward(void* y, int ldy, const void* x, const void* w, const void* bias, int M, int N, int K,
                            DType in, DType out, bool gelu, cudaStream_t stream);

}  // namespace attnbench
