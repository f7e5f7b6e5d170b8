// fp32 reference kernels that touch each element once: layer norm, gelu_new, softmax, residual add.
#pragma once
#include <cstdint>
#include <vector>

namespace attnbench {

// y[r] = (x[r] - mean) / sqrt(var + eps) * w + b for each of `rows` rows of width n. y may alias x.
void layernorm(const float* x, int rows, int n, const float* w, const float* b, float eps, float* y);

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for each of `rows` rows of width n (RMSNorm; Llama's
// weight multiplies after the normalised value is formed, as HF does). y may alias x.
void rmsnorm(const float* x, int rows, int n, const float* w, float eps, float* y);

// y[r, i] = silu(x[r, i]) * x[r, F + i] for i < F: a gated MLP's activation, x [rows, 2F], y [rows, F].
void silu_mul(const float* x, int rows, int F, float* y);

// GPT-2's gelu_new (tanh approximation), in place.
void gelu_new_inplace(float* x, long count);

// y += x, elementwise.
void add_inplace(float* y, const float* x, long count);

// In-place softmax of one row; returns log(sum(exp(x - max))) + max, the row's log-sum-exp.
float softmax_inplace(float* x, int n);

// log-sum-exp of a row, without changing it.
float logsumexp(const float* x, int n);

// Rotary embedding (HF's rotate_half form), in place on `heads` heads of `head_dim` at row stride
// `stride`: for i < head_dim / 2, angle = pos * inv_freq[i] (fp32 product, as HF), and
//   x[i] <- x[i] cos - x[i + D/2] sin,  x[i + D/2] <- x[i + D/2] cos + x[i] sin.
void rope_inplace(float* x, int rows, int stride, int heads, int head_dim, const int32_t* positions,
                  const std::vector<float>& inv_freq);

}  // namespace attnbench
