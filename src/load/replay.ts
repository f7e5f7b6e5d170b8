// The load generator: dispatch each request at its scheduled time (t' = (t - t0) x scale) without
// waiting for earlier ones, and collect every record. Lateness (actual - scheduled send) is in the
// records; the summary judges it.
import type { RequestRecord } from "../results/schema.js";

export interface Scheduled<T> {
  scheduled_ms: number;
  item: T;
}

/** Arrival times scaled: t' = (t - t0) x scale, in ms since the first request. */
export function scaleSchedule(times_s: readonly number[], scale: number): number[] {
  if (times_s.length === 0) return [];
  const t0 = times_s[0];
  return times_s.map((t) => (t - t0) * scale * 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fire `send(item, t0)` for every item at t0 + scheduled_ms (t0: hrtime origin of the run) and
 * resolve with all records, in schedule order. `onRecord` sees each record as it completes.
 */
export async function replay<T>(
  schedule: readonly Scheduled<T>[],
  send: (item: T, t0: bigint) => Promise<RequestRecord>,
  opts: { leadMs?: number; onRecord?: (r: RequestRecord) => void; stopped?: () => boolean } = {},
): Promise<{ t0: bigint; records: RequestRecord[] }> {
  const t0 = process.hrtime.bigint() + BigInt(Math.round((opts.leadMs ?? 20) * 1e6));
  const inflight: Promise<RequestRecord>[] = [];
  for (const s of schedule) {
    if (opts.stopped?.()) break;
    const wait = s.scheduled_ms - Number(process.hrtime.bigint() - t0) / 1e6;
    if (wait > 1) await sleep(wait - 0.5);
    // setTimeout wakes early or late by ~1 ms; finish the wait on the clock itself when short.
    while (Number(process.hrtime.bigint() - t0) / 1e6 < s.scheduled_ms) await new Promise((r) => setImmediate(r));
    const p = send(s.item, t0);
    if (opts.onRecord) p.then(opts.onRecord);
    inflight.push(p);
  }
  return { t0, records: await Promise.all(inflight) };
}
