// attnbench-engine: flags -> one-shot generation or the JSON-lines protocol loop (docs/protocol.md).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/fatal_hook.h"

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
  // Events are buffered and leave once per engine step (Engine::flush), not once per line: a decode
  // step of 128 sequences is one write instead of 128 flushed ones.
  static char out_buf[1 << 20];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
  auto emit = [](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  };
  // After a fatal error the device may be wedged (a kernel that never ends): destructors would block
  // in cudaFree, so leave with _Exit once the event is out.
  auto die = [&](const std::string& message) {
    emit(fatal_event(message));
    std::fflush(stdout);
    std::fprintf(stderr, "attnbench-engine: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  };
  fatal_hook() = die;
  std::unique_ptr<Engine> engine;
  try {
    engine = std::make_unique<Engine>(opt, emit);
  } catch (const std::exception& e) {
    die(e.what());
  }
  engine->set_flush([] { std::fflush(stdout); });
  engine->emit_ready();
  engine->flush();
  int rc = 0;
  try {
    rc = run_server(*engine, STDIN_FILENO);
  } catch (const std::exception& e) {
    // A bug, not bad input: say so on both channels rather than vanish.
    die(std::string("internal error: ") + e.what());
  }
  std::fflush(stdout);
  if (rc != 0) {  // the engine emitted `fatal` (a failed step): skip destructors, as in die()
    std::fflush(stderr);
    std::_Exit(rc);
  }
  return rc;
}
