// plotResults: every figure and markdown summary for a set of results files. The plot command and
// the bench commands (at the end of a run) both call this.
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { OfflineResults, OnlineResults } from "../results/schema.js";
import { LATENCY_METRICS } from "../metrics/request-metrics.js";
import { isOnline, loadResults, ResultsFileError, type LoadedResults } from "../results/load-results.js";
import { onlineSummaryMarkdown } from "../report/online-summary.js";
import { offlineSummaryMarkdown } from "../report/offline-summary.js";
import { comparisonMarkdown } from "../report/comparison.js";
import { distinctNames } from "../report/describe.js";
import { backendOrder, latencyRows, missingBackends } from "../metrics/online-data.js";
import { onlineGridSpec, onlineMetricSpec, type OnlineFigureInput } from "./online-spec.js";
import { offlineThroughputSpec, throughputRows } from "./offline-spec.js";
import { renderFigure } from "./render.js";

export interface PlotOptions {
  inputs: string[];
  outDir: string;
  logScale?: boolean;
  baseline?: string;
  candidate?: string;
}

/** outputs/figures/<ts>: a UTC timestamp that sorts and is safe in a path. */
export function defaultFiguresDir(now = new Date()): string {
  return join("outputs", "figures", now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z"));
}

async function writeText(path: string, text: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
}

export async function plotOnline(loaded: LoadedResults & { results: OnlineResults }, dir: string, logScale = false): Promise<string[]> {
  const r = loaded.results;
  const input: OnlineFigureInput = { rows: latencyRows(r), missing: missingBackends(r), backends: backendOrder([r]), results: r, logScale };
  const written = await renderFigure(onlineGridSpec(input), dir, "online_latency");
  for (const m of LATENCY_METRICS) written.push(...(await renderFigure(onlineMetricSpec(input, m), dir, `online_${m.replace(/_ms$/, "")}`)));
  written.push(await writeText(join(dir, "online_summary.md"), onlineSummaryMarkdown(r, loaded.file)));
  return written;
}

export async function plotOffline(loaded: LoadedResults & { results: OfflineResults }, dir: string): Promise<string[]> {
  const r = loaded.results;
  const written = await renderFigure(offlineThroughputSpec({ rows: throughputRows(r), backends: backendOrder([r]), results: r }), dir, "offline_throughput");
  written.push(await writeText(join(dir, "offline_summary.md"), offlineSummaryMarkdown(r, loaded.file)));
  return written;
}

/** Baseline and candidate in one figure (same colour per backend, dashed or faded baseline) + comparison.md. */
export async function plotComparison(base: LoadedResults, cand: LoadedResults, dir: string, logScale = false): Promise<string[]> {
  if (base.results.schema !== cand.results.schema) {
    throw new ResultsFileError(cand.file, `is ${cand.results.schema} but the baseline ${base.file} is ${base.results.schema}`);
  }
  const [baseline, candidate] = distinctNames(base.file, cand.file);
  const comparison = { baseline, candidate };
  const written: string[] = [];
  if (isOnline(base.results) && isOnline(cand.results)) {
    const input: OnlineFigureInput = {
      rows: [...latencyRows(base.results, "baseline"), ...latencyRows(cand.results, "candidate")],
      missing: [...missingBackends(base.results, "baseline"), ...missingBackends(cand.results, "candidate")],
      backends: backendOrder([base.results, cand.results]),
      results: cand.results,
      logScale,
      comparison,
    };
    written.push(...(await renderFigure(onlineGridSpec(input), dir, "comparison_online_latency")));
  } else {
    const b = base.results as OfflineResults;
    const c = cand.results as OfflineResults;
    const rows = [...throughputRows(b, "baseline"), ...throughputRows(c, "candidate")];
    written.push(...(await renderFigure(offlineThroughputSpec({ rows, backends: backendOrder([b, c]), results: c, comparison }), dir, "comparison_offline_throughput")));
  }
  written.push(await writeText(join(dir, "comparison.md"), comparisonMarkdown(base, cand)));
  return written;
}

/** Several files of one kind each get a subfolder named for the run folder that holds them. */
function subdirs(files: LoadedResults[]): Map<LoadedResults, string> {
  const out = new Map<LoadedResults, string>();
  const used = new Set<string>();
  for (const kind of ["online", "offline"]) {
    const group = files.filter((f) => (isOnline(f.results) ? "online" : "offline") === kind);
    for (const f of group) {
      if (group.length === 1) { out.set(f, ""); continue; }
      let name = basename(dirname(f.file)) || basename(f.file, ".json");
      if (name === "." || used.has(name)) name = `${name}_${used.size + 1}`;
      used.add(name);
      out.set(f, name);
    }
  }
  return out;
}

export async function plotResults(opts: PlotOptions): Promise<string[]> {
  const loaded = await Promise.all(opts.inputs.map(loadResults));
  const written: string[] = [];
  const where = subdirs(loaded);
  for (const f of loaded) {
    const dir = join(opts.outDir, where.get(f) ?? "");
    if (isOnline(f.results)) written.push(...(await plotOnline(f as LoadedResults & { results: OnlineResults }, dir, opts.logScale)));
    else written.push(...(await plotOffline(f as LoadedResults & { results: OfflineResults }, dir)));
  }
  if (opts.baseline || opts.candidate) {
    if (!opts.baseline || !opts.candidate) throw new ResultsFileError(opts.baseline ?? opts.candidate ?? "", "a comparison needs both --baseline and --candidate");
    const [base, cand] = await Promise.all([loadResults(opts.baseline), loadResults(opts.candidate)]);
    written.push(...(await plotComparison(base, cand, opts.outDir, opts.logScale)));
  }
  return written;
}

export { ResultsFileError } from "../results/load-results.js";
