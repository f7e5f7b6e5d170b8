// The gate's metrics, their directions and default tolerances, and the --max-regression parser.
import type { LatencyMetric } from "../metrics/request-metrics.js";

export type GateKind = "online" | "offline";

export type GateMetric =
  | { key: string; source: "latency"; latency: LatencyMetric; q: number; better: "lower" }
  | { key: ThroughputKey; source: "repeats"; q: 0.5; better: "higher" };

export type ThroughputKey = "req_s" | "output_tok_s" | "total_tok_s";

const LATENCY_KEYS: [string, LatencyMetric][] = [["ttft", "ttft_ms"], ["tpot", "tpot_ms"], ["itl", "itl_ms"], ["e2e", "e2e_ms"]];
const PCTS: [string, number][] = [["p50", 0.5], ["p90", 0.9], ["p99", 0.99]];

/** Every metric the gate knows: latency percentiles (lower is better) and throughputs (higher is better). */
export const GATE_METRICS: GateMetric[] = [
  ...LATENCY_KEYS.flatMap(([name, latency]) =>
    PCTS.map(([p, q]) => ({ key: `${name}_${p}`, source: "latency" as const, latency, q, better: "lower" as const })),
  ),
  ...(["req_s", "output_tok_s", "total_tok_s"] as const).map((key) => ({ key, source: "repeats" as const, q: 0.5 as const, better: "higher" as const })),
];

export const GATE_METRIC_KEYS = GATE_METRICS.map((m) => m.key);

/**
 * Defaults: the percentiles users feel (p50, p90) at 10%, throughput at 5%. p99 of a few hundred
 * requests rests on a handful of samples, so it is opt-in. Online throughput is one number per run
 * (no samples to test), so the online gate is latency only.
 */
export const DEFAULT_TOLERANCES: Record<GateKind, Record<string, number>> = {
  online: { ttft_p50: 0.1, ttft_p90: 0.1, tpot_p50: 0.1, tpot_p90: 0.1, itl_p90: 0.1, e2e_p90: 0.1 },
  offline: { req_s: 0.05, output_tok_s: 0.05, e2e_p90: 0.1 },
};

/** Which metrics have samples in which kind of file. */
export function appliesTo(metric: GateMetric, kind: GateKind): boolean {
  return metric.source === "latency" || kind === "offline";
}

/**
 * "ttft_p90=10%,output_tok_s=0.05" -> { ttft_p90: 0.1, output_tok_s: 0.05 }. A percentage or a
 * fraction; "off" removes a default. Throws Error with a message naming the bad part.
 */
export function parseMaxRegression(text: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [key, raw] = part.split("=").map((s) => s?.trim());
    if (!GATE_METRIC_KEYS.includes(key)) throw new Error(`unknown metric ${JSON.stringify(key)} (known: ${GATE_METRIC_KEYS.join(", ")})`);
    if (raw === undefined || raw === "") throw new Error(`${key} needs a tolerance, e.g. ${key}=10%`);
    if (raw === "off") { out[key] = null; continue; }
    const pct = raw.endsWith("%");
    const value = Number(pct ? raw.slice(0, -1) : raw) / (pct ? 100 : 1);
    if (!Number.isFinite(value) || value < 0 || value >= 10) throw new Error(`${key}: tolerance ${JSON.stringify(raw)} is not a percentage like 10% or a fraction like 0.1`);
    out[key] = value;
  }
  return out;
}

/** Defaults for the kind, overridden and extended by the user's map (null = not gated). */
export function tolerancesFor(kind: GateKind, overrides: Record<string, number | null>): Map<GateMetric, number> {
  const merged: Record<string, number | null> = { ...DEFAULT_TOLERANCES[kind], ...overrides };
  const out = new Map<GateMetric, number>();
  for (const metric of GATE_METRICS) {
    const tol = merged[metric.key];
    if (tol !== undefined && tol !== null && appliesTo(metric, kind)) out.set(metric, tol);
  }
  return out;
}
