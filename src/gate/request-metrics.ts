// Per-request latency metrics recomputed from raw records, with vllm bench serve's conventions:
//   TTFT = first token-bearing chunk - send      E2E = last token-bearing chunk - send
//   TPOT = (E2E - TTFT) / (N - 1), N > 1          ITL = gaps between consecutive token-bearing chunks
// Pure functions so the gate and the figures read the same numbers from the same records.
import type { RequestRecord } from "../results/schema.js";

export type LatencyMetric = "ttft_ms" | "tpot_ms" | "itl_ms" | "e2e_ms";
export const LATENCY_METRICS: readonly LatencyMetric[] = ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"];

/** Latencies of one successful request; null fields when undefined for it (e.g. TPOT of a 1-token answer). */
export interface RequestLatencies {
  ttft_ms: number | null;
  tpot_ms: number | null;
  e2e_ms: number | null;
  itl_ms: number[];
}

function tokenChunks(record: RequestRecord) {
  // Chunks are stored in arrival order, but a sort costs nothing and guards against a writer that isn't.
  return [...record.chunks].filter((c) => c.n > 0).sort((a, b) => a.t_ms - b.t_ms);
}

/** Failed or never-sent requests have no latency: they count as failures, not as fast requests. */
export function isMeasurable(record: RequestRecord): boolean {
  return record.ok && record.sent_ms !== null && record.chunks.length > 0;
}

export function requestLatencies(record: RequestRecord): RequestLatencies {
  const chunks = tokenChunks(record);
  if (!isMeasurable(record) || chunks.length === 0) return { ttft_ms: null, tpot_ms: null, e2e_ms: null, itl_ms: [] };
  const sent = record.sent_ms as number;
  const ttft = chunks[0].t_ms - sent;
  const e2e = chunks[chunks.length - 1].t_ms - sent;
  const tokens = chunks.reduce((sum, c) => sum + c.n, 0);
  const tpot = tokens > 1 ? (e2e - ttft) / (tokens - 1) : null;
  const itl: number[] = [];
  for (let k = 1; k < chunks.length; k++) itl.push(chunks[k].t_ms - chunks[k - 1].t_ms);
  return { ttft_ms: ttft, tpot_ms: tpot, e2e_ms: e2e, itl_ms: itl };
}

/**
 * Samples of one metric, grouped per request: one value for TTFT/TPOT/E2E, all gaps for ITL.
 * Grouping lets the gate resample whole requests (ITL gaps of one request are not independent).
 */
export function metricSamplesByRequest(records: readonly RequestRecord[], metric: LatencyMetric): number[][] {
  const groups: number[][] = [];
  for (const record of records) {
    const lat = requestLatencies(record);
    if (metric === "itl_ms") {
      if (lat.itl_ms.length > 0) groups.push(lat.itl_ms);
    } else {
      const value = lat[metric];
      if (value !== null) groups.push([value]);
    }
  }
  return groups;
}

export function metricSamples(records: readonly RequestRecord[], metric: LatencyMetric): number[] {
  return metricSamplesByRequest(records, metric).flat();
}
