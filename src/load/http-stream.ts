// One streamed completion over HTTP/SSE, recorded raw: send time, every token-bearing chunk's
// arrival (process.hrtime, the same clock as the engine's t_ns), end, finish, error.
// http: URLs go through load/raw-http.ts (kept-alive sockets, a request is one socket write, so the
// send time is the time of that write); https: URLs through node:https.
import http from "node:http";
import https from "node:https";
import type { RequestRecord } from "../results/schema.js";
import { httpError, prepareRaw, sendRaw, type RawRequest } from "./raw-http.js";
import { SseParser } from "./sse-parser.js";

export interface StreamRequest {
  i: number;
  id: string;
  url: string;
  body: Record<string, unknown>;
  promptTokens: number;
  maxTokens: number;
  scheduled_ms: number;
  apiKey?: string;
  timeoutMs: number;
}

/**
 * What one request's record is built from, whichever client streams it: the send, each SSE payload
 * with the time its bytes arrived, an error, the end. Times are ms since t0 (the run's hrtime origin).
 */
export class StreamRecorder {
  private readonly t0n: number;
  private readonly chunks: { t_ms: number; n: number }[] = [];
  private readonly engine = { first_tok_ms: null as number | null, last_tok_ms: null as number | null, done_ms: null as number | null };
  private tokens = 0;
  private usageTokens: number | null = null;
  private cachedTokens: number | null = null;
  private promptTokens: number;
  private finish: string | null = null;
  private error: string | null = null;
  private sawDone = false;
  private sent_ms: number | null = null;

  constructor(
    private readonly r: StreamRequest,
    private readonly t0: bigint,
  ) {
    this.t0n = Number(t0);
    this.promptTokens = r.promptTokens;
  }

  ms(t: bigint): number {
    return Number(t - this.t0) / 1e6;
  }

  /** The request left: `at` is the hrtime of the write. */
  sent(at: bigint): void {
    this.sent_ms = this.ms(at);
  }

  get wasSent(): boolean {
    return this.sent_ms !== null;
  }

  fail(message: string): void {
    this.error ??= message;
  }

  /** One SSE `data:` payload whose bytes arrived at hrtime `now`. */
  payload(payload: string, now: bigint): void {
    if (payload === "[DONE]") {
      this.sawDone = true;
      return;
    }
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(payload);
    } catch {
      this.fail(`bad SSE payload: ${payload.slice(0, 80)}`);
      return;
    }
    if (msg.error) {
      this.fail(`server error: ${msg.error.message ?? JSON.stringify(msg.error)}`);
      return;
    }
    if (msg.usage?.completion_tokens !== undefined) this.usageTokens = msg.usage.completion_tokens;
    const cached = msg.usage?.prompt_tokens_details?.cached_tokens;
    if (Number.isInteger(cached) && cached >= 0) this.cachedTokens = cached;
    // The server's own count of the prompt (with its special and chat-template tokens), as vLLM's
    // client takes it.
    if (typeof msg.usage?.prompt_tokens === "number") this.promptTokens = msg.usage.prompt_tokens;
    const choice = msg.choices?.[0];
    if (!choice) return;
    // Our server says how many ids a chunk carries; other servers: one token per chunk with text
    // (completions: `text`; chat: `delta.content`; a chat chunk with only the role carries none).
    const text = choice.text ?? choice.delta?.content;
    const n = Array.isArray(choice.token_ids) ? choice.token_ids.length : text ? 1 : 0;
    if (n > 0) {
      this.chunks.push({ t_ms: this.ms(now), n });
      this.tokens += n;
      if (typeof msg.engine_t_ns === "number") {
        this.engine.first_tok_ms ??= (msg.engine_t_ns - this.t0n) / 1e6;
        this.engine.last_tok_ms = (msg.engine_t_ns - this.t0n) / 1e6;
      }
    }
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      if (typeof msg.engine_t_ns === "number") this.engine.done_ms = (msg.engine_t_ns - this.t0n) / 1e6;
    }
  }

  /** The record, ended now. */
  record(): RequestRecord {
    const ok = this.error === null && this.sawDone;
    const e = this.engine;
    return {
      i: this.r.i,
      id: this.r.id,
      prompt_tokens: this.promptTokens,
      max_tokens: this.r.maxTokens,
      scheduled_ms: this.r.scheduled_ms,
      sent_ms: this.sent_ms,
      chunks: this.chunks,
      end_ms: this.sent_ms === null ? null : this.ms(process.hrtime.bigint()),
      output_tokens: this.usageTokens ?? this.tokens,
      ok,
      finish: this.finish,
      error: ok ? null : (this.error ?? "stream ended without [DONE]"),
      engine: e.first_tok_ms === null && e.done_ms === null ? null : e,
      cached_tokens: this.cachedTokens,
    };
  }
}

/** The record of a request that was never sent (it failed before its send: a bad request, a dead worker). */
export function failedRecord(req: StreamRequest, error: string): RequestRecord {
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

/** A request made ready to go (body serialized, bytes built) ahead of its send time. */
export type PreparedStream = { kind: "raw"; r: StreamRequest; raw: RawRequest } | { kind: "node"; r: StreamRequest; body: string };

export function prepareStream(r: StreamRequest): PreparedStream {
  const url = new URL(r.url);
  if (url.protocol === "http:") return { kind: "raw", r, raw: prepareRaw(url, r.body, r.apiKey) };
  return { kind: "node", r, body: JSON.stringify(r.body) };
}

/** Stream one prepared request now; never rejects (failures are in the record). t0 is the run's hrtime origin. */
export function sendPrepared(p: PreparedStream, t0: bigint): Promise<RequestRecord> {
  const rec = new StreamRecorder(p.r, t0);
  return p.kind === "raw" ? sendRaw(p.raw, rec, p.r.timeoutMs) : sendNode(p.r, p.body, rec);
}

/** Stream one request; never rejects (failures are in the record). t0 is the run's hrtime origin. */
export function streamCompletion(r: StreamRequest, t0: bigint): Promise<RequestRecord> {
  return sendPrepared(prepareStream(r), t0);
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: Infinity }), https: new https.Agent({ keepAlive: true, maxSockets: Infinity }) };

/** Through node:http(s) (https: URLs). The send time is taken when the request is handed to node. */
function sendNode(r: StreamRequest, body: string, rec: StreamRecorder): Promise<RequestRecord> {
  return new Promise<RequestRecord>((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      resolve(rec.record());
    };
    const url = new URL(r.url);
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(url, {
      method: "POST",
      agent: url.protocol === "https:" ? agents.https : agents.http,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        accept: "text/event-stream",
        ...(r.apiKey ? { authorization: `Bearer ${r.apiKey}` } : {}),
      },
    });
    const timer = setTimeout(() => {
      rec.fail(`timed out after ${r.timeoutMs} ms`);
      req.destroy();
      settle();
    }, r.timeoutMs);
    req.on("response", (res) => {
      res.setEncoding("utf8");
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          rec.fail(httpError(res.statusCode ?? 0, text));
          clearTimeout(timer);
          settle();
        });
        return;
      }
      const parser = new SseParser();
      res.on("data", (d: string) => {
        const now = process.hrtime.bigint();
        for (const payload of parser.push(d)) rec.payload(payload, now);
      });
      res.on("end", () => {
        clearTimeout(timer);
        settle();
      });
      res.on("error", (e) => {
        rec.fail(`stream error: ${e.message}`);
        clearTimeout(timer);
        settle();
      });
    });
    req.on("error", (e) => {
      rec.fail(`connection error: ${e.message}`);
      clearTimeout(timer);
      settle();
    });
    rec.sent(process.hrtime.bigint());
    req.end(body);
  });
}
