// Placeholder (harness engineer): the kernels-benchmark owner replaces this file.
import { Command } from "commander";

export const kernelsCommand = new Command("kernels")
  .description("TODO: attention kernel microbenchmark (placeholder until src/commands/kernels.ts lands)")
  .action(() => {
    process.stderr.write("kernels: not implemented yet\n");
    process.exitCode = 2;
  });
