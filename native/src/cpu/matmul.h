// fp32 matrix products for the CPU runner. Every output element is summed over k in the same
// order whatever the number of rows or threads, so a row's result does not depend on its batch.
#pragma once
#include <vector>

namespace attnbench {

// A [K, N] weight (HF Conv1D layout, row-major) repacked once into panels of kPanelCols columns,
// each panel [K, kPanelCols] contiguous, so the inner loop streams one cache line per k.
struct PackedMatrix {
  static constexpr int kPanelCols = 8;
  int K = 0, N = 0, num_panels = 0;
  std::vector<float> data;  // [num_panels, K, kPanelCols], zero-padded past N
};
PackedMatrix pack_matrix(const float* w, int K, int N);
// The same packing from an nn.Linear weight [N, K] = [out, in] (the models' layout).
PackedMatrix pack_linear(const float* w, int N, int K);

// y[M, N] = x[M, K] . W[K, N] + bias[N] (bias may be null). y must not alias x.
void matmul_bias(const float* x, int M, const PackedMatrix& w, const float* bias, float* y);

// y[M, N] = x[M, K] . W[N, K]^T: the LM head against the (tied) embedding table.
void matmul_nt(const float* x, int M, int K, const float* w, int N, float* y);

// The blocked kernel uses AVX2+FMA when the CPU has them (checked at run time); tests can turn that
// off to exercise the SSE path. Within one process every row takes the same path.
void set_matmul_allow_avx2(bool allow);
bool matmul_uses_avx2();

// Unpacked, unblocked reference for tests: y = x . W + bias with W [K, N].
void matmul_reference(const float* x, int M, int K, const float* w, int N, const float* bias, float* y);

}  // namespace attnbench
