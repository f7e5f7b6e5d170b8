// The protocol loop: a reader thread turns stdin into lines; the main thread drains them into the
// engine, runs a step whenever there is work, and sleeps on a condition variable when idle.
#pragma once
#include "engine/engine.h"

namespace attnbench {

// Reads ops from file descriptor `in_fd` until shutdown or EOF; returns the process exit code.
int run_server(Engine& engine, int in_fd);

}  // namespace attnbench
