// Capacity-aware sweeps (--scales auto[:N]): a backend's capacity is what it sustains on the trace's
// own request mix when saturated (every request sent at once, or under --max-concurrency), and the N
// scales chosen from it offer about 10 % to 110 % of it, evenly spaced in load, so the sweep shows
// the idle engine, the knee and the overload past it whatever the engine's speed.
import type { RequestRecord } from "../results/schema.js";

export const AUTO_MIN_FRACTION = 0.1;
export const AUTO_MAX_FRACTION = 1.1;

/** N load fractions from 10 % to 110 % of capacity, evenly spaced. */
export function loadFractions(points: number): number[] {
  return Array.from({ length: points }, (_, k) => AUTO_MIN_FRACTION + ((AUTO_MAX_FRACTION - AUTO_MIN_FRACTION) * k) / (points - 1));
}

/**
 * Scales whose offered load (trace rate / scale) is each fraction of the capacity, rounded to 4
 * significant digits (the offered rate is recomputed from the rounded scale), lightest load first.
 */
export function scalesForCapacity(traceRate: number, capacity: number, points: number): { fractions: number[]; scales: number[]; offered_req_s: number[] } {
  if (!(traceRate > 0) || !(capacity > 0)) throw new Error(`cannot choose scales: trace rate ${traceRate} req/s, capacity ${capacity} req/s`);
  const fractions = loadFractions(points);
  const scales = fractions.map((f) => Number((traceRate / (f * capacity)).toPrecision(4)));
  return { fractions, scales, offered_req_s: scales.map((s) => traceRate / s) };
}

/** Mean arrival rate of a schedule at scale 1: (n - 1) / span, in req/s (0 when it has no span). */
export function traceRate(times_s: readonly number[]): number {
  if (times_s.length < 2) return 0;
  const span = times_s[times_s.length - 1] - times_s[0];
  return span > 0 ? (times_s.length - 1) / span : 0;
}

export interface CapacityEstimate {
  req_s: number | null;
  output_tok_s: number | null;
  completed: number;
  duration_s: number;
}

/**
 * Sustained throughput of a saturating run: the first 90 % of the completions over the time from
 * the first send to the last of them. The last 10 % are left out because the batch shrinks as the
 * run drains; the ramp-up (nothing finishes before the first batch has prefilled and decoded) stays
 * in, so with few requests (all in one batch) this is the batch's throughput, and with many it
 * approaches the steady rate from below. Percentile windows between completions are not used:
 * requests of one batch finish together, and a window inside such a cluster has no meaning.
 */
export function capacityFromRecords(records: readonly RequestRecord[]): CapacityEstimate {
  const ok = records.filter((r) => r.ok && r.end_ms !== null).sort((a, b) => a.end_ms! - b.end_ms!);
  const sends = records.flatMap((r) => (r.sent_ms === null ? [] : [r.sent_ms]));
  const n = ok.length;
  const first = sends.length ? Math.min(...sends) : 0;
  const duration_s = n ? (ok[n - 1].end_ms! - first) / 1000 : 0;
  if (n === 0) return { req_s: null, output_tok_s: null, completed: 0, duration_s };
  const count = Math.max(1, Math.ceil(0.9 * n));
  const span = (ok[count - 1].end_ms! - first) / 1000;
  const tokens = ok.slice(0, count).reduce((a, r) => a + r.output_tokens, 0);
  return { req_s: span > 0 ? count / span : null, output_tok_s: span > 0 ? tokens / span : null, completed: n, duration_s };
}
