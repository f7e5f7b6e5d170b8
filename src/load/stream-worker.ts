// A load-generator worker thread: streams the completions it is handed (load/http-stream.ts) and
// posts each record back. SSE and JSON parsing of every chunk happen here, off the thread that keeps
// the dispatch schedule (load/stream-pool.ts).
import { parentPort } from "node:worker_threads";
import { streamCompletion, type StreamRequest } from "./http-stream.js";

export interface WorkerJob {
  k: number;
  /** The run's hrtime origin as a decimal string (bigints do not cross postMessage everywhere). */
  t0: string;
  req: StreamRequest;
}

parentPort!.on("message", (job: WorkerJob) => {
  void streamCompletion(job.req, BigInt(job.t0)).then((record) => parentPort!.postMessage({ k: job.k, record }));
});
