// One streamed completion over HTTP/SSE, recorded raw: send time, every token-bearing chunk's
// arrival (process.hrtime, the same clock as the engine's t_ns), end, finish, error.
import http from "node:http";
import https from "node:https";
import type { RequestRecord } from "../results/schema.js";
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

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: Infinity }), https: new https.Agent({ keepAlive: true, maxSockets: Infinity }) };

/** Stream one request; never rejects (failures are in the record). t0 is the run's hrtime origin. */
export function streamCompletion(r: StreamRequest, t0: bigint): Promise<RequestRecord> {
  const ms = (t: bigint) => Number(t - t0) / 1e6;
  const t0n = Number(t0);
  const chunks: { t_ms: number; n: number }[] = [];
  const engine = { first_tok_ms: null as number | null, last_tok_ms: null as number | null, done_ms: null as number | null };
  let tokens = 0;
  let usageTokens: number | null = null;
  let cachedTokens: number | null = null;
  let promptTokens = r.promptTokens;
  let finish: string | null = null;
  let error: string | null = null;
  let sawDone = false;
  let sent_ms: number | null = null;

  return new Promise<RequestRecord>((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      const ok = error === null && sawDone;
      resolve({
        i: r.i,
        id: r.id,
        prompt_tokens: promptTokens,
        max_tokens: r.maxTokens,
        scheduled_ms: r.scheduled_ms,
        sent_ms,
        chunks,
        end_ms: sent_ms === null ? null : ms(process.hrtime.bigint()),
        output_tokens: usageTokens ?? tokens,
        ok,
        finish,
        error: ok ? null : (error ?? "stream ended without [DONE]"),
        engine: engine.first_tok_ms === null && engine.done_ms === null ? null : engine,
        cached_tokens: cachedTokens,
      });
    };
    const onData = (payload: string) => {
      if (payload === "[DONE]") {
        sawDone = true;
        return;
      }
      let msg: Record<string, any>;
      try {
        msg = JSON.parse(payload);
      } catch {
        error ??= `bad SSE payload: ${payload.slice(0, 80)}`;
        return;
      }
      if (msg.error) {
        error ??= `server error: ${msg.error.message ?? JSON.stringify(msg.error)}`;
        return;
      }
      if (msg.usage?.completion_tokens !== undefined) usageTokens = msg.usage.completion_tokens;
      const cached = msg.usage?.prompt_tokens_details?.cached_tokens;
      if (Number.isInteger(cached) && cached >= 0) cachedTokens = cached;
      // The server's own count of the prompt (with its special and chat-template tokens), as vLLM's
      // client takes it.
      if (typeof msg.usage?.prompt_tokens === "number") promptTokens = msg.usage.prompt_tokens;
      const choice = msg.choices?.[0];
      if (!choice) return;
      // Our server says how many ids a chunk carries; other servers: one token per chunk with text
      // (completions: `text`; chat: `delta.content`; a chat chunk with only the role carries none).
      const text = choice.text ?? choice.delta?.content;
      const n = Array.isArray(choice.token_ids) ? choice.token_ids.length : text ? 1 : 0;
      if (n > 0) {
        chunks.push({ t_ms: ms(now), n });
        tokens += n;
        if (typeof msg.engine_t_ns === "number") {
          engine.first_tok_ms ??= (msg.engine_t_ns - t0n) / 1e6;
          engine.last_tok_ms = (msg.engine_t_ns - t0n) / 1e6;
        }
      }
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        if (typeof msg.engine_t_ns === "number") engine.done_ms = (msg.engine_t_ns - t0n) / 1e6;
      }
    };
    let now = process.hrtime.bigint();
    const url = new URL(r.url);
    const lib = url.protocol === "https:" ? https : http;
    const body = JSON.stringify(r.body);
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
      error ??= `timed out after ${r.timeoutMs} ms`;
      req.destroy();
      settle();
    }, r.timeoutMs);
    req.on("response", (res) => {
      res.setEncoding("utf8");
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let msg = text.slice(0, 300);
          try {
            msg = JSON.parse(text).error?.message ?? msg;
          } catch {
            /* keep the raw text */
          }
          error ??= `HTTP ${res.statusCode}: ${msg}`;
          clearTimeout(timer);
          settle();
        });
        return;
      }
      const parser = new SseParser();
      res.on("data", (d: string) => {
        now = process.hrtime.bigint();
        for (const payload of parser.push(d)) onData(payload);
      });
      res.on("end", () => {
        clearTimeout(timer);
        settle();
      });
      res.on("error", (e) => {
        error ??= `stream error: ${e.message}`;
        clearTimeout(timer);
        settle();
      });
    });
    req.on("error", (e) => {
      error ??= `connection error: ${e.message}`;
      clearTimeout(timer);
      settle();
    });
    sent_ms = ms(process.hrtime.bigint());
    req.end(body);
  });
}
