// The CUDA runner end to end: greedy tokens (fp16) equal to the CPU engine's (fp32) on
// synthetic:tiny and on every HF checkpoint under the fixtures folder (argv[1]); outputs with CUDA
// graphs identical to those without (greedy and seeded sampling); teacher-forced scores close to
// the CPU's. A small scheduler stand-in drives both runners through chunked prefill, mixed
// prefill + decode steps and pure decode steps on shuffled KV blocks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/step_batch.h"
#include "core/device_status.h"
#include "models/registry.h"
#include "runner/model_runner.h"

using namespace attnbench;

static int g_failures = 0;
static void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "OK    " : "NOT OK", what.c_str());
  if (!ok) ++g_failures;
}

struct Req {
  std::vector<int32_t> prompt;
  int start_step, chunk;  // prefill in chunks of `chunk` tokens from step `start_step`
  SamplingParams params;
  std::vector<int32_t> blocks;
  int cached = 0;
  std::vector<int32_t> out;
  std::vector<float> logprobs;
};

static constexpr int kBlockSize = 16;

// Runs every request to `max_new` tokens; returns them (and logprobs) per request.
static std::vector<Req> drive(ModelRunner& r, std::vector<Req> reqs, int max_new) {
  for (int step = 0;; ++step) {
    StepBatch b;
    std::vector<int> slice_req;
    bool any_left = false;
    b.cu_seqlens_q.push_back(0);
    int max_blocks = 0;
    for (const Req& q : reqs) max_blocks = std::max(max_blocks, (int)q.blocks.size());
    b.max_blocks_per_seq = max_blocks;
    for (int phase = 0; phase < 2; ++phase) {  // prefill slices first, then decodes
      for (size_t i = 0; i < reqs.size(); ++i) {
        Req& q = reqs[i];
        if ((int)q.out.size() >= max_new) continue;
        any_left = true;
        if (step < q.start_step) continue;
        const bool prefill = q.cached < (int)q.prompt.size();
        if (prefill != (phase == 0)) continue;
        const int n = prefill ? std::min(q.chunk, (int)q.prompt.size() - q.cached) : 1;
        for (int k = 0; k < n; ++k) {
          const int pos = q.cached + k;
          b.tokens.push_back(prefill ? q.prompt[pos] : q.out.back());
          b.positions.push_back(pos);
          b.slot_mapping.push_back(q.blocks[pos / kBlockSize] * kBlockSize + pos % kBlockSize);
        }
        const int s = (int)b.ctx_lens.size();
        b.cu_seqlens_q.push_back(b.cu_seqlens_q.back() + n);
        b.ctx_lens.push_back(q.cached);
        b.seq_lens_k.push_back(q.cached + n);
        for (int j = 0; j < max_blocks; ++j) b.block_tables.push_back(j < (int)q.blocks.size() ? q.blocks[j] : 0);
        (prefill ? b.num_prefill_seqs : b.num_decode_seqs)++;
        if (!prefill || q.cached + n == (int)q.prompt.size()) {
          b.sample_seq.push_back(s);
          b.sample_params.push_back(q.params);
          b.sample_step.push_back((uint32_t)q.out.size());
        }
        slice_req.push_back((int)i);
      }
    }
    if (!any_left) break;
    std::vector<SampleResult> res;
    r.step(b, res);
    for (int s = 0; s < b.num_seqs(); ++s) reqs[slice_req[s]].cached = b.seq_lens_k[s];
    for (size_t j = 0; j < b.sample_seq.size(); ++j) {
      Req& q = reqs[slice_req[b.sample_seq[j]]];
      q.out.push_back(res[j].token);
      q.logprobs.push_back(res[j].logprob);
    }
  }
  return reqs;
}

static std::vector<Req> make_requests(const ModelConfig& c, float temperature, int max_new, int* num_blocks) {
  const int lens[] = {5, 40, 17, 1, 60, 9, 23};
  const int starts[] = {0, 0, 3, 3, 5, 8, 8};
  const int chunks[] = {64, 24, 64, 64, 32, 4, 64};
  std::vector<Req> reqs;
  int next_block = 0;
  uint32_t x = 12345;
  for (int i = 0; i < 7; ++i) {
    Req q;
    const int len = std::min(lens[i], c.max_context - max_new - 1);  // small fixtures (n_ctx 64)
    for (int k = 0; k < len; ++k) q.prompt.push_back((int32_t)((x = x * 1664525u + 1013904223u) >> 8) % c.vocab_size);
    q.start_step = starts[i];
    q.chunk = chunks[i];
    q.params.temperature = temperature;
    q.params.top_k = i % 2 ? 20 : 0;
    q.params.top_p = i % 3 ? 0.9f : 1.f;
    q.params.seed = 1000 + i;
    const int nblk = (len + max_new + kBlockSize - 1) / kBlockSize;
    for (int j = 0; j < nblk; ++j) q.blocks.push_back(next_block + nblk - 1 - j);  // reversed: real paging
    next_block += nblk;
    reqs.push_back(q);
  }
  *num_blocks = next_block + 2;
  return reqs;
}

static std::string tokens_str(const std::vector<int32_t>& v) {
  std::string s;
  for (int t : v) s += std::to_string(t) + " ";
  return s;
}

static void test_model(const std::string& spec) {
  ModelWeights w = load_model(spec, 0);
  const int max_new = std::min(16, w.config.max_context / 4);
  int num_blocks = 0;
  auto greedy = make_requests(w.config, 0.f, max_new, &num_blocks);
  RunnerOptions o;
  o.block_size = kBlockSize;
  o.num_kv_blocks = num_blocks;
  o.max_num_seqs = 16;
  o.max_num_batched_tokens = 256;
  RunnerOptions cpu_o = o;
  cpu_o.device = Device::CPU;
  cpu_o.dtype = DType::F32;
  auto cpu = make_cpu_runner(w, cpu_o);
  auto cpu_out = drive(*cpu, greedy, max_new);

  RunnerOptions g = o;
  g.device = Device::CUDA;
  g.dtype = DType::F16;
  g.cuda_graph = false;
  auto eager = make_cuda_runner(w, g);
  auto eager_out = drive(*eager, greedy, max_new);
  g.cuda_graph = true;
  auto graphed = make_cuda_runner(w, g);
  auto graph_out = drive(*graphed, greedy, max_new);

  // A random-weight model has near-ties (top-2 logits within fp16 rounding) now and then; a
  // divergence there is not a bug. It is told apart by the two chosen tokens' logprobs, which are
  // then nearly equal; a real bug diverges with a large logprob gap.
  int same_cpu = 0, near_tie = 0, same_graph = 0;
  double max_lp = 0;
  for (size_t i = 0; i < greedy.size(); ++i) {
    if (eager_out[i].out == cpu_out[i].out) ++same_cpu;
    else {
      size_t k = 0;
      while (k < cpu_out[i].out.size() && cpu_out[i].out[k] == eager_out[i].out[k]) ++k;
      const double gap = std::fabs(cpu_out[i].logprobs[k] - eager_out[i].logprobs[k]);
      near_tie += gap < 5e-3;
      std::printf("  diverges at token %zu, chosen-token logprob gap %.2e (%s)\n", k, gap, gap < 5e-3 ? "near tie" : "real");
    }
    if (eager_out[i].out != cpu_out[i].out) std::printf("  %s req %zu: cpu  %s\n  %*s cuda %s\n", spec.c_str(), i, tokens_str(cpu_out[i].out).c_str(),
                     (int)spec.size() + (i > 9 ? 8 : 7), "", tokens_str(eager_out[i].out).c_str());
    if (eager_out[i].out == graph_out[i].out && eager_out[i].logprobs == graph_out[i].logprobs) ++same_graph;
    for (size_t k = 0; k < std::min(cpu_out[i].logprobs.size(), eager_out[i].logprobs.size()); ++k) {
      if (cpu_out[i].out[k] != eager_out[i].out[k]) break;
      max_lp = std::max(max_lp, (double)std::fabs(cpu_out[i].logprobs[k] - eager_out[i].logprobs[k]));
    }
  }
  const std::string n = std::to_string(greedy.size());
  check(same_cpu + near_tie == (int)greedy.size(), spec + ": CUDA fp16 greedy tokens == CPU fp32 (" + std::to_string(same_cpu) + "/" + n +
                                                 " requests identical, " + std::to_string(near_tie) + " diverge at a near tie)");
  check(max_lp < 5e-2, spec + ": greedy logprobs within 5e-2 of CPU (max " + std::to_string(max_lp) + ")");
  check(same_graph == (int)greedy.size(), spec + ": greedy, graphs on == off, tokens and logprobs (" + std::to_string(same_graph) + "/" + n + ")");

  auto sampled = make_requests(w.config, 0.8f, max_new, &num_blocks);
  auto s_eager = drive(*eager, sampled, max_new), s_graph = drive(*graphed, sampled, max_new);
  int same_s = 0;
  for (size_t i = 0; i < sampled.size(); ++i) same_s += s_eager[i].out == s_graph[i].out && s_eager[i].logprobs == s_graph[i].logprobs;
  check(same_s == (int)sampled.size(), spec + ": sampled (t 0.8, top-k/top-p), graphs on == off (" + std::to_string(same_s) + "/" + n + ")");

  // A request alone (the online case of an idle engine): its sampled prefill step replays a captured
  // prefill graph. Whole prompt in one step (request 4), then chunked so that the sampled last chunk
  // has context (request 1 in chunks of 16). Graphs on == off bit for bit, and the same tokens as CPU.
  for (int which : {4, 1}) {
    std::vector<Req> solo = {greedy[which]};
    solo[0].start_step = 0;
    solo[0].chunk = which == 4 ? 64 : 16;
    auto c = drive(*cpu, solo, max_new), e = drive(*eager, solo, max_new), gr = drive(*graphed, solo, max_new);
    check(e[0].out == gr[0].out && e[0].logprobs == gr[0].logprobs,
          spec + ": request " + std::to_string(which) + " alone (prefill graph), graphs on == off");
    size_t k = 0;
    while (k < c[0].out.size() && c[0].out[k] == e[0].out[k]) ++k;
    const bool tie = k < c[0].out.size() && std::fabs(c[0].logprobs[k] - e[0].logprobs[k]) < 5e-3;
    check(k == c[0].out.size() || tie, spec + ": request " + std::to_string(which) + " alone, CUDA greedy == CPU (" +
                                           std::to_string(k) + "/" + std::to_string(c[0].out.size()) + " tokens" +
                                           (tie ? ", then a near tie" : "") + ")");
  }

  std::vector<int32_t> seq(greedy[4].prompt);
  for (int t : cpu_out[4].out) seq.push_back(t);
  auto ref = cpu->score(seq), got = eager->score(seq);
  double max_d = ref.size() == got.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(ref.size(), got.size()); ++i)
    max_d = std::max(max_d, (double)std::fabs(ref[i] - got[i]));
  check(max_d < 5e-2, spec + ": score() within 5e-2 of CPU over " + std::to_string(seq.size()) + " tokens (max " + std::to_string(max_d) + ")");

  g.dtype = DType::BF16;
  g.cuda_graph = false;
  auto bf = make_cuda_runner(w, g);
  auto got_bf = bf->score(seq);
  double max_bf = ref.size() == got_bf.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(ref.size(), got_bf.size()); ++i)
    max_bf = std::max(max_bf, (double)std::fabs(ref[i] - got_bf[i]));
  check(max_bf < 0.2, spec + ": bf16 score() within 0.2 of CPU (max " + std::to_string(max_bf) + ")");
}

int main(int argc, char** argv) {
  const std::string status = cuda_device_status();
  if (status != "ok") {
    std::printf("NOT OK cuda_device_status: %s\n", status.c_str());
    return 1;
  }
  std::vector<std::string> specs = {"synthetic:tiny"};
  if (argc > 1 && std::filesystem::is_directory(argv[1]))
    for (const auto& e : std::filesystem::directory_iterator(argv[1]))
      if (std::filesystem::exists(e.path() / "config.json") &&
          (std::filesystem::exists(e.path() / "model.safetensors") ||
           std::filesystem::exists(e.path() / "model.safetensors.index.json")))
        specs.push_back(e.path().string());
  for (const std::string& s : specs) {
    try {
      test_model(s);
    } catch (const std::exception& e) {
      check(false, s + ": exception: " + e.what());
    }
  }
  std::printf("cuda_runner_test: %d failure(s)\n", g_failures);
  return g_failures ? 1 : 0;
}
