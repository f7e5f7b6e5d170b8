// One-shot scorer for scripts/gpu/hf_check.py: teacher-forced logprobs of a token sequence on the
// CUDA runner. Prints {"logprobs":[...],"device":"..."} on stdout.
//   cuda_score --model DIR|synthetic:NAME --tokens 1,2,3 [--dtype fp16|bf16] [--prefill-attn-backend naive]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/experiments.h"
#include "models/registry.h"
#include "runner/model_runner.h"

using namespace attnbench;

int main(int argc, char** argv) {
  std::string model = "synthetic:tiny", tokens_arg, backend = "naive";
  DType dtype = DType::F16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--model") model = v;
    else if (f == "--tokens") tokens_arg = v;
    else if (f == "--dtype") dtype = v == "bf16" ? DType::BF16 : DType::F16;
    else if (f == "--prefill-attn-backend") backend = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  std::vector<int32_t> tokens;
  std::stringstream ss(tokens_arg);
  for (std::string t; std::getline(ss, t, ',');) tokens.push_back(std::stoi(t));
  try {
    ModelWeights w = load_model(model, 0);
    RunnerOptions o;
    o.exp = read_experiment_switches();
    o.device = Device::CUDA;
    o.dtype = dtype;
    o.prefill_backend = backend;
    o.num_kv_blocks = ((int)tokens.size() + o.block_size - 1) / o.block_size + 1;
    o.max_num_seqs = 8;
    o.max_num_batched_tokens = std::max<int>(256, (int)tokens.size());  // score() runs the whole sequence in one step
    o.cuda_graph = false;
    auto r = make_cuda_runner(w, o);
    std::vector<float> lp = r->score(tokens);
    std::printf("{\"device\":\"%s\",\"logprobs\":[", r->device_name().c_str());
    for (size_t i = 0; i < lp.size(); ++i) std::printf("%s%.6g", i ? "," : "", lp[i]);
    std::printf("]}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_score: %s\n", e.what());
    return 1;
  }
  return 0;
}
