// `attnbench gate`: the CI perf gate. Exit 0 pass, 1 regression, 2 invalid input.
import { Command } from "commander";
import { z } from "zod";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { runGate } from "../gate/index.js";
import { parseMaxRegression } from "../gate/tolerances.js";

const GateOptionsSchema = z.object({
  baseline: z.string({ required_error: "required" }).min(1),
  candidate: z.string({ required_error: "required" }).min(1),
  maxRegression: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return {};
      try {
        return parseMaxRegression(s);
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
        return z.NEVER;
      }
    }),
  force: z.boolean().default(false),
  report: z.string().min(1).optional(),
  figure: z.string().min(1).optional(),
  resamples: z.coerce.number().int().min(200).max(100_000).default(2000),
  confidence: z.coerce.number().gt(0.5).lt(1).default(0.95),
  seed: z.coerce.number().int().default(1),
});

export const gateCommand = new Command("gate")
  .description("compare a candidate results file with a baseline; exit 0 pass, 1 regression, 2 invalid input")
  .requiredOption("--baseline <file>", "baseline results file (online or offline)")
  .requiredOption("--candidate <file>", "candidate results file of the same kind")
  .option("--max-regression <list>", "tolerances, e.g. ttft_p90=10%,output_tok_s=5% (\"off\" drops a default)")
  .option("--force", "compare even when the environment fingerprints differ")
  .option("--report <file>", "also write the markdown report here")
  .option("--figure <dir>", "also draw the comparison figure and comparison.md into this folder")
  .option("--resamples <n>", "bootstrap resamples", "2000")
  .option("--confidence <level>", "two-sided confidence level of the interval", "0.95")
  .option("--seed <n>", "bootstrap seed", "1")
  .action(
    action(async (raw: Record<string, unknown>) => {
      const opts = parseOptions(GateOptionsSchema, raw);
      const result = await runGate({
        baseline: opts.baseline, candidate: opts.candidate, tolerances: opts.maxRegression, force: opts.force,
        report: opts.report, figureDir: opts.figure, resamples: opts.resamples, confidence: opts.confidence, seed: opts.seed,
      });
      if (result.exitCode === 2) throw new UsageError([result.text]);
      process.stdout.write(result.text + "\n");
      for (const path of result.written) process.stderr.write(`wrote ${path}\n`);
      process.exitCode = result.exitCode;
    }),
  );
