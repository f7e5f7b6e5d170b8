// One online run as `vllm bench serve --save-result` writes it, so dashboards and scripts built for
// vLLM's result files read ours. Key names and definitions follow vllm/benchmarks/serve.py
// (calculate_metrics and benchmark(); read for this, not copied), run with
// `--percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99`. Where our raw records
// force a different definition, docs/harness.md ("Results other tools read") says so.
import type { RequestRecord } from "../results/schema.js";
import { requestLatency } from "../metrics/request.js";
import { meetsSlo, type Slo } from "../metrics/goodput.js";
import { percentileSorted } from "../metrics/percentiles.js";

export const VLLM_PERCENTILES = [50, 90, 99] as const;
const METRICS = ["ttft", "tpot", "itl", "e2el"] as const;

export interface VllmRunContext {
  /** When the run started (vLLM's "date" is the local time the file was written, %Y%m%d-%H%M%S). */
  date: Date;
  endpointType: "openai" | "openai-chat";
  label: string;
  modelId: string;
  tokenizerId: string | null;
  /** A trace has no configured rate: the scaled trace's offered rate, or "inf". */
  requestRate: number | "inf";
  burstiness: number | null;
  slo: Slo | null;
  /** Our own identifiers, under names vLLM does not use. */
  extra: Record<string, unknown>;
}

/** numpy's mean, median, std (ddof 0) and linear percentiles, in ms; null for an empty sample
 *  (vLLM writes 0.0 there, which reads like a fast run). */
function describe(values_ms: number[], prefix: string, out: Record<string, unknown>): void {
  const keys = [`mean_${prefix}_ms`, `median_${prefix}_ms`, `std_${prefix}_ms`, ...VLLM_PERCENTILES.map((p) => `p${p}_${prefix}_ms`)];
  if (values_ms.length === 0) {
    for (const k of keys) out[k] = null;
    return;
  }
  const sorted = [...values_ms].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const variance = sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / sorted.length;
  out[`mean_${prefix}_ms`] = mean;
  out[`median_${prefix}_ms`] = percentileSorted(sorted, 50);
  out[`std_${prefix}_ms`] = Math.sqrt(variance);
  for (const p of VLLM_PERCENTILES) out[`p${p}_${prefix}_ms`] = percentileSorted(sorted, p);
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

export function vllmDate(d: Date): string {
  return `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}-${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`;
}

/**
 * Peak chunks per 1 s bucket and peak concurrency over successful requests, as vLLM computes
 * max_output_tokens_per_s (it counts streamed chunks, one per token on our server) and
 * max_concurrent_requests (sweep over [start, end), departures before arrivals at equal times).
 */
function peaks(ok: { sent_ms: number; end_ms: number; chunk_ms: number[] }[]): { maxTokS: number; maxConc: number } {
  if (ok.length === 0) return { maxTokS: 0, maxConc: 0 };
  const start = Math.min(...ok.map((r) => r.sent_ms));
  const end = Math.max(...ok.map((r) => r.end_ms));
  const buckets = new Array<number>(Math.ceil((end - start) / 1000) + 1).fill(0);
  for (const r of ok)
    for (const t of r.chunk_ms) {
      const b = Math.trunc((t - start) / 1000);
      if (b >= 0 && b < buckets.length) buckets[b]++;
    }
  const events = ok.flatMap((r) => [[r.sent_ms, 1], [r.end_ms, -1]] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let maxConc = 0;
  for (const [, d] of events) maxConc = Math.max(maxConc, (cur += d));
  return { maxTokS: Math.max(...buckets), maxConc };
}

/** The vLLM result object for one run's raw records (times in the records are ms since the run's t0). */
export function vllmServeResult(records: readonly RequestRecord[], ctx: VllmRunContext): Record<string, unknown> {
  const samples: Record<(typeof METRICS)[number], number[]> = { ttft: [], tpot: [], itl: [], e2el: [] };
  const ok: { sent_ms: number; end_ms: number; chunk_ms: number[] }[] = [];
  let totalIn = 0;
  let totalOut = 0;
  for (const rec of records) {
    const lat = requestLatency(rec, "chunk");
    if (!lat) continue;
    totalIn += rec.prompt_tokens;
    totalOut += rec.output_tokens;
    samples.ttft.push(lat.ttft_ms);
    samples.e2el.push(lat.e2e_ms);
    if (lat.tpot_ms !== null) samples.tpot.push(lat.tpot_ms);
    samples.itl.push(...lat.itl_ms);
    ok.push({ sent_ms: rec.sent_ms!, end_ms: rec.sent_ms! + lat.e2e_ms, chunk_ms: rec.chunks.map((c) => c.t_ms) });
  }
  // vLLM's duration: from just before the first dispatch (our t0, the first scheduled send) to the
  // moment every request, failed ones included, has ended.
  const ends = records.flatMap((r) => (r.end_ms === null ? [] : [r.end_ms]));
  const duration = ends.length ? Math.max(0, ...ends) / 1000 : 0;
  const per_s = (x: number) => (duration > 0 ? x / duration : null);
  const completed = ok.length;
  const { maxTokS, maxConc } = peaks(ok);
  const good = ctx.slo ? records.filter((r) => meetsSlo(r, ctx.slo!)).length : 0;
  const out: Record<string, unknown> = {
    date: vllmDate(ctx.date),
    endpoint_type: ctx.endpointType,
    backend: ctx.endpointType,
    label: ctx.label,
    model_id: ctx.modelId,
    tokenizer_id: ctx.tokenizerId,
    num_prompts: records.length,
    request_rate: ctx.requestRate,
    burstiness: ctx.burstiness,
    max_concurrency: null,
    duration,
    completed,
    failed: records.length - completed,
    total_input_tokens: totalIn,
    total_output_tokens: totalOut,
    request_throughput: per_s(completed),
    request_goodput: ctx.slo ? per_s(good) : null,
    output_throughput: per_s(totalOut),
    total_token_throughput: per_s(totalIn + totalOut),
    max_output_tokens_per_s: maxTokS,
    max_concurrent_requests: maxConc,
    rtfx: 0,
  };
  for (const m of METRICS) describe(samples[m], m, out);
  return { ...out, ...ctx.extra };
}
