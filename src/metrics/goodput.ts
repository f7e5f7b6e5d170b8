// Goodput (DistServe's definition, as in vLLM's --goodput): requests per second that met every SLO.
// TTFT and E2E are counted from the request's arrival, so time spent in the client's queue behind a
// --max-concurrency cap counts against the SLO (vLLM starts its clock after the queue).
import type { RequestRecord } from "../results/schema.js";
import { requestLatency } from "./request.js";

/** Upper bounds in ms; an absent key is not checked. */
export interface Slo {
  ttft_ms?: number;
  tpot_ms?: number;
  e2e_ms?: number;
}

/** Does one request meet the SLO? Failures never do; TPOT is not checked for 1-token outputs. */
export function meetsSlo(rec: RequestRecord, slo: Slo): boolean {
  const lat = requestLatency(rec);
  if (!lat) return false;
  const queued = rec.queue_ms ?? 0;
  if (slo.ttft_ms !== undefined && lat.ttft_ms + queued > slo.ttft_ms) return false;
  if (slo.e2e_ms !== undefined && lat.e2e_ms + queued > slo.e2e_ms) return false;
  if (slo.tpot_ms !== undefined && lat.tpot_ms !== null && lat.tpot_ms > slo.tpot_ms) return false;
  return true;
}

export function goodput(records: readonly RequestRecord[], slo: Slo, duration_s: number) {
  const good = records.filter((r) => meetsSlo(r, slo)).length;
  return {
    slo: { ...slo } as Record<string, number>,
    req_s: duration_s > 0 ? good / duration_s : 0,
    fraction: records.length > 0 ? good / records.length : 0,
  };
}
