// runGate: load both files, refuse mismatched environments, compare, report. Returns the exit code
// (0 pass, 1 regression, 2 invalid input) so the command and the tests share one path.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { loadResults, ResultsFileError, type LoadedResults } from "../results/load-results.js";
import { plotComparison } from "../plot/index.js";
import { compareResults, DEFAULT_COMPARE, type GateOutcome } from "./compare.js";
import { describeDiffs, diffFingerprints } from "./fingerprint.js";
import { gateMarkdown } from "./report.js";

export interface GateOptions {
  baseline: string;
  candidate: string;
  tolerances?: Record<string, number | null>;
  force?: boolean;
  report?: string;
  figureDir?: string;
  resamples?: number;
  confidence?: number;
  seed?: number;
}

export interface GateResult {
  exitCode: 0 | 1 | 2;
  /** The markdown report, or the reason the inputs were refused. */
  text: string;
  outcome: GateOutcome | null;
  written: string[];
}

const invalid = (text: string): GateResult => ({ exitCode: 2, text, outcome: null, written: [] });

export async function runGate(opts: GateOptions): Promise<GateResult> {
  let base: LoadedResults;
  let cand: LoadedResults;
  try {
    [base, cand] = await Promise.all([loadResults(opts.baseline), loadResults(opts.candidate)]);
  } catch (err) {
    if (err instanceof ResultsFileError) return invalid(err.message);
    throw err;
  }
  if (base.results.schema !== cand.results.schema) {
    return invalid(`cannot compare ${opts.baseline} (${base.results.schema}) with ${opts.candidate} (${cand.results.schema})`);
  }
  // --scales auto picks each run's scales from that run's own measured capacity, so two runs offer
  // different loads (a slower candidate would be measured at lighter ones): pair fixed scales only.
  for (const [file, r] of [[opts.baseline, base.results], [opts.candidate, cand.results]] as const)
    if (r.schema === "attnbench.online/1" && r.scale_mode === "auto")
      return invalid(
        `${file} ran with --scales auto (scales chosen from its own measured capacity), so its loads are not the other run's; ` +
          `the gate pairs fixed scales: rerun both with e.g. --scales ${[...new Set(r.runs.map((x) => x.scale))].join(",")}`,
      );
  const diffs = diffFingerprints(base.results.meta.fingerprint, cand.results.meta.fingerprint);
  if (diffs.length > 0 && !opts.force) {
    return invalid(
      [`environment fingerprints differ; refusing to compare (use --force to compare anyway):`, ...describeDiffs(diffs).map((d) => `  ${d}`)].join("\n"),
    );
  }
  const compareOpts = {
    tolerances: opts.tolerances ?? {},
    resamples: opts.resamples ?? DEFAULT_COMPARE.resamples,
    confidence: opts.confidence ?? DEFAULT_COMPARE.confidence,
    seed: opts.seed ?? DEFAULT_COMPARE.seed,
  };
  const outcome = compareResults(base.results, cand.results, compareOpts);
  const text = gateMarkdown({
    baselineFile: opts.baseline, candidateFile: opts.candidate, outcome, fingerprintDiffs: diffs, forced: !!opts.force,
    confidence: compareOpts.confidence, resamples: compareOpts.resamples, seed: compareOpts.seed,
  });
  const written: string[] = [];
  if (opts.report) {
    await mkdir(dirname(opts.report), { recursive: true });
    await writeFile(opts.report, text);
    written.push(opts.report);
  }
  if (opts.figureDir) written.push(...(await plotComparison(base, cand, opts.figureDir)));
  return { exitCode: outcome.regressions > 0 ? 1 : 0, text, outcome, written };
}
