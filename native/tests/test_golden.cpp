// Golden test against Hugging Face transformers: for every fixture made by scripts/make-fixtures.py,
// our greedy tokens must be identical and each logprob within 1e-3 of HF's, with both attention
// backends and several block sizes; teacher-forced scores likewise.
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "test_util.h"

using namespace attnbench;
using nlohmann::json;

static std::vector<std::string> fixture_dirs(const std::string& root) {
  std::vector<std::string> dirs;
  if (DIR* d = opendir(root.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') dirs.push_back(root + "/" + e->d_name);
    closedir(d);
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

struct Generated {
  std::vector<int> tokens;
  std::vector<double> logprobs;
};

static Generated generate(Engine& engine, const std::vector<int>& prompt, int n, std::vector<std::string>& events,
                          const std::string& id) {
  events.clear();
  json add = {{"op", "add"}, {"id", id},  {"prompt", prompt}, {"max_tokens", n}, {"temperature", 0},
              {"ignore_eos", true}, {"logprobs", true}};
  engine.handle_line(add.dump());
  while (engine.has_work()) engine.step();
  Generated g;
  for (const auto& line : events) {
    json ev = json::parse(line);
    if (ev["ev"] == "tok") {
      g.tokens.push_back(ev["tokens"][0]);
      g.logprobs.push_back(ev["logprobs"][0]);
    }
  }
  return g;
}

int main(int argc, char** argv) {
  attnbench_test::init();
  const std::string root = argc > 1 ? argv[1] : ATTNBENCH_FIXTURES_DIR;
  const auto dirs = fixture_dirs(root);
  CHECK(dirs.size() >= 6, "found the golden fixtures in " + root);
  struct Variant {
    const char* backend;
    int block_size;
  };
  const Variant variants[] = {{"naive", 16}, {"fused", 16}, {"naive", 1}, {"fused", 5}};
  for (const auto& dir : dirs) {
    std::ifstream f(dir + "/expected.json");
    json expected = json::parse(f);
    for (const auto& v : variants) {
      EngineOptions opt;
      opt.model = dir;
      opt.prefill_backend = opt.decode_backend = v.backend;
      opt.block_size = v.block_size;
      opt.num_kv_blocks = 512;
      opt.max_num_batched_tokens = 8;  // forces chunked prefill of the longer prompts
      std::vector<std::string> events;
      Engine engine(opt, [&](const std::string& l) { events.push_back(l); });
      const std::string tag = dir.substr(dir.rfind('/') + 1) + " " + v.backend + " bs" + std::to_string(v.block_size);
      int case_no = 0;
      for (const auto& c : expected["greedy"]) {
        const auto prompt = c["prompt"].get<std::vector<int>>();
        const auto want = c["tokens"].get<std::vector<int>>();
        const auto want_lp = c["logprobs"].get<std::vector<double>>();
        Generated got = generate(engine, prompt, (int)want.size(), events, "g" + std::to_string(case_no++));
        const std::string what = tag + " prompt len " + std::to_string(prompt.size());
        CHECK(got.tokens == want, what + ": greedy tokens identical to HF");
        double worst = 0;
        for (size_t i = 0; i < std::min(got.logprobs.size(), want_lp.size()); ++i)
          worst = std::max(worst, std::fabs(got.logprobs[i] - want_lp[i]));
        CHECK(worst <= 1e-3 && got.logprobs.size() == want_lp.size(),
              what + ": logprobs within 1e-3 of HF (worst " + std::to_string(worst) + ")");
      }
      for (const auto& c : expected["teacher_forced"]) {
        const auto tokens = c["tokens"].get<std::vector<int32_t>>();
        const auto want = c["logprobs"].get<std::vector<double>>();
        const auto got = engine.runner().score(tokens);
        double worst = 0;
        for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
        CHECK(worst <= 1e-3 && got.size() == want.size(),
              tag + ": teacher-forced logprobs within 1e-3 of HF (worst " + std::to_string(worst) + ")");
      }
      CHECK(engine.num_free_kv_blocks() == engine.num_kv_blocks(), tag + ": every KV block returned");
    }
  }
  return attnbench_test::finish("test_golden");
}
