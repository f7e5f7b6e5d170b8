// Per-request latency, defined as vLLM's `bench serve` does, from the raw record only.
import type { RequestRecord } from "../results/schema.js";

/** chunk: one ITL sample per gap between token-bearing chunks (vLLM's default).
 *  token: each gap is spread evenly over the tokens of the chunk that ended it, so a request
 *  yields exactly N-1 samples summing to E2E - TTFT (extra tokens of the first chunk count as 0). */
export type ItlMode = "chunk" | "token";

export interface RequestLatency {
  ttft_ms: number;
  e2e_ms: number;
  /** null for requests with fewer than 2 output tokens. */
  tpot_ms: number | null;
  itl_ms: number[];
}

/** Latencies of a successful request; null when it failed or never produced a token. */
export function requestLatency(rec: RequestRecord, itlMode: ItlMode = "chunk"): RequestLatency | null {
  if (!rec.ok || rec.sent_ms === null || rec.chunks.length === 0) return null;
  const first = rec.chunks[0];
  const last = rec.chunks[rec.chunks.length - 1];
  const ttft_ms = first.t_ms - rec.sent_ms;
  const e2e_ms = last.t_ms - rec.sent_ms;
  const n = rec.output_tokens;
  const tpot_ms = n > 1 ? (e2e_ms - ttft_ms) / (n - 1) : null;
  const itl_ms: number[] = [];
  if (itlMode === "token") for (let k = 1; k < first.n; k++) itl_ms.push(0);
  for (let j = 1; j < rec.chunks.length; j++) {
    const gap = rec.chunks[j].t_ms - rec.chunks[j - 1].t_ms;
    if (itlMode === "chunk") itl_ms.push(gap);
    else for (let k = 0; k < rec.chunks[j].n; k++) itl_ms.push(gap / rec.chunks[j].n);
  }
  return { ttft_ms, e2e_ms, tpot_ms, itl_ms };
}

/** Why a request failed, short enough to group by (the full message stays in the record). */
export function failureReason(rec: RequestRecord): string {
  if (rec.sent_ms === null) return "not sent";
  const msg = rec.error ?? (rec.finish ? `finish=${rec.finish}` : "no output");
  return msg.length > 120 ? msg.slice(0, 117) + "..." : msg;
}
