// comparison.md: candidate / baseline ratios of the point estimates, per metric and backend (and
// scale for online). This is the descriptive view; `attnbench gate` adds confidence intervals and verdicts.
import type { AnyResults, OfflineResults, OnlineResults } from "../results/schema.js";
import { LATENCY_METRICS } from "../metrics/request-metrics.js";
import { latencyRows, METRIC_TITLES } from "../metrics/online-data.js";
import { isOnline } from "../results/load-results.js";
import { distinctNames, fmtRatio } from "./describe.js";
import { mdTable } from "./markdown.js";

const ratio = (cand: number | null | undefined, base: number | null | undefined) =>
  cand == null || base == null || base === 0 ? null : cand / base;

function onlineRatios(base: OnlineResults, cand: OnlineResults): string {
  const b = latencyRows(base);
  const c = latencyRows(cand);
  const headers = ["scale", "backend"];
  for (const m of LATENCY_METRICS) headers.push(`${METRIC_TITLES[m].short} p50`, `${METRIC_TITLES[m].short} p90`);
  headers.push("req/s");
  const rows: string[][] = [];
  const notCompared: string[] = [];
  for (const run of cand.runs) {
    const other = base.runs.find((r) => r.backend.label === run.backend.label && r.scale === run.scale);
    const where = `${run.backend.label} at scale ${run.scale}`;
    if (!other) { notCompared.push(`- ${where}: not in the baseline`); continue; }
    if (run.status !== "ok" || other.status !== "ok") {
      notCompared.push(`- ${where}: baseline ${other.status}, candidate ${run.status}${run.reason ? ` (${run.reason})` : ""}`);
      continue;
    }
    const cells = [String(run.scale), run.backend.label];
    for (const m of LATENCY_METRICS) {
      const pick = (rows: typeof b) => rows.find((r) => r.backend === run.backend.label && r.scale === run.scale && r.metric === m);
      cells.push(fmtRatio(ratio(pick(c)?.p50, pick(b)?.p50)), fmtRatio(ratio(pick(c)?.p90, pick(b)?.p90)));
    }
    cells.push(fmtRatio(ratio(run.summary?.request_throughput, other.summary?.request_throughput)));
    rows.push(cells);
  }
  rows.sort((x, y) => Number(x[0]) - Number(y[0]));
  for (const run of base.runs) {
    if (!cand.runs.some((r) => r.backend.label === run.backend.label && r.scale === run.scale)) {
      notCompared.push(`- ${run.backend.label} at scale ${run.scale}: not in the candidate`);
    }
  }
  return [
    `Latency ratios below 1 mean the candidate is faster; the req/s ratio above 1 means more throughput.`,
    ``,
    mdTable(headers, rows),
    ``,
    ...(notCompared.length ? [`Not compared:`, ``, ...notCompared, ``] : []),
  ].join("\n");
}

function offlineRatios(base: OfflineResults, cand: OfflineResults): string {
  const rows: string[][] = [];
  const notCompared: string[] = [];
  for (const run of cand.runs) {
    const other = base.runs.find((r) => r.backend.label === run.backend.label);
    if (!other) { notCompared.push(`- ${run.backend.label}: not in the baseline`); continue; }
    if (run.status !== "ok" || other.status !== "ok") {
      notCompared.push(`- ${run.backend.label}: baseline ${other.status}, candidate ${run.status}${run.reason ? ` (${run.reason})` : ""}`);
      continue;
    }
    rows.push([
      run.backend.label,
      fmtRatio(ratio(run.req_s, other.req_s)),
      fmtRatio(ratio(run.output_tok_s, other.output_tok_s)),
      fmtRatio(ratio(run.total_tok_s, other.total_tok_s)),
      fmtRatio(ratio(run.total_latency_s, other.total_latency_s)),
    ]);
  }
  for (const run of base.runs) if (!cand.runs.some((r) => r.backend.label === run.backend.label)) notCompared.push(`- ${run.backend.label}: not in the candidate`);
  return [
    `Throughput ratios above 1 mean the candidate is faster; a latency ratio below 1 means the same.`,
    ``,
    mdTable(["backend", "req/s", "output tok/s", "total tok/s", "total latency"], rows),
    ``,
    ...(notCompared.length ? [`Not compared:`, ``, ...notCompared, ``] : []),
  ].join("\n");
}

export function comparisonMarkdown(base: { file: string; results: AnyResults }, cand: { file: string; results: AnyResults }): string {
  const [baseName, candName] = distinctNames(base.file, cand.file);
  const head = [
    `# Comparison: candidate / baseline`,
    ``,
    `- baseline: \`${baseName}\` (git ${base.results.meta.git_sha ?? "unknown"}, ${base.results.meta.started_at})`,
    `- candidate: \`${candName}\` (git ${cand.results.meta.git_sha ?? "unknown"}, ${cand.results.meta.started_at})`,
    ``,
    `Point estimates only; run \`attnbench gate\` for confidence intervals and a pass/fail verdict.`,
    ``,
  ];
  const body =
    isOnline(base.results) && isOnline(cand.results)
      ? onlineRatios(base.results, cand.results)
      : !isOnline(base.results) && !isOnline(cand.results)
        ? offlineRatios(base.results as OfflineResults, cand.results as OfflineResults)
        : `Cannot compare an ${base.results.schema} file with an ${cand.results.schema} file.\n`;
  return head.join("\n") + body;
}
