// Summary of one online run (one backend at one scale) from its raw records.
import type { OnlineSummary, RequestRecord, Stats } from "../results/schema.js";
import { failureReason, requestLatency, type ItlMode } from "./request.js";
import { summarize } from "./percentiles.js";
import { goodput, type Slo } from "./goodput.js";

export interface OnlineSummaryOptions {
  itlMode?: ItlMode;
  slo?: Slo | null;
  /** Lateness p99 above this marks the run invalid (the load generator could not keep up). */
  maxLatenessMs?: number;
  /** Lateness p99 the load generator aims for; above it the summary says the schedule was not held. */
  latenessTargetMs?: number;
  /** Load-generator facts recorded with the verdict. */
  workers?: number;
  maxConcurrency?: number | null;
  /** The engine's prefix-cache counters over the run (our serve), when known. */
  engineCache?: { hit_tokens: number; miss_tokens: number; evicted_blocks: number } | null;
}

/** Dispatch lateness of a sent request: actual send - scheduled send, minus any wait for a --max-concurrency slot. */
export function latenessOf(r: RequestRecord): number | null {
  return r.sent_ms === null ? null : r.sent_ms - (r.queue_ms ?? 0) - r.scheduled_ms;
}

/**
 * Did the load generator hold its schedule? Held when the lateness p99 is within the target (or
 * nothing was sent). One rule for bench online's summaries and bench loadgen's rows.
 */
export function scheduleHeld(lateness: Stats, targetMs: number): boolean {
  return lateness.n === 0 || lateness.p99 <= targetMs;
}

/** The prefix-cache view of a run: hit rate from each completed request's cached_tokens. */
export function prefixCacheSummary(records: readonly RequestRecord[], engine: OnlineSummaryOptions["engineCache"]) {
  let cached = 0;
  let prompt = 0;
  let told = 0;
  for (const r of records) {
    if (!r.ok || r.cached_tokens === null || r.cached_tokens === undefined) continue;
    told++;
    cached += r.cached_tokens;
    prompt += r.prompt_tokens;
  }
  if (told === 0 && !engine) return undefined;
  return {
    hit_rate: prompt > 0 ? cached / prompt : null,
    cached_tokens: cached,
    prompt_tokens: prompt,
    engine: engine
      ? { ...engine, hit_rate: engine.hit_tokens + engine.miss_tokens > 0 ? engine.hit_tokens / (engine.hit_tokens + engine.miss_tokens) : null }
      : null,
  };
}

/** Rate of events at the given times (ms): (n - 1) intervals over the span, in 1/s; 0 if no span. */
export function rateOf(times_ms: readonly number[]): number {
  if (times_ms.length < 2) return 0;
  const span = Math.max(...times_ms) - Math.min(...times_ms);
  return span > 0 ? ((times_ms.length - 1) * 1000) / span : 0;
}

export function summarizeOnline(records: readonly RequestRecord[], opts: OnlineSummaryOptions = {}): OnlineSummary {
  const itlMode = opts.itlMode ?? "chunk";
  const maxLatenessMs = opts.maxLatenessMs ?? 50;
  const ttft: number[] = [];
  const tpot: number[] = [];
  const itl: number[] = [];
  const e2e: number[] = [];
  const failures: Record<string, number> = {};
  let completed = 0;
  let outTokens = 0;
  let inTokens = 0;
  for (const rec of records) {
    const lat = requestLatency(rec, itlMode);
    if (!lat) {
      const why = failureReason(rec);
      failures[why] = (failures[why] ?? 0) + 1;
      continue;
    }
    completed++;
    outTokens += rec.output_tokens;
    inTokens += rec.prompt_tokens;
    ttft.push(lat.ttft_ms);
    e2e.push(lat.e2e_ms);
    if (lat.tpot_ms !== null) tpot.push(lat.tpot_ms);
    itl.push(...lat.itl_ms);
  }
  // Throughput window: first send to last completion (vLLM's benchmark duration).
  const sends = records.flatMap((r) => (r.sent_ms === null ? [] : [r.sent_ms]));
  const sentQueue = records.flatMap((r) => (r.sent_ms === null ? [] : [r.queue_ms ?? 0]));
  const prefix = prefixCacheSummary(records, opts.engineCache ?? null);
  const ends = records.flatMap((r) => (r.end_ms === null ? [] : [r.end_ms]));
  const duration_s = sends.length && ends.length ? Math.max(0, Math.max(...ends) - Math.min(...sends)) / 1000 : 0;
  const per_s = (x: number) => (duration_s > 0 ? x / duration_s : 0);
  const lateness = records.flatMap((r) => {
    const l = latenessOf(r);
    return l === null ? [] : [l];
  });
  const latenessStats = summarize(lateness);
  const queueStats = summarize(records.flatMap((r) => (r.sent_ms === null ? [] : [r.queue_ms ?? 0])));
  const target = opts.latenessTargetMs ?? 1;
  const invalid: string[] = [];
  if (latenessStats.n > 0 && latenessStats.p99 > maxLatenessMs)
    invalid.push(`dispatch lateness p99 ${latenessStats.p99.toFixed(1)} ms > ${maxLatenessMs} ms`);
  const unsent = records.length - sends.length;
  if (unsent > 0) invalid.push(`${unsent} of ${records.length} requests were never sent`);
  return {
    n: records.length,
    completed,
    failed: records.length - completed,
    failures,
    duration_s,
    request_throughput: per_s(completed),
    output_throughput: per_s(outTokens),
    total_token_throughput: per_s(inTokens + outTokens),
    ttft_ms: summarize(ttft),
    tpot_ms: summarize(tpot),
    itl_ms: summarize(itl),
    e2e_ms: summarize(e2e),
    goodput: opts.slo ? goodput(records, opts.slo, duration_s) : null,
    lateness_ms: latenessStats,
    queue_ms: queueStats,
    load_generator: {
      lateness_target_ms: target,
      schedule_held: scheduleHeld(latenessStats, target),
      workers: opts.workers ?? 0,
      max_concurrency: opts.maxConcurrency ?? null,
    },
    ...(prefix ? { prefix_cache: prefix } : {}),
    offered_rate: rateOf(records.map((r) => r.scheduled_ms)),
    achieved_rate: rateOf(sends.map((s, k) => s - (sentQueue[k] ?? 0))),
    invalid,
  };
}
