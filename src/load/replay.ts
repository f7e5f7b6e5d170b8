// The load generator: dispatch each request at its scheduled time (t' = (t - t0) x scale) without
// waiting for earlier ones, and collect every record. With a concurrency cap (--max-concurrency, as
// in vllm bench serve) a request dispatched while the cap is reached waits in a FIFO for a slot; the
// wait is its `queue_ms`, so the queueing is in the record instead of hidden. Lateness
// (sent - queue - scheduled) is in the records too; the summary judges it.
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
const yieldOnce = () => new Promise((r) => setImmediate(r));
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Wait until `nowMs() >= at`. Polling: setTimeout to within ~1 ms, then a setImmediate loop, which
 * keeps this thread's I/O going (responses parsed here) but spins a core. Blocking: when responses
 * are parsed by worker threads, this thread sleeps in Atomics.wait (sub-millisecond precision, no
 * spinning, so the workers get the CPU), in slices of at most 10 ms with a turn of the event loop
 * between them for records and signals.
 */
async function waitUntil(at: number, nowMs: () => number, blocking: boolean): Promise<void> {
  for (;;) {
    const wait = at - nowMs();
    if (wait <= 0) return;
    if (blocking) {
      Atomics.wait(sleeper, 0, 0, Math.min(wait, 10));
      if (wait > 10) await yieldOnce();
    } else if (wait > 1) {
      await sleep(wait - 0.5);
    } else {
      await yieldOnce();
    }
  }
}

export interface ReplayOptions {
  leadMs?: number;
  onRecord?: (r: RequestRecord) => void;
  stopped?: () => boolean;
  /** At most this many requests in flight (undefined: no cap). */
  maxConcurrency?: number;
  /** `send` hands requests to other threads: sleep between dispatches instead of polling. */
  blockingWait?: boolean;
}

/**
 * Fire `send(item, t0)` for every item at t0 + scheduled_ms (t0: hrtime origin of the run) and
 * resolve with all records, in schedule order. `onRecord` sees each record as it completes.
 */
export async function replay<T>(
  schedule: readonly Scheduled<T>[],
  send: (item: T, t0: bigint) => Promise<RequestRecord>,
  opts: ReplayOptions = {},
): Promise<{ t0: bigint; records: RequestRecord[] }> {
  const t0 = process.hrtime.bigint() + BigInt(Math.round((opts.leadMs ?? 20) * 1e6));
  const nowMs = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const cap = opts.maxConcurrency ?? Infinity;
  const inflight: Promise<RequestRecord>[] = [];
  const waiting: (() => void)[] = [];
  let running = 0;
  const start = (item: T, queue_ms: number): Promise<RequestRecord> => {
    running++;
    return send(item, t0).then((rec) => {
      running--;
      waiting.shift()?.();
      const r = { ...rec, queue_ms };
      opts.onRecord?.(r);
      return r;
    });
  };
  for (let k = 0; k < schedule.length; k++) {
    const s = schedule[k];
    if (opts.stopped?.()) break;
    await waitUntil(s.scheduled_ms, nowMs, opts.blockingWait ?? false);
    if (running < cap) {
      inflight.push(start(s.item, 0));
    } else {
      const dispatched = nowMs();
      inflight.push(new Promise<RequestRecord>((resolve) => waiting.push(() => resolve(start(s.item, nowMs() - dispatched)))));
    }
    // Blocking mode: a turn of the event loop takes finished records in (and, with a cap, frees
    // slots), but not when the next arrival is due within 0.3 ms: a burst is dispatched first.
    if (opts.blockingWait && (cap !== Infinity || (schedule[k + 1]?.scheduled_ms ?? Infinity) - nowMs() > 0.3)) await yieldOnce();
  }
  return { t0, records: await Promise.all(inflight) };
}
