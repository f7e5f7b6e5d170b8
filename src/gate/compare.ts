// The gate's decision: per backend (and scale, online) and metric, a bootstrap CI of the
// candidate/baseline ratio; a regression only when the whole interval lies beyond the tolerance in
// the bad direction. Noise widens the interval and so cannot fail the gate; a real slowdown moves all of it.
import type { AnyResults, OfflineRun, OnlineRun, RequestRecord } from "../results/schema.js";
import { bootstrapRatio, type RatioInterval } from "./bootstrap.js";
import { metricSamplesByRequest } from "../metrics/request-metrics.js";
import { quantile } from "../metrics/quantile.js";
import { seedFromString } from "./rng.js";
import { tolerancesFor, type GateKind, type GateMetric } from "./tolerances.js";

export type Verdict = "pass" | "regression" | "improvement" | "inconclusive" | "no data";

export interface MetricComparison {
  backend: string;
  scale: number | null;
  metric: string;
  better: "lower" | "higher";
  tolerance: number;
  interval: RatioInterval | null;
  verdict: Verdict;
}

/** Whole-run findings: a backend that vanished or broke, new request failures, invalid runs. */
export interface RunCheck {
  backend: string;
  scale: number | null;
  message: string;
  regression: boolean;
}

export interface GateOutcome {
  kind: GateKind;
  comparisons: MetricComparison[];
  checks: RunCheck[];
  regressions: number;
}

export interface CompareOptions {
  tolerances: Record<string, number | null>;
  resamples: number;
  confidence: number;
  seed: number;
}

export const DEFAULT_COMPARE: CompareOptions = { tolerances: {}, resamples: 2000, confidence: 0.95, seed: 1 };

export function decide(interval: RatioInterval | null, tolerance: number, better: "lower" | "higher"): Verdict {
  if (!interval) return "no data";
  const { lo, hi, ratio } = interval;
  if (better === "lower") {
    if (lo > 1 + tolerance) return "regression";
    if (hi < 1 - tolerance) return "improvement";
    return ratio > 1 + tolerance ? "inconclusive" : "pass";
  }
  if (hi < 1 - tolerance) return "regression";
  if (lo > 1 + tolerance) return "improvement";
  return ratio < 1 - tolerance ? "inconclusive" : "pass";
}

/**
 * Offline records hold every repeat back to back (each repeat's request index starts again at 0).
 * Requests of one repeat finish together, so they are one measurement, not many.
 */
export function splitRepeats(records: readonly RequestRecord[]): RequestRecord[][] {
  const repeats: RequestRecord[][] = [];
  for (const r of records) {
    if (repeats.length === 0 || (r.i === 0 && repeats[repeats.length - 1].length > 0)) repeats.push([]);
    repeats[repeats.length - 1].push(r);
  }
  return repeats;
}

/** The groups the bootstrap resamples, and the statistic it takes over them. */
function samplesOf(metric: GateMetric, kind: GateKind, records: readonly RequestRecord[], run: OfflineRun | null): { groups: number[][]; q: number } {
  if (metric.source === "repeats") {
    // Each valid repeat of the offline workload is one throughput sample; the statistic is their median.
    return { groups: (run?.repeats ?? []).filter((r) => r.valid).map((r) => [r[metric.key]]), q: 0.5 };
  }
  if (kind === "online") return { groups: metricSamplesByRequest(records, metric.latency), q: metric.q };
  // Offline latency: the percentile within each repeat is one sample; compare medians over repeats
  // (resampling requests would treat one batch's shared fate as n independent observations).
  const perRepeat = splitRepeats(records)
    .map((rep) => quantile(metricSamplesByRequest(rep, metric.latency).flat(), metric.q))
    .filter((v) => Number.isFinite(v));
  return { groups: perRepeat.map((v) => [v]), q: 0.5 };
}

function compareRun(
  label: string,
  scale: number | null,
  base: { records: RequestRecord[]; offline: OfflineRun | null },
  cand: { records: RequestRecord[]; offline: OfflineRun | null },
  tolerances: Map<GateMetric, number>,
  opts: CompareOptions,
): MetricComparison[] {
  const out: MetricComparison[] = [];
  for (const [metric, tolerance] of tolerances) {
    const key = `${label}|${scale ?? "offline"}|${metric.key}`;
    const kind: GateKind = base.offline ? "offline" : "online";
    const b = samplesOf(metric, kind, base.records, base.offline);
    const c = samplesOf(metric, kind, cand.records, cand.offline);
    const interval = bootstrapRatio(b.groups, c.groups, {
      q: b.q,
      resamples: opts.resamples,
      confidence: opts.confidence,
      seed: seedFromString(key, opts.seed),
    });
    out.push({ backend: label, scale, metric: metric.key, better: metric.better, tolerance, interval, verdict: decide(interval, tolerance, metric.better) });
  }
  return out;
}

const failedCount = (records: readonly RequestRecord[]) => records.filter((r) => !r.ok).length;

/** Checks that do not need statistics: presence, status, failures, validity. */
function runChecks(label: string, scale: number | null, base: OnlineRun | OfflineRun | undefined, cand: OnlineRun | OfflineRun | undefined): RunCheck[] {
  const where = { backend: label, scale };
  if (!base) return [{ ...where, message: "not in the baseline: not compared", regression: false }];
  if (base.status !== "ok") return [{ ...where, message: `baseline ${base.status} (${base.reason ?? "no reason"}): not compared`, regression: false }];
  if (!cand) return [{ ...where, message: "ran in the baseline but is missing from the candidate", regression: true }];
  if (cand.status !== "ok") return [{ ...where, message: `candidate ${cand.status}: ${cand.reason ?? "no reason"}`, regression: true }];
  const checks: RunCheck[] = [];
  const [fb, fc] = [failedCount(base.records), failedCount(cand.records)];
  if (fc > fb) checks.push({ ...where, message: `failed requests: baseline ${fb}, candidate ${fc}`, regression: true });
  const invalid = "summary" in cand ? (cand.summary?.invalid ?? []) : cand.invalid;
  for (const why of invalid) checks.push({ ...where, message: `candidate run flagged invalid: ${why}`, regression: false });
  return checks;
}

export function compareResults(baseline: AnyResults, candidate: AnyResults, opts: CompareOptions = DEFAULT_COMPARE): GateOutcome {
  if (baseline.schema !== candidate.schema) throw new Error(`cannot compare ${baseline.schema} with ${candidate.schema}`);
  const kind: GateKind = baseline.schema.startsWith("attnbench.online/") ? "online" : "offline";
  const tolerances = tolerancesFor(kind, opts.tolerances);
  const comparisons: MetricComparison[] = [];
  const checks: RunCheck[] = [];

  type AnyRun = OnlineRun | OfflineRun;
  const keyOf = (r: AnyRun) => `${r.backend.label}|${"scale" in r ? r.scale : ""}`;
  const baseRuns = new Map<string, AnyRun>((baseline.runs as AnyRun[]).map((r) => [keyOf(r), r]));
  const candRuns = new Map<string, AnyRun>((candidate.runs as AnyRun[]).map((r) => [keyOf(r), r]));
  for (const key of new Set([...baseRuns.keys(), ...candRuns.keys()])) {
    const b = baseRuns.get(key);
    const c = candRuns.get(key);
    const any = (b ?? c)!;
    const label = any.backend.label;
    const scale = "scale" in any ? any.scale : null;
    const found = runChecks(label, scale, b, c);
    checks.push(...found);
    if (!b || !c || b.status !== "ok" || c.status !== "ok") continue;
    const offline = (r: AnyRun) => (kind === "offline" ? (r as OfflineRun) : null);
    const found2 = compareRun(label, scale, { records: b.records, offline: offline(b) }, { records: c.records, offline: offline(c) }, tolerances, opts);
    comparisons.push(...found2);
    // With fewer than 3 samples a side, the interval cannot show spread: the verdict is a threshold test.
    const few = found2.find((x) => x.interval && Math.min(x.interval.n_baseline, x.interval.n_candidate) < 3);
    if (few) checks.push({ backend: label, scale, message: `only ${Math.min(few.interval!.n_baseline, few.interval!.n_candidate)} sample(s) for ${few.metric}: no spread measured, use >= 3 repeats`, regression: false });
  }
  const regressions = comparisons.filter((c) => c.verdict === "regression").length + checks.filter((c) => c.regression).length;
  return { kind, comparisons, checks, regressions };
}
