// `attnbench gate`: CI perf gate comparing a candidate results file with a baseline (full action lands next).
import { Command } from "commander";

export const gateCommand = new Command("gate")
  .description("compare a candidate results file with a baseline; exit 1 on a regression")
  .action(() => {
    process.stderr.write("gate: not implemented yet\n");
    process.exitCode = 2;
  });
