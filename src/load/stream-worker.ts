// A load-generator worker thread (load/stream-pool.ts). Two kinds of work:
// - "job": stream one completion now, post its record back (the dispatch thread keeps the schedule);
// - "shard" then "go": this thread keeps the schedule of its share of a run itself, against the run's
//   hrtime origin t0 (process.hrtime is CLOCK_MONOTONIC, one clock for every thread of the process):
//   it builds each request before its time, waits for it (load/replay.ts waitUntil: a timer, then
//   event-loop turns for the last SPIN_MS), sends it with one socket write and posts each record as it
//   completes. No hand-off between threads sits between the schedule and the send.
// SSE and JSON parsing of every chunk happen here, on the thread that sent the request.
import { parentPort } from "node:worker_threads";
import type { RequestRecord } from "../results/schema.js";
import { failedRecord, prepareStream, sendPrepared, streamCompletion, type PreparedStream, type StreamRequest } from "./http-stream.js";
import { connectionsOpenedOnDemand, openConnections } from "./raw-http.js";
import { waitUntil } from "./replay.js";
import { watchGc, type ThreadStats } from "./thread-stats.js";

export type ToWorker =
  | { type: "job"; k: number; /** the run's hrtime origin as a decimal string */ t0: string; req: StreamRequest }
  | { type: "connect"; url: string; n: number }
  | { type: "shard"; jobs: { k: number; req: StreamRequest }[] }
  | { type: "go"; t0: string; stop: SharedArrayBuffer };

export type FromWorker =
  | { type: "record"; k: number; record: RequestRecord }
  | { type: "shard-record"; k: number; record: RequestRecord }
  | { type: "ready" }
  | { type: "connected"; opened: number }
  | { type: "done"; stats: ThreadStats };

const post = (m: FromWorker) => parentPort!.postMessage(m);
let shard: { k: number; req: StreamRequest }[] = [];

parentPort!.on("message", (m: ToWorker) => {
  if (m.type === "job") {
    void streamCompletion(m.req, BigInt(m.t0)).then((record) => post({ type: "record", k: m.k, record }));
  } else if (m.type === "connect") {
    void openConnections(m.url, m.n).then((opened) => post({ type: "connected", opened }));
  } else if (m.type === "shard") {
    shard = m.jobs;
    post({ type: "ready" });
  } else {
    const jobs = shard;
    shard = [];
    void runShard(jobs, BigInt(m.t0), new Int32Array(m.stop)).then((stats) => post({ type: "done", stats }));
  }
});

function prepare(req: StreamRequest): PreparedStream | Error {
  try {
    return prepareStream(req);
  } catch (e) {
    return e as Error;
  }
}

async function runShard(jobs: { k: number; req: StreamRequest }[], t0: bigint, stop: Int32Array): Promise<ThreadStats> {
  const stats: ThreadStats = { sent: 0, connects: 0, gc_count: 0, gc_ms_total: 0, gc_ms_max: 0 };
  const stopGc = watchGc(stats);
  const connects0 = connectionsOpenedOnDemand();
  const nowMs = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const inflight: Promise<void>[] = [];
  let next = jobs.length > 0 ? prepare(jobs[0].req) : null;
  for (let j = 0; j < jobs.length; j++) {
    const { k, req } = jobs[j];
    const p = next!;
    if (Atomics.load(stop, 0) !== 0) break;
    await waitUntil(req.scheduled_ms, nowMs);
    if (Atomics.load(stop, 0) !== 0) break;
    if (p instanceof Error) {
      post({ type: "shard-record", k, record: failedRecord(req, `bad request: ${p.message}`) });
    } else {
      stats.sent++;
      inflight.push(sendPrepared(p, t0).then((record) => post({ type: "shard-record", k, record })));
    }
    // The next request is built now, while this thread waits for its time anyway.
    next = j + 1 < jobs.length ? prepare(jobs[j + 1].req) : null;
  }
  await Promise.all(inflight);
  await stopGc();
  stats.connects = connectionsOpenedOnDemand() - connects0;
  return stats;
}
