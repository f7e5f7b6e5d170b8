// CPU kernels: blocked matmul vs the unblocked reference (odd sizes, row-count invariance), and the
// sampler's rules (greedy ties, top-k/top-p limits, logprob of the raw distribution, seeding).
#include <cmath>
#include <random>

#include "core/rng.h"
#include "cpu/elementwise.h"
#include "cpu/matmul.h"
#include "core/request_seed.h"
#include "cpu/sampling.h"
#include "test_util.h"

using namespace attnbench;

static void matmul_tests() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> U(-1, 1);
  const int sizes[][3] = {{1, 64, 192}, {7, 48, 80}, {33, 300, 211}, {70, 257, 9}, {5, 3, 1}};
  for (const auto& mkn : sizes) {
    const int M = mkn[0], K = mkn[1], N = mkn[2];
    std::vector<float> x((size_t)M * K), w((size_t)K * N), b(N), y((size_t)M * N), ref((size_t)M * N);
    for (auto& v : x) v = U(rng);
    for (auto& v : w) v = U(rng);
    for (auto& v : b) v = U(rng);
    const PackedMatrix p = pack_matrix(w.data(), K, N);
    matmul_bias(x.data(), M, p, b.data(), y.data());
    matmul_reference(x.data(), M, K, w.data(), N, b.data(), ref.data());
    double worst = 0;
    for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, (double)std::fabs(y[i] - ref[i]));
    CHECK(worst < 1e-4, "matmul " + std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N) +
                            " matches reference (" + std::to_string(worst) + ")");
    // Row invariance: the last row alone gives bit-identical results.
    std::vector<float> one(N);
    matmul_bias(&x[(size_t)(M - 1) * K], 1, p, b.data(), one.data());
    CHECK(std::equal(one.begin(), one.end(), &y[(size_t)(M - 1) * N]), "matmul row result independent of M");
    // matmul_nt against the same reference (w^T as [N, K]).
    std::vector<float> wt((size_t)N * K), ynt((size_t)M * N);
    for (int k = 0; k < K; ++k)
      for (int n = 0; n < N; ++n) wt[(size_t)n * K + k] = w[(size_t)k * N + n];
    matmul_nt(x.data(), M, K, wt.data(), N, ynt.data());
    worst = 0;
    for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, (double)std::fabs(ynt[i] + b[i % N] - ref[i]));
    CHECK(worst < 1e-4, "matmul_nt matches reference");
  }
}

static void sampling_tests() {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
  const float lse = logsumexp(logits.data(), (int)logits.size());
  SamplingParams greedy;
  greedy.temperature = 0;
  SampleResult r = sample_token(logits.data(), 6, greedy, 0);
  CHECK(r.token == 1, "greedy takes the lowest index on ties");
  CHECK_NEAR(r.logprob, 2.0f - lse, 1e-6, "greedy logprob is log_softmax of the raw logits");
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 1;
  bool all_top = true;
  for (uint32_t s = 0; s < 50; ++s) all_top &= sample_token(logits.data(), 6, p, s).token == 1;
  CHECK(all_top, "top_k 1 is greedy (ties by index)");
  p.top_k = 3;
  bool in_top3 = true;
  for (uint32_t s = 0; s < 300; ++s) {
    const int t = sample_token(logits.data(), 6, p, s).token;
    in_top3 &= t == 1 || t == 3 || t == 4;
  }
  CHECK(in_top3, "top_k 3 never leaves the top 3");
  p.top_k = 0;
  p.top_p = 0.01f;
  bool first_only = true;
  for (uint32_t s = 0; s < 100; ++s) first_only &= sample_token(logits.data(), 6, p, s).token == 1;
  CHECK(first_only, "tiny top_p keeps only the most likely token");
  // Frequencies at temperature 1 follow softmax.
  p = SamplingParams{};
  p.seed = 99;
  std::vector<int> hist(6, 0);
  const int n = 20000;
  for (uint32_t s = 0; s < (uint32_t)n; ++s) hist[sample_token(logits.data(), 6, p, s).token]++;
  double worst = 0;
  for (int i = 0; i < 6; ++i) worst = std::max(worst, std::fabs(hist[i] / (double)n - std::exp(logits[i] - lse)));
  CHECK(worst < 0.015, "sampled frequencies follow the softmax (max dev " + std::to_string(worst) + ")");
  SampleResult s1 = sample_token(logits.data(), 6, p, 7), s2 = sample_token(logits.data(), 6, p, 7);
  CHECK(s1.token == s2.token, "same seed and step, same token");
  CHECK(default_request_seed(0, "a") != default_request_seed(0, "b") && default_request_seed(0, "a") != default_request_seed(1, "a"),
        "default seeds differ by id and engine seed");

  // top_logprobs: best first, the lower id first among equal logits, logprobs of the raw softmax,
  // whatever the temperature; k beyond the vocabulary gives the whole vocabulary.
  const std::vector<float> tied = {1.f, 3.f, 3.f, 2.f, 3.f};
  const float tlse = logsumexp(tied.data(), 5);
  auto top = top_logprobs(tied.data(), 5, 4, tlse);
  CHECK(top.size() == 4 && top[0].first == 1 && top[1].first == 2 && top[2].first == 4 && top[3].first == 3,
        "top_logprobs: logit descending, ties by lower id");
  CHECK(std::fabs(top[3].second - (2.f - tlse)) < 1e-6f, "top_logprobs: log-softmax of the raw logits");
  CHECK(top_logprobs(tied.data(), 5, 9, tlse).size() == 5, "top_logprobs: k > vocab gives the vocabulary");
  SamplingParams hot;
  hot.temperature = 1.7f;
  hot.top_logprobs = 2;
  SampleResult hr = sample_token(tied.data(), 5, hot, 3);
  CHECK(hr.top.size() == 2 && hr.top[0].first == 1 && std::fabs(hr.top[0].second - (3.f - tlse)) < 1e-6f,
        "sample_token fills top with the unmodified distribution's best tokens");
  CHECK(sample_token(tied.data(), 5, greedy, 0).top.empty(), "no top unless asked for");
}

int main() {
  attnbench_test::init();
  CHECK(true, std::string("matmul path: ") + (matmul_uses_avx2() ? "AVX2+FMA" : "SSE"));
  matmul_tests();
  set_matmul_allow_avx2(false);  // the portable path too, whatever this CPU has
  matmul_tests();
  set_matmul_allow_avx2(true);
  sampling_tests();
  return attnbench_test::finish("test_kernels");
}
