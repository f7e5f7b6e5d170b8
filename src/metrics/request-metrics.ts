// Per-metric samples recomputed from raw records, with vllm bench serve's conventions:
//   TTFT = first token-bearing chunk - send      E2E = last token-bearing chunk - send
//   TPOT = (E2E - TTFT) / (N - 1), N > 1          ITL = gaps between consecutive token-bearing chunks
// The per-request math is the harness's (src/metrics/request.ts); this file only groups it the way
// the gate resamples (per request) and the figures summarise (pooled).
import type { RequestRecord } from "../results/schema.js";
import { requestLatency, type ItlMode, type RequestLatency } from "./request.js";

export type LatencyMetric = "ttft_ms" | "tpot_ms" | "itl_ms" | "e2e_ms";
export const LATENCY_METRICS: readonly LatencyMetric[] = ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"];

/** Latencies of one request: the harness's own definition (src/metrics/request.ts), so gate, figures
 *  and the bench's printed summary agree to the last digit. Null for a failed request. */
export function requestLatencies(record: RequestRecord, itlMode: ItlMode = "chunk"): RequestLatency | null {
  return requestLatency(record, itlMode);
}

/**
 * Samples of one metric, grouped per request: one value for TTFT/TPOT/E2E, all gaps for ITL.
 * Grouping lets the gate resample whole requests (ITL gaps of one request are not independent).
 */
export function metricSamplesByRequest(records: readonly RequestRecord[], metric: LatencyMetric): number[][] {
  const groups: number[][] = [];
  for (const record of records) {
    const lat = requestLatencies(record);
    if (lat === null) continue;
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
