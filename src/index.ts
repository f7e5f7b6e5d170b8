// Builds the `attnbench` program (one command per file under commands/) and runs it.
import { Command } from "commander";
import { serveCommand } from "./commands/serve.js";
import { generateCommand } from "./commands/generate.js";
import { benchOnlineCommand } from "./commands/bench-online.js";
import { benchOfflineCommand } from "./commands/bench-offline.js";
import { benchLoadgenCommand } from "./commands/bench-loadgen.js";
import { plotCommand } from "./commands/plot.js";
import { gateCommand } from "./commands/gate.js";
import { kernelsCommand } from "./commands/kernels.js";
import { toolVersion } from "./core/paths.js";
import { reportError } from "./cli/errors.js";

export function buildProgram(): Command {
  const bench = new Command("bench")
    .description("benchmark attention backends: online (trace replay over HTTP) or offline (fixed prompts); loadgen: the load generator alone")
    .addCommand(benchOnlineCommand)
    .addCommand(benchOfflineCommand)
    .addCommand(benchLoadgenCommand);
  const program = new Command("attnbench")
    .description("LLM inference engine with pluggable attention backends, and the benchmark harness that drives it")
    .version(toolVersion())
    .showHelpAfterError("(run with --help for usage)")
    .addCommand(serveCommand)
    .addCommand(generateCommand)
    .addCommand(bench)
    .addCommand(plotCommand)
    .addCommand(gateCommand)
    .addCommand(kernelsCommand);
  // Commander's own usage errors (unknown option, missing argument) exit 2 like ours.
  for (const cmd of [program, bench, ...program.commands, ...bench.commands]) cmd.exitOverride((err) => {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    process.exitCode = reportError(err);
  });
