// Where streamed requests run: in worker threads (load/stream-worker.ts) so that the thread keeping
// the dispatch schedule never parses a response, or, with 0 workers, on the calling thread. A job goes
// to the worker with the fewest requests in flight. The send time in each record is taken by the
// thread that sends, so the lateness it yields includes the hand-off.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { RequestRecord } from "../results/schema.js";
import { streamCompletion, type StreamRequest } from "./http-stream.js";
import type { WorkerJob } from "./stream-worker.js";

/**
 * Default workers: one per core beyond the dispatch thread and the server, at most 4; none on a
 * machine with fewer than 4 cores, where a worker has no core of its own and the hand-off (a thread
 * wake-up) costs more than it saves (measured: docs/harness.md, "Load generator").
 */
export function defaultLoadWorkers(cores = availableParallelism()): number {
  return cores < 4 ? 0 : Math.min(4, cores - 2);
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
      worker.on("message", (m: { k: number; record: RequestRecord }) => {
        const p = this.pending.get(m.k);
        if (!p) return;
        this.pending.delete(m.k);
        p.slot.inflight--;
        p.resolve(m.record);
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
      const job: WorkerJob = { k, t0: t0.toString(), req };
      slot.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const [k, p] of this.pending) {
      this.pending.delete(k);
      p.resolve(failedRecord(p.req, `load-generator worker failed: ${e.message}`));
    }
  }
}

function failedRecord(req: StreamRequest, error: string): RequestRecord {
  return {
    i: req.i,
    id: req.id,
    prompt_tokens: req.promptTokens,
    max_tokens: req.maxTokens,
    scheduled_ms: req.scheduled_ms,
    sent_ms: null,
    chunks: [],
    end_ms: null,
    output_tokens: 0,
    ok: false,
    finish: null,
    error,
    engine: null,
  };
}
