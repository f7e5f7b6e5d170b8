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
 * Polling waits sleep in setTimeout until this close to the send time, then turn the event loop
 * (setImmediate) until it: node's timers have millisecond granularity (a timer can fire up to ~1 ms
 * after its time, more on a busy loop), the setImmediate turns keep the thread's I/O going and see
 * the time to a few microseconds, at the cost of a busy core for the last SPIN_MS before each send.
 */
export const SPIN_MS = 2;

/**
 * Wait until `nowMs() >= at`. Polling: setTimeout to within SPIN_MS, then a setImmediate loop.
 * Blocking (for a thread that hands every request to worker threads and parses nothing): sleep in
 * Atomics.wait (sub-millisecond precision, no spinning), in slices of at most 10 ms with a turn of
 * the event loop between them for records and signals.
 */
export async function waitUntil(at: number, nowMs: () => number, blocking = false): Promise<void> {
  for (;;) {
    const wait = at - nowMs();
    if (wait <= 0) return;
    if (blocking) {
      Atomics.wait(sleeper, 0, 0, Math.min(wait, 10));
      if (wait > 10) await yieldOnce();
    } else if (wait > SPIN_MS) {
      await sleep(wait - SPIN_MS);
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
