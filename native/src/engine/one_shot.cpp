#include "engine/one_shot.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace attnbench {

using json = nlohmann::ordered_json;

int run_one_shot(const EngineOptions& opt) {
  // The request goes through the same engine and protocol path as served ones; its events are
  // collected here instead of printed.
  json tokens = json::array(), logprobs = json::array();
  std::string failure;
  bool done = false;
  Engine engine(opt, [&](const std::string& line) {
    json ev = json::parse(line);
    const std::string kind = ev.value("ev", "");
    if (kind == "tok") {
      for (const auto& t : ev["tokens"]) tokens.push_back(t);
      for (const auto& l : ev["logprobs"]) logprobs.push_back(l);
    } else if (kind == "done") {
      done = true;
      if (ev["finish"] == "error") failure = ev.value("error", "request failed");
    } else if (kind == "error") {
      failure = ev.value("message", "error");
      done = true;
    }
  });
  json add = {{"op", "add"},
              {"id", "one-shot"},
              {"prompt", opt.prompt_ids},
              {"max_tokens", opt.max_tokens},
              {"temperature", opt.temperature},
              {"top_p", opt.top_p},
              {"top_k", opt.top_k},
              {"seed", opt.seed},
              {"ignore_eos", opt.ignore_eos},
              {"logprobs", true}};
  engine.handle_line(add.dump());
  while (!done && engine.has_work()) engine.step();
  if (!failure.empty()) {
    std::fprintf(stderr, "attnbench-engine: %s\n", failure.c_str());
    return 1;
  }
  std::printf("%s\n", json({{"tokens", tokens}, {"logprobs", logprobs}}).dump().c_str());
  return 0;
}

}  // namespace attnbench
