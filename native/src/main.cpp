// attnbench-engine: flags -> one-shot generation or the JSON-lines protocol loop (docs/protocol.md).
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "engine/engine.h"
#include "engine/engine_options.h"
#include "engine/one_shot.h"
#include "engine/server_loop.h"
#include "protocol.h"

using namespace attnbench;

int main(int argc, char** argv) {
  std::vector<std::string> errors;
  EngineOptions opt = parse_engine_flags(argc, argv, errors);
  if (opt.help) {
    std::fputs(engine_usage().c_str(), stdout);
    return 0;
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "attnbench-engine: %s\n", e.c_str());
    return 2;
  }
  if (opt.generate) {
    try {
      return run_one_shot(opt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "attnbench-engine: %s\n", e.what());
      return 1;
    }
  }
  auto emit = [](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };
  std::unique_ptr<Engine> engine;
  try {
    engine = std::make_unique<Engine>(opt, emit);
  } catch (const std::exception& e) {
    emit(fatal_event(e.what()));
    std::fprintf(stderr, "attnbench-engine: %s\n", e.what());
    return 1;
  }
  engine->emit_ready();
  try {
    return run_server(*engine, STDIN_FILENO);
  } catch (const std::exception& e) {
    // A bug, not bad input: say so on both channels rather than vanish.
    emit(fatal_event(std::string("internal error: ") + e.what()));
    std::fprintf(stderr, "attnbench-engine: internal error: %s\n", e.what());
    return 1;
  }
}
