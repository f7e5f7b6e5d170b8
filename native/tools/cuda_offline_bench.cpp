// The offline seed workload straight through the CUDA runner (no scheduler, no protocol): GPT-2
// small shapes (synthetic weights), fp16, 128 prompts x 256 random ids -> 64 greedy tokens.
// Prefill in steps of --budget tokens (each prompt's first token is sampled there), then 63 decode
// steps of 128 sequences. Times the whole workload (host clock; every step syncs once), warm
// (second of two runs), per backend pair and with / without CUDA graphs. One JSON line each.
//   cuda_offline_bench [--backends naive,fused] [--budget 8192] [--model synthetic:gpt2] [--breakdown 1]
//                      [--prompts 128 --input-len 256 --output-len 64]   (e.g. --prompts 2 --input-len 900:
//                      the small-batch decode step an online TPOT is made of) [--dtype fp16|bf16]
//                      [--masks "attn;gemm;..."] [--graphs 1|0|both]
// Each line also has the decode steps' device time (cudaEvents inside the runner) and host time.
// ATTNBENCH_* experiment switches (docs/experiments.md) are read once, as the engine reads them.
// --breakdown 1: graphs only, once per ATTNBENCH_SKIP mask (attention, GEMMs, LM head, sampling,
// layernorms, qkv split/KV append, embedding, everything): the decode step time with a part left
// out, so each part's cost is the difference to the full step. Tokens are garbage in those runs.
// --masks: the ATTNBENCH_SKIP masks of --breakdown, ';'-separated ("" = the full step, "-" = all of them).
// --idle-ms N: the GPU sits idle N ms before the timed run (an online request arriving at an idle
// engine: does the first step pay for clocks that dropped while idle?).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/experiments.h"
#include "core/step_batch.h"
#include "models/registry.h"
#include "runner/model_runner.h"

using namespace attnbench;

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Times { double prefill_ms, decode_ms, decode_gpu_ms, decode_prep_ms; };

static Times run_workload(ModelRunner& r, int P, int in_len, int out_len, int bs, int budget, int vocab) {
  const int nblk = (in_len + out_len + bs - 1) / bs;
  std::vector<std::vector<int32_t>> out(P);
  uint32_t x = 7;
  std::vector<int32_t> prompts((size_t)P * in_len);
  for (int32_t& t : prompts) t = (int32_t)((x = x * 1664525u + 1013904223u) >> 8) % vocab;
  SamplingParams greedy;
  greedy.temperature = 0.f;
  auto table_row = [&](StepBatch& b, int p) {
    for (int j = 0; j < nblk; ++j) b.block_tables.push_back(p * nblk + j);
  };
  std::vector<SampleResult> res;
  const double t0 = now_ms();
  const int per_step = std::max(1, budget / in_len);
  for (int p0 = 0; p0 < P; p0 += per_step) {
    StepBatch b;
    b.max_blocks_per_seq = nblk;
    b.cu_seqlens_q.push_back(0);
    for (int p = p0; p < std::min(P, p0 + per_step); ++p) {
      for (int i = 0; i < in_len; ++i) {
        b.tokens.push_back(prompts[(size_t)p * in_len + i]);
        b.positions.push_back(i);
        b.slot_mapping.push_back((p * nblk + i / bs) * bs + i % bs);
      }
      b.sample_seq.push_back(b.num_seqs());
      b.cu_seqlens_q.push_back(b.cu_seqlens_q.back() + in_len);
      b.ctx_lens.push_back(0);
      b.seq_lens_k.push_back(in_len);
      table_row(b, p);
      b.sample_params.push_back(greedy);
      b.sample_step.push_back(0);
      b.num_prefill_seqs++;
    }
    r.step(b, res);
    for (size_t j = 0; j < res.size(); ++j) out[p0 + j].push_back(res[j].token);
  }
  const double t1 = now_ms();
  double gpu = 0, prep = 0;
  for (int k = 1; k < out_len; ++k) {
    StepBatch b;
    b.max_blocks_per_seq = nblk;
    b.cu_seqlens_q.push_back(0);
    const int pos = in_len + k - 1;
    for (int p = 0; p < P; ++p) {
      b.tokens.push_back(out[p].back());
      b.positions.push_back(pos);
      b.slot_mapping.push_back((p * nblk + pos / bs) * bs + pos % bs);
      b.sample_seq.push_back(p);
      b.cu_seqlens_q.push_back(p + 1);
      b.ctx_lens.push_back(pos);
      b.seq_lens_k.push_back(pos + 1);
      table_row(b, p);
      b.sample_params.push_back(greedy);
      b.sample_step.push_back(k);
      b.num_decode_seqs++;
    }
    r.step(b, res);
    gpu += r.last_timing().gpu_ms;
    prep += r.last_timing().prep_ms;
    for (int p = 0; p < P; ++p) out[p].push_back(res[p].token);
  }
  return {t1 - t0, now_ms() - t1, gpu, prep};
}

int main(int argc, char** argv) {
  std::string backends = "naive", model = "synthetic:gpt2";
  int budget = 8192;
  bool breakdown = false;
  std::string masks_arg = "-", dtype_arg = "fp16", graphs_arg = "both";
  int P = 128, in_len = 256, out_len = 64, idle_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--backends") backends = v;
    else if (f == "--budget") budget = std::stoi(v);
    else if (f == "--model") model = v;
    else if (f == "--breakdown") breakdown = v == "1";
    else if (f == "--prompts") P = std::max(1, std::stoi(v));
    else if (f == "--input-len") in_len = std::max(1, std::stoi(v));
    else if (f == "--output-len") out_len = std::max(2, std::stoi(v));
    else if (f == "--idle-ms") idle_ms = std::max(0, std::stoi(v));
    else if (f == "--masks") masks_arg = v;
    else if (f == "--dtype") dtype_arg = v;
    else if (f == "--graphs") graphs_arg = v;
    else {
      std::fprintf(stderr, "cuda_offline_bench: unknown flag %s (see the comment at the top of the source)\n", f.c_str());
      return 2;
    }
  }
  if (dtype_arg != "fp16" && dtype_arg != "bf16") {
    std::fprintf(stderr, "cuda_offline_bench: --dtype must be fp16 or bf16, not %s\n", dtype_arg.c_str());
    return 2;
  }
  if (graphs_arg != "both" && graphs_arg != "1" && graphs_arg != "0") {
    std::fprintf(stderr, "cuda_offline_bench: --graphs must be 1, 0 or both, not %s\n", graphs_arg.c_str());
    return 2;
  }
  const DType dtype = dtype_arg == "bf16" ? DType::BF16 : DType::F16;
  const int bs = 16;
  int errors = 0;
  try {
    const ExperimentSwitches env_switches = read_experiment_switches();  // this tool's ATTNBENCH_* variables
    ModelWeights w = load_model(model, 0);
    std::stringstream ss(backends);
    for (std::string name; std::getline(ss, name, ',');) {
      std::vector<std::string> masks = {""};
      if (breakdown && masks_arg == "-")
        masks = {"", "attn", "gemm", "lmhead,sample", "sample", "norm", "append", "embed",
                 "attn,gemm,lmhead,sample,norm,append,embed"};
      else if (breakdown) {
        masks.clear();
        std::stringstream ms(masks_arg);
        for (std::string m; std::getline(ms, m, ';');) masks.push_back(m);
      }
      for (const std::string& mask : masks)
      for (bool graph : {true, false}) {
        if (breakdown && !graph) continue;
        if ((graphs_arg == "1" && !graph) || (graphs_arg == "0" && graph)) continue;
        RunnerOptions o;
        o.exp = env_switches;
        if (breakdown) {
          setenv("ATTNBENCH_SKIP", mask.c_str(), 1);
          o.exp.skip = read_experiment_switches().skip;
        }
        o.device = Device::CUDA;
        o.dtype = dtype;
        o.prefill_backend = o.decode_backend = name;
        o.block_size = bs;
        o.num_kv_blocks = P * ((in_len + out_len + bs - 1) / bs);
        o.max_num_seqs = P;
        o.max_num_batched_tokens = budget;
        o.cuda_graph = graph;
        std::unique_ptr<ModelRunner> r;
        try {
          r = make_cuda_runner(w, o);
        } catch (const std::exception& e) {
          std::printf("{\"backend\":\"%s\",\"error\":\"%s\"}\n", name.c_str(), e.what());
          ++errors;
          continue;
        }
        r->set_timing(true);
        run_workload(*r, P, in_len, out_len, bs, budget, w.config.vocab_size);  // warm-up
        if (idle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
        Times t = run_workload(*r, P, in_len, out_len, bs, budget, w.config.vocab_size);
        const double total = t.prefill_ms + t.decode_ms;
        std::printf("{\"backend\":\"%s\",\"dtype\":\"%s\",\"prompts\":%d,\"input_len\":%d,\"idle_ms\":%d,\"skip\":\"%s\",\"cuda_graph\":%s,\"device\":\"%s\",\"prefill_ms\":%.2f,\"decode_ms\":%.2f,"
                    "\"decode_step_ms\":%.3f,\"decode_step_gpu_ms\":%.3f,\"decode_step_prep_ms\":%.3f,\"total_ms\":%.2f,\"output_tok_per_s\":%.0f}\n",
                    name.c_str(), dtype_arg.c_str(), P, in_len, idle_ms, mask.c_str(), graph ? "true" : "false", r->device_name().c_str(), t.prefill_ms, t.decode_ms,
                    t.decode_ms / (out_len - 1), t.decode_gpu_ms / (out_len - 1), t.decode_prep_ms / (out_len - 1),
                    total, P * out_len / (total / 1000.0));
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_offline_bench: %s\n", e.what());
    return 1;
  }
  return errors ? 1 : 0;
}
