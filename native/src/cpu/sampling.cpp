#include "cpu/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/rng.h"
#include "cpu/elementwise.h"

namespace attnbench {

static int argmax_lowest(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

std::vector<std::pair<int32_t, float>> top_logprobs(const float* logits, int vocab, int k, float lse) {
  k = std::min(k, vocab);
  if (k <= 0) return {};
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<std::pair<int32_t, float>> top(k);
  for (int i = 0; i < k; ++i) top[i] = {order[i], logits[order[i]] - lse};
  return top;
}

SampleResult sample_token(const float* logits, int vocab, const SamplingParams& params, uint32_t step) {
  SampleResult res;
  const float lse = logsumexp(logits, vocab);
  if (params.top_logprobs > 0) res.top = top_logprobs(logits, vocab, params.top_logprobs, lse);
  if (params.temperature <= 0.0f) {
    res.token = argmax_lowest(logits, vocab);
    res.logprob = logits[res.token] - lse;
    return res;
  }
  const float inv_t = 1.0f / params.temperature;
  auto before = [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const int keep_k = (params.top_k > 0 && params.top_k < vocab) ? params.top_k : vocab;
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  if (keep_k < vocab)
    std::partial_sort(order.begin(), order.begin() + keep_k, order.end(), before);
  else
    std::sort(order.begin(), order.end(), before);

  // Unnormalised probabilities of the kept tokens, in sorted order.
  const float top = logits[order[0]] * inv_t;
  std::vector<double> w(keep_k);
  double total = 0.0;
  for (int i = 0; i < keep_k; ++i) total += (w[i] = std::exp((double)logits[order[i]] * inv_t - top));
  int keep_p = keep_k;
  if (params.top_p < 1.0f) {
    double cum = 0.0;
    for (int i = 0; i < keep_k; ++i) {
      cum += w[i];
      if (cum / total >= params.top_p) {
        keep_p = i + 1;
        break;
      }
    }
  }
  double kept = 0.0;
  for (int i = 0; i < keep_p; ++i) kept += w[i];
  const double target = (double)sample_uniform(params.seed, step) * kept;
  double cum = 0.0;
  int chosen = order[keep_p - 1];
  for (int i = 0; i < keep_p; ++i) {
    cum += w[i];
    if (target < cum) {
      chosen = order[i];
      break;
    }
  }
  res.token = chosen;
  res.logprob = logits[chosen] - lse;
  return res;
}

}  // namespace attnbench
