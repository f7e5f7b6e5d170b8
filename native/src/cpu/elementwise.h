// fp32 reference kernels that touch each element once: layer norm, gelu_new, softmax, residual add.
#pragma once

namespace attnbench {

// y[r] = (x[r] - mean) / sqrt(var + eps) * w + b for each of `rows` rows of width n. y may alias x.
void layernorm(const float* x, int rows, int n, const float* w, const float* b, float eps, float* y);

// GPT-2's gelu_new (tanh approximation), in place.
void gelu_new_inplace(float* x, long count);

// y += x, elementwise.
void add_inplace(float* y, const float* x, long count);

// In-place softmax of one row; returns log(sum(exp(x - max))) + max, the row's log-sum-exp.
float softmax_inplace(float* x, int n);

// log-sum-exp of a row, without changing it.
float logsumexp(const float* x, int n);

}  // namespace attnbench
