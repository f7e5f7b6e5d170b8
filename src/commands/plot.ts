// `attnbench plot <results...>`: figures (PNG + SVG) and markdown summaries from results files;
// with --baseline/--candidate also the comparison figure and ratio table.
import { Command } from "commander";
import { z } from "zod";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { defaultFiguresDir, plotResults } from "../plot/index.js";
import { ResultsFileError } from "../results/load-results.js";

const PlotOptionsSchema = z
  .object({
    inputs: z.array(z.string().min(1)),
    out: z.string().min(1).optional(),
    logScale: z.boolean().default(false),
    baseline: z.string().min(1).optional(),
    candidate: z.string().min(1).optional(),
  })
  .refine((o) => !!o.baseline === !!o.candidate, { message: "--baseline and --candidate go together", path: ["candidate"] })
  .refine((o) => o.inputs.length > 0 || !!o.baseline, { message: "give at least one results file (or --baseline and --candidate)" });

export const plotCommand = new Command("plot")
  .description("draw figures (PNG + SVG) and markdown summaries from online/offline results files")
  .argument("[results...]", "online_results.json / offline_results.json files")
  .option("-o, --out <dir>", "output folder (default outputs/figures/<utc timestamp>)")
  .option("--log-scale", "log y axis on the latency figures")
  .option("--baseline <file>", "baseline results file for a comparison figure and comparison.md")
  .option("--candidate <file>", "candidate results file for the comparison")
  .action(
    action(async (inputs: string[], raw: Record<string, unknown>) => {
      const opts = parseOptions(PlotOptionsSchema, { ...raw, inputs });
      const outDir = opts.out ?? defaultFiguresDir();
      try {
        const written = await plotResults({ inputs: opts.inputs, outDir, logScale: opts.logScale, baseline: opts.baseline, candidate: opts.candidate });
        for (const path of written) process.stdout.write(`${path}\n`);
      } catch (err) {
        // An unusable input file is a usage problem (exit 2), like a bad flag.
        if (err instanceof ResultsFileError) throw new UsageError([err.message]);
        throw err;
      }
    }),
  );
