// One online run (one backend at one scale) against a running OpenAI-compatible server:
// warm up, replay the scaled schedule, return the raw records.
import type { RequestRecord } from "../results/schema.js";
import { streamCompletion, type StreamRequest } from "./http-stream.js";
import { replay, scaleSchedule } from "./replay.js";
import type { StreamPool } from "./stream-pool.js";

/** Kept-alive connections each load-generator worker opens before a run. */
const WARM_CONNECTIONS_PER_WORKER = 8;

export interface OnlineItem {
  i: number;
  t_s: number;
  /** Token ids, or text when the endpoint wants text. */
  prompt: number[] | string;
  promptTokens: number;
  maxTokens: number;
}

export interface OnlineRunOptions<T = unknown> {
  url: string;
  model: string;
  items: OnlineItem[];
  scale: number;
  ignoreEos: boolean;
  apiKey?: string;
  warmupRequests: number;
  requestTimeoutMs: number;
  tag: string;
  /** completions: POST /v1/completions {prompt}; chat: POST /v1/chat/completions {messages: [user]}. */
  endpointType?: "completions" | "chat";
  onRecord?: (r: RequestRecord, done: number) => void;
  stopped?: () => boolean;
  /** Worker threads that stream the responses (absent: this thread). */
  pool?: StreamPool;
  maxConcurrency?: number;
  /** Called after the warm-up, before the timed replay (e.g. to read the engine's counters). */
  beforeReplay?: () => Promise<T | null>;
}

function body<T>(o: OnlineRunOptions<T>, prompt: number[] | string, maxTokens: number) {
  const what =
    o.endpointType === "chat"
      ? { messages: [{ role: "user", content: prompt }], max_completion_tokens: maxTokens }
      : { prompt, max_tokens: maxTokens };
  return {
    model: o.model,
    ...what,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    ...(o.ignoreEos ? { ignore_eos: true } : {}),
  };
}

function requestUrl<T>(o: OnlineRunOptions<T>): string {
  return `${o.url}/v1/${o.endpointType === "chat" ? "chat/completions" : "completions"}`;
}

/**
 * A few short requests so first-request costs (allocations, graph capture, JIT) are not measured.
 * Token-id prompts are a request's first 16 ids reversed, so a prefix cache learns nothing from the
 * warm-up that the timed requests could hit.
 */
async function warmUp<T>(o: OnlineRunOptions<T>): Promise<string | null> {
  const t0 = process.hrtime.bigint();
  const reqs = o.items.slice(0, o.warmupRequests).map((it, k) => {
    const prompt = typeof it.prompt === "string" ? it.prompt.split(" ").slice(0, 9).join(" ") || it.prompt : it.prompt.slice(0, 16).reverse();
    return streamCompletion(
      { i: k, id: `${o.tag}-warmup-${k}`, url: requestUrl(o), body: body(o, prompt, Math.min(4, it.maxTokens)), promptTokens: 0, maxTokens: 4, scheduled_ms: 0, apiKey: o.apiKey, timeoutMs: o.requestTimeoutMs },
      t0,
    );
  });
  const recs = await Promise.all(reqs);
  const bad = recs.find((r) => !r.ok);
  return bad ? bad.error : null;
}

export async function runOnlineScale<T>(o: OnlineRunOptions<T>): Promise<{ records: RequestRecord[]; warmupError: string | null; cacheWarm: T | null }> {
  const warmupError = o.warmupRequests > 0 ? await warmUp(o) : null;
  const cacheWarm = o.beforeReplay ? await o.beforeReplay() : null;
  const times = scaleSchedule(o.items.map((it) => it.t_s), o.scale);
  let done = 0;
  const request = (it: OnlineItem, k: number): StreamRequest => ({
    i: it.i,
    id: `${o.tag}-${it.i}`,
    url: requestUrl(o),
    body: body(o, it.prompt, it.maxTokens),
    promptTokens: it.promptTokens,
    maxTokens: it.maxTokens,
    scheduled_ms: times[k],
    apiKey: o.apiKey,
    timeoutMs: o.requestTimeoutMs,
  });
  const onRecord = (r: RequestRecord) => o.onRecord?.(r, ++done);
  let records: RequestRecord[];
  if (o.pool && o.pool.workers > 0 && o.maxConcurrency === undefined) {
    // The workers keep the schedule themselves (load/stream-pool.ts), on connections opened ahead.
    await o.pool.connect(requestUrl(o), WARM_CONNECTIONS_PER_WORKER * o.pool.workers);
    // No cap here, so no queue: queue_ms 0, as replay() records it.
    ({ records } = await o.pool.replay(o.items.map(request), { onRecord: (r) => onRecord({ ...r, queue_ms: 0 }), stopped: o.stopped }));
    records = records.map((r) => ({ ...r, queue_ms: 0 }));
  } else {
    const send = o.pool ? o.pool.send.bind(o.pool) : streamCompletion;
    ({ records } = await replay(
      o.items.map((it, k) => ({ scheduled_ms: times[k], item: { it, k } })),
      ({ it, k }, t0) => send(request(it, k), t0),
      { onRecord, stopped: o.stopped, maxConcurrency: o.maxConcurrency, blockingWait: (o.pool?.workers ?? 0) > 0 },
    ));
  }
  // Requests never dispatched (interrupted) are still accounted for.
  for (let k = records.length; k < o.items.length; k++) {
    const it = o.items[k];
    records.push({ i: it.i, id: `${o.tag}-${it.i}`, prompt_tokens: it.promptTokens, max_tokens: it.maxTokens, scheduled_ms: times[k], sent_ms: null, chunks: [], end_ms: null, output_tokens: 0, ok: false, finish: null, error: "not sent (interrupted)", engine: null });
  }
  return { records, warmupError, cacheWarm };
}
