// Batch invariance: every request gets the same tokens alone and inside a batch of 64 mixed-length
// requests run with chunked prefill (a small token budget) and forced preemption (a tiny KV pool).
// Greedy and seeded sampling alike: the sampler's RNG is counter-based per request.
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "test_util.h"

using namespace attnbench;
using nlohmann::json;

struct Collector {
  std::map<std::string, std::vector<int>> tokens;
  std::map<std::string, int> done;
  std::map<std::string, std::string> finish;
  int preemptions = 0;
  void operator()(const std::string& line) {
    json ev = json::parse(line);
    if (ev["ev"] == "tok") tokens[ev["id"]].push_back(ev["tokens"][0]);
    if (ev["ev"] == "done") {
      done[ev["id"]]++;
      finish[ev["id"]] = ev["finish"];
      preemptions += ev["preemptions"].get<int>();
    }
  }
};

static void run(const char* backend) {
  std::mt19937 rng(7);
  auto R = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<json> adds;
  for (int i = 0; i < 64; ++i) {
    const int len = i % 8 == 0 ? 1 : R(2, 200);
    json add = {{"op", "add"}, {"id", "q" + std::to_string(i)}, {"max_tokens", R(4, 40)}, {"ignore_eos", true}};
    std::vector<int> prompt(len);
    for (int& t : prompt) t = R(0, 1023);
    add["prompt"] = prompt;
    add["max_tokens"] = std::min(add["max_tokens"].get<int>(), 256 - len);
    if (i % 3 == 0) {
      add["temperature"] = 0.8;
      add["top_k"] = 40;
      add["top_p"] = 0.9;
      add["seed"] = i;
    } else {
      add["temperature"] = 0;
    }
    adds.push_back(add);
  }

  EngineOptions opt;
  opt.model = "synthetic:tiny";
  opt.prefill_backend = opt.decode_backend = backend;
  opt.num_kv_blocks = 64;
  Collector solo;
  Engine alone(opt, std::ref(solo));
  for (const auto& a : adds) {
    alone.handle_line(a.dump());
    while (alone.has_work()) alone.step();
  }

  opt.max_num_batched_tokens = 48;  // chunked prefill
  opt.num_kv_blocks = 24;           // 384 tokens for 64 requests: preemption guaranteed
  opt.block_size = 16;
  Collector batch;
  Engine together(opt, std::ref(batch));
  for (size_t i = 0; i < adds.size(); ++i) {
    together.handle_line(adds[i].dump());
    if (i % 4 == 3) together.step();  // arrivals interleaved with steps
  }
  int steps = 0;
  while (together.has_work() && steps < 100000) together.step(), ++steps;

  int same = 0;
  for (const auto& a : adds) {
    const std::string id = a["id"];
    same += batch.tokens[id] == solo.tokens[id] && batch.done[id] == 1 && batch.finish[id] == "length";
  }
  const std::string tag = std::string(backend) + ": ";
  CHECK(same == 64, tag + std::to_string(same) + "/64 requests give the same tokens alone and batched");
  CHECK(batch.preemptions > 0, tag + "preemption was exercised (" + std::to_string(batch.preemptions) + ")");
  CHECK(together.num_free_kv_blocks() == together.num_kv_blocks(), tag + "pool fully free afterwards");
}

int main() {
  attnbench_test::init();
  run("naive");
  run("fused");
  return attnbench_test::finish("test_batch_invariance");
}
