// Where streamed requests run: in worker threads (load/stream-worker.ts) so that no one thread both
// keeps the whole schedule and parses every response, or, with 0 workers, on the calling thread.
// Two ways to use the workers:
// - replay(): each worker keeps the schedule of its share of the run (round robin) and sends on time
//   itself; the calling thread only collects records (no thread hand-off before a send);
// - send(): the calling thread keeps the schedule and hands each request to the worker with the
//   fewest in flight (used with --max-concurrency, whose FIFO queue is one across the run).
// The send time in each record is taken by the thread that sends, at the socket write, so the
// lateness it yields includes every hand-off and wait.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { RequestRecord } from "../results/schema.js";
import { failedRecord, streamCompletion, type StreamRequest } from "./http-stream.js";
import type { FromWorker, ToWorker } from "./stream-worker.js";
import type { ThreadStats } from "./thread-stats.js";

/**
 * Default workers: one per core beyond the calling thread and the server, at most 4; none on a
 * machine with fewer than 4 cores, where a worker has no core of its own (each spins for the last
 * SPIN_MS before its sends) and competes with the server it measures (docs/harness.md, "Load
 * generator"; 4 workers held p99 0.56 ms at 2000 req/s on the 16-core GPU host, docs/perf-notes.md).
 */
export function defaultLoadWorkers(cores = availableParallelism()): number {
  return cores < 4 ? 0 : Math.min(4, cores - 2);
}

export interface PoolReplayOptions {
  /** Time between the start and the first send, for the workers to get going (ms). */
  leadMs?: number;
  onRecord?: (r: RequestRecord) => void;
  stopped?: () => boolean;
}

interface Run {
  records: (RequestRecord | undefined)[];
  onRecord?: (r: RequestRecord) => void;
  ready: () => void;
  done: (stats: ThreadStats) => void;
  connected: (n: number) => void;
}

interface Slot {
  worker: Worker;
  inflight: number;
}

export class StreamPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (r: RequestRecord) => void; slot: Slot; req: StreamRequest }>();
  private nextK = 0;
  private failure: Error | null = null;
  private run: Run | null = null;

  constructor(readonly workers: number) {
    if (workers <= 0) return;
    // From the TypeScript sources (tsx, no dist/) a worker must register tsx itself first
    // (ts-worker-boot.mjs); from dist/ the compiled worker runs as it is.
    const ts = import.meta.url.endsWith(".ts");
    const entry = new URL(ts ? "./stream-worker.ts" : "./stream-worker.js", import.meta.url);
    const url = ts ? new URL("./ts-worker-boot.mjs", import.meta.url) : entry;
    const workerData = ts ? { tsxApi: import.meta.resolve("tsx/esm/api"), entry: entry.href } : undefined;
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(url, { workerData });
      const slot: Slot = { worker, inflight: 0 };
      worker.on("message", (m: FromWorker) => {
        if (m.type === "record") {
          const p = this.pending.get(m.k);
          if (!p) return;
          this.pending.delete(m.k);
          p.slot.inflight--;
          p.resolve(m.record);
        } else if (m.type === "shard-record") {
          const run = this.run;
          if (!run || run.records[m.k] !== undefined) return;
          run.records[m.k] = m.record;
          run.onRecord?.(m.record);
        } else if (m.type === "ready") this.run?.ready();
        else if (m.type === "connected") this.run?.connected(m.opened);
        else this.run?.done(m.stats);
      });
      worker.on("error", (e) => this.fail(e));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`load-generator worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  /** Stream one request; never rejects (a dead worker fails the request in its record). */
  send(req: StreamRequest, t0: bigint): Promise<RequestRecord> {
    if (this.slots.length === 0) return streamCompletion(req, t0);
    if (this.failure) return Promise.resolve(failedRecord(req, this.failure.message));
    let slot = this.slots[0];
    for (const s of this.slots) if (s.inflight < slot.inflight) slot = s;
    const k = this.nextK++;
    slot.inflight++;
    return new Promise((resolve) => {
      this.pending.set(k, { resolve, slot, req });
      const job: ToWorker = { type: "job", k, t0: t0.toString(), req };
      slot.worker.postMessage(job);
    });
  }

  /**
   * Open about `total` kept-alive connections to the URL's host, spread over the workers, before a
   * run, so that its sends find them open (http: URLs only). Resolves with the number opened.
   */
  async connect(url: string, total: number): Promise<number> {
    if (this.slots.length === 0 || this.run) return 0;
    let opened = 0;
    let left = this.slots.length;
    await new Promise<void>((resolve) => {
      this.run = {
        records: [],
        ready: () => {},
        done: () => {},
        connected: (n) => {
          opened += n;
          if (--left === 0) resolve();
        },
      };
      const per = Math.ceil(total / this.slots.length);
      for (const s of this.slots) s.worker.postMessage({ type: "connect", url, n: per } satisfies ToWorker);
    });
    this.run = null;
    return opened;
  }

  /**
   * Replay a schedule with the workers keeping it: request k goes to worker k mod workers, which
   * sends it at t0 + scheduled_ms itself. Resolves with every record in schedule order (requests
   * left unsent by `stopped` as "not sent (interrupted)") and each worker's pause statistics.
   */
  async replay(reqs: readonly StreamRequest[], opts: PoolReplayOptions = {}): Promise<{ t0: bigint; records: RequestRecord[]; threads: ThreadStats[] }> {
    if (this.slots.length === 0) throw new Error("StreamPool.replay needs worker threads");
    if (this.run) throw new Error("StreamPool: one replay at a time");
    if (this.failure) {
      const why = `load-generator worker failed: ${this.failure.message}`;
      return { t0: process.hrtime.bigint(), records: reqs.map((req) => failedRecord(req, why)), threads: [] };
    }
    const W = this.slots.length;
    const threads: ThreadStats[] = [];
    let ready = 0;
    let finished = 0;
    let onReady = () => {};
    let onDone = () => {};
    const run: Run = {
      records: new Array(reqs.length).fill(undefined),
      onRecord: opts.onRecord,
      ready: () => {
        if (++ready === W) onReady();
      },
      done: (stats) => {
        threads.push(stats);
        if (++finished === W) onDone();
      },
      connected: () => {},
    };
    this.run = run;
    const stopBuf = new SharedArrayBuffer(4);
    const stop = new Int32Array(stopBuf);
    const poll = setInterval(() => {
      if (opts.stopped?.()) Atomics.store(stop, 0, 1);
    }, 20);
    try {
      const allReady = new Promise<void>((r) => (onReady = r));
      const allDone = new Promise<void>((r) => (onDone = r));
      const failed = new Promise<void>((r) => (this.onFailure = r));
      this.slots.forEach((s, w) => {
        const jobs: { k: number; req: StreamRequest }[] = [];
        for (let k = w; k < reqs.length; k += W) jobs.push({ k, req: reqs[k] });
        s.worker.postMessage({ type: "shard", jobs } satisfies ToWorker);
      });
      await Promise.race([allReady, failed]);
      // The origin is set once every worker holds its share: the shares' transfer is not in the run.
      const t0 = process.hrtime.bigint() + BigInt(Math.round((opts.leadMs ?? 20) * 1e6));
      const failure = (): Error | null => this.failure; // set by a worker's error while we await
      if (!failure()) for (const s of this.slots) s.worker.postMessage({ type: "go", t0: t0.toString(), stop: stopBuf } satisfies ToWorker);
      await Promise.race([allDone, failed]);
      const err = failure();
      const why = err ? `load-generator worker failed: ${err.message}` : "not sent (interrupted)";
      const records = reqs.map((req, k) => run.records[k] ?? failedRecord(req, why));
      return { t0, records, threads };
    } finally {
      clearInterval(poll);
      this.run = null;
      this.onFailure = null;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private onFailure: (() => void) | null = null;

  private fail(e: Error): void {
    this.failure ??= e;
    this.onFailure?.();
    for (const [k, p] of this.pending) {
      this.pending.delete(k);
      p.resolve(failedRecord(p.req, `load-generator worker failed: ${e.message}`));
    }
  }
}
