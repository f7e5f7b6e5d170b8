// `attnbench plot`: figures and markdown summaries from results files (full action lands next).
import { Command } from "commander";

export const plotCommand = new Command("plot")
  .description("draw figures and markdown summaries from results files")
  .argument("[inputs...]", "online_results.json / offline_results.json files")
  .action(() => {
    process.stderr.write("plot: not implemented yet\n");
    process.exitCode = 2;
  });
