// `attnbench kernels`: attention kernel microbenchmark. Runs attnbench-kernels and the PyTorch
// anchors on the GPU host (or reads their JSON with --from), merges them, prints ms / TFLOPS / GB/s
// with ratios to PyTorch FA2 and cuDNN, writes outputs/kernels_<ts>/kernels.json and kernels.png.
// Exit 1 when a backend's correctness check failed, 2 on bad input.
import { Command } from "commander";
import { z } from "zod";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { failedChecks } from "../kernels/merge.js";
import { runKernels } from "../kernels/run.js";
import { formatKernelsTable } from "../kernels/table.js";

const KernelsOptionsSchema = z.object({
  from: z.array(z.string().min(1)).optional(),
  bench: z.string().min(1).optional(),
  python: z.string().min(1).default("python3"),
  quick: z.boolean().default(false),
  batchMs: z.coerce.number().min(0).max(1000).optional(),
  shape: z.string().min(1, "--shape: give part of a shape name, e.g. llama").optional(),
  out: z.string().min(1).optional(),
});

export const kernelsCommand = new Command("kernels")
  .description("attention kernel microbenchmark: every backend vs PyTorch FA2 and cuDNN (TFLOPS, GB/s, ratios)")
  .option("--from <paths...>", "read kernels_native.json / kernels_anchors.json (files or folders) instead of running")
  .option("--bench <path>", "attnbench-kernels binary (default native/build/attnbench-kernels)")
  .option("--python <exe>", "python with torch, for the anchors", "python3")
  .option("--quick", "fewer shapes")
  .option("--shape <substr>", "only the shapes whose name contains this (both measurers)")
  .option("--batch-ms <ms>", "GPU time of one timed batch of back-to-back calls, for both measurers (default 2; 0: one call a timing)")
  .option("--out <dir>", "output folder (default outputs/kernels_<ts>)")
  .action(
    action(async (raw: Record<string, unknown>) => {
      const opts = parseOptions(KernelsOptionsSchema, raw);
      if (opts.from?.length) {
        const measuring = [opts.batchMs !== undefined && "--batch-ms", opts.shape !== undefined && "--shape"].filter((x): x is string => !!x);
        if (measuring.length) throw new UsageError(measuring.map((f) => `${f}: only applies when measuring, not with --from`));
      }
      const { report, written } = await runKernels(opts);
      for (const path of written) process.stderr.write(`wrote ${path}\n`);
      process.stdout.write(formatKernelsTable(report) + "\n");
      if (failedChecks(report).length) process.exitCode = 1;
    }),
  );
