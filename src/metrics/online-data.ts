// Online results -> one flat row per (run, backend, scale, metric) with p50/p90/p99: the figure's data.
// Uses the harness's summary when present and recomputes from raw records otherwise, so a file
// written without summaries still plots.
import type { OnlineResults, OnlineRun } from "../results/schema.js";
import { percentiles } from "./quantile.js";
import { LATENCY_METRICS, metricSamples, type LatencyMetric } from "./request-metrics.js";

export type RunRole = "single" | "baseline" | "candidate";

export interface LatencyRow {
  run: RunRole;
  backend: string;
  scale: number;
  /** Offered load of the run (req/s): the trace's mean rate / scale. */
  offered_req_s: number;
  metric: LatencyMetric;
  p50: number;
  p90: number;
  p99: number;
}

export interface MissingBackend {
  run: RunRole;
  backend: string;
  status: "unavailable" | "failed";
  reason: string;
}

export const METRIC_TITLES: Record<LatencyMetric, { short: string; long: string }> = {
  ttft_ms: { short: "TTFT", long: "Time to first token" },
  tpot_ms: { short: "TPOT", long: "Time per output token" },
  itl_ms: { short: "ITL", long: "Inter-token latency" },
  e2e_ms: { short: "E2E", long: "End-to-end latency" },
};

/** A run's offered load in req/s: recorded by newer files, else the trace rate / scale, else the schedule's. */
export function offeredOf(results: OnlineResults, run: OnlineRun): number {
  if (run.offered_req_s !== undefined) return run.offered_req_s;
  if (results.trace.rate_req_s) return results.trace.rate_req_s / run.scale;
  return run.summary?.offered_rate ?? 0;
}

function runStats(run: OnlineRun, metric: LatencyMetric) {
  if (run.summary) return run.summary[metric];
  return percentiles(metricSamples(run.records, metric));
}

export function latencyRows(results: OnlineResults, role: RunRole = "single"): LatencyRow[] {
  const rows: LatencyRow[] = [];
  for (const run of results.runs) {
    if (run.status !== "ok") continue;
    for (const metric of LATENCY_METRICS) {
      const s = runStats(run, metric);
      if (s.n === 0 || !Number.isFinite(s.p90)) continue;
      rows.push({ run: role, backend: run.backend.label, scale: run.scale, offered_req_s: offeredOf(results, run), metric, p50: s.p50, p90: s.p90, p99: s.p99 });
    }
  }
  return rows;
}

/** A backend with no successful run at any scale is reported once, with its first reason (a failed
 *  capacity run of --scales auto included: such a backend has no scale runs at all). */
export function missingBackends(results: OnlineResults, role: RunRole = "single"): MissingBackend[] {
  const okLabels = new Set(results.runs.filter((r) => r.status === "ok").map((r) => r.backend.label));
  const seen = new Map<string, MissingBackend>();
  for (const c of results.capacity ?? []) {
    if (c.status === "ok" || okLabels.has(c.backend.label) || seen.has(c.backend.label)) continue;
    seen.set(c.backend.label, { run: role, backend: c.backend.label, status: c.status, reason: `capacity run: ${c.reason ?? "no reason given"}` });
  }
  for (const run of results.runs) {
    if (run.status === "ok" || okLabels.has(run.backend.label) || seen.has(run.backend.label)) continue;
    seen.set(run.backend.label, { run: role, backend: run.backend.label, status: run.status, reason: run.reason ?? "no reason given" });
  }
  return [...seen.values()];
}

/** Backend labels in first-appearance order across files: the colour assignment. */
export function backendOrder(files: readonly { runs: readonly { backend: { label: string } }[]; capacity?: readonly { backend: { label: string } }[] }[]): string[] {
  const labels: string[] = [];
  for (const f of files) for (const r of [...(f.capacity ?? []), ...f.runs]) if (!labels.includes(r.backend.label)) labels.push(r.backend.label);
  return labels;
}
