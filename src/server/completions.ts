// POST /v1/completions: validate, tokenise, submit one engine request per prompt, answer as one
// JSON body or as SSE chunks. Each chunk's choice carries `token_ids` (the ids in that chunk) and
// the chunk carries `engine_t_ns` (the engine's CLOCK_MONOTONIC time of those tokens), so a client
// on the same host can put server-side times next to its own.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { EngineClient } from "../engine/client.js";
import type { AddOp, DoneEvent } from "../engine/events.js";
import { decode, encodeForModel, IncrementalDecoder } from "../tokenizer/gpt2.js";
import { CompletionRequestSchema, promptsOf, type CompletionRequest } from "./schemas.js";
import { fromZod, HttpError, sendJson } from "./errors.js";
import { SseWriter, type SseLimits } from "./sse.js";

export interface CompletionContext {
  engine: EngineClient;
  modelName: string;
  nCtx: number;
  vocab: number;
  sse: SseLimits;
  /** The engine runs with --enable-prefix-caching: usage reports prompt_tokens_details.cached_tokens. */
  prefixCaching?: boolean;
}

const DEFAULT_MAX_TOKENS = 16;

interface Choice {
  index: number;
  op: AddOp;
  tokens: number[];
  logprobs: number[];
  text: string;
  done: DoneEvent | null;
}

function toIds(p: string | number[], vocab: number, index: number): number[] {
  if (typeof p === "string") return encodeForModel(p, vocab);
  const bad = p.findIndex((t) => t >= vocab);
  if (bad >= 0)
    throw new HttpError(400, `prompt[${index}]: token id ${p[bad]} at position ${bad} is outside the model's vocabulary [0, ${vocab})`, "invalid_request_error", "prompt");
  return p;
}

function engineOps(req: CompletionRequest, ctx: CompletionContext, requestId: string): AddOp[] {
  const maxTokens = req.max_tokens ?? DEFAULT_MAX_TOKENS;
  return promptsOf(req.prompt).map((p, i) => {
    const prompt = toIds(p, ctx.vocab, i);
    if (prompt.length + maxTokens > ctx.nCtx)
      throw new HttpError(
        400,
        `This model's maximum context length is ${ctx.nCtx} tokens. However, you requested ${prompt.length + maxTokens} tokens (${prompt.length} in the prompt, ${maxTokens} for the completion).`,
        "invalid_request_error",
        "max_tokens",
      );
    const op: AddOp = { id: `${requestId}-${i}`, prompt, max_tokens: maxTokens, logprobs: req.logprobs != null && req.logprobs !== false };
    if (req.temperature != null) op.temperature = req.temperature;
    if (req.top_p != null) op.top_p = req.top_p;
    if (req.top_k != null) op.top_k = Math.max(0, req.top_k); // vLLM's -1 and our 0 both mean off
    if (req.seed != null) op.seed = req.seed;
    if (req.ignore_eos != null) op.ignore_eos = req.ignore_eos;
    if (req.stop_token_ids != null) op.stop_token_ids = req.stop_token_ids;
    return op;
  });
}

function logprobsOf(tokens: number[], lps: number[]) {
  return { tokens: tokens.map((t) => decode([t])), token_logprobs: lps, top_logprobs: null, text_offset: [] as number[] };
}

/** OpenAI usage; with prefix caching, prompt_tokens_details.cached_tokens as OpenAI and vLLM report it. */
function usageOf(ctx: CompletionContext, choices: Choice[]) {
  const completion = choices.reduce((a, c) => a + c.tokens.length, 0);
  const prompt = choices.reduce((a, c) => a + c.op.prompt.length, 0);
  const usage: Record<string, unknown> = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (ctx.prefixCaching) usage.prompt_tokens_details = { cached_tokens: choices.reduce((a, c) => a + (c.done?.cached_tokens ?? 0), 0) };
  return usage;
}

function finishReason(d: DoneEvent): string {
  return d.finish === "stop" ? "stop" : d.finish === "length" ? "length" : d.finish;
}

function failureOf(choices: Choice[], engine: EngineClient): HttpError | null {
  const bad = choices.find((c) => c.done && c.done.finish === "error");
  if (!bad) return null;
  const msg = bad.done!.error ?? "engine error";
  return new HttpError(engine.alive ? 500 : 503, msg, engine.alive ? "server_error" : "engine_unavailable");
}

export async function handleCompletion(ctx: CompletionContext, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const parsed = CompletionRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  const r = parsed.data;
  if (r.model != null && r.model !== ctx.modelName)
    throw new HttpError(404, `The model ${JSON.stringify(r.model)} does not exist (this server has ${JSON.stringify(ctx.modelName)})`, "invalid_request_error", "model", "model_not_found");
  if (!ctx.engine.alive) throw new HttpError(503, `engine unavailable: ${ctx.engine.deathReason}`, "engine_unavailable");
  const id = `cmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  const ops = engineOps(r, ctx, id);
  const choices: Choice[] = ops.map((op, index) => ({ index, op, tokens: [], logprobs: [], text: "", done: null }));
  const created = Math.floor(Date.now() / 1000);
  // A client that goes away must not keep the engine busy.
  res.on("close", () => {
    for (const c of choices) if (!c.done) ctx.engine.abort(c.op.id);
  });
  const head = { id, object: "text_completion", created, model: ctx.modelName };
  if (r.stream) return stream(ctx, res, r, choices, head);

  await Promise.all(
    choices.map(
      (c) =>
        new Promise<void>((resolve) =>
          ctx.engine.submit(c.op, {
            onTok: (ev) => {
              c.tokens.push(...ev.tokens);
              if (ev.logprobs) c.logprobs.push(...ev.logprobs);
            },
            onDone: (d) => {
              c.done = d;
              resolve();
            },
          }),
        ),
    ),
  );
  if (res.destroyed) return;
  const failure = failureOf(choices, ctx.engine);
  if (failure) throw failure;
  sendJson(res, 200, {
    ...head,
    choices: choices.map((c) => ({
      index: c.index,
      text: decode(c.tokens),
      token_ids: c.tokens,
      logprobs: c.op.logprobs ? logprobsOf(c.tokens, c.logprobs) : null,
      finish_reason: finishReason(c.done!),
    })),
    usage: usageOf(ctx, choices),
  });
}

function stream(ctx: CompletionContext, res: ServerResponse, r: CompletionRequest, choices: Choice[], head: object): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
  const writer = new SseWriter(res, ctx.sse, () => {
    for (const c of choices) if (!c.done) ctx.engine.abort(c.op.id);
  });
  const chunk = (choice: object, engine_t_ns?: number) =>
    writer.data({ ...head, choices: [choice], ...(engine_t_ns !== undefined ? { engine_t_ns } : {}) });
  return new Promise<void>((resolve) => {
    let open = choices.length;
    for (const c of choices) {
      const decoder = new IncrementalDecoder();
      ctx.engine.submit(c.op, {
        onTok: (ev) => {
          c.tokens.push(...ev.tokens);
          if (ev.logprobs) c.logprobs.push(...ev.logprobs);
          const logprobs = c.op.logprobs ? logprobsOf(ev.tokens, ev.logprobs ?? []) : null;
          chunk({ index: c.index, text: decoder.push(ev.tokens), token_ids: ev.tokens, logprobs, finish_reason: null }, ev.t_ns);
        },
        onDone: (d) => {
          c.done = d;
          if (d.finish !== "error" && d.finish !== "abort")
            chunk({ index: c.index, text: decoder.flush(), token_ids: [], logprobs: null, finish_reason: finishReason(d) }, d.t_ns);
          if (--open > 0) return;
          const failure = failureOf(choices, ctx.engine);
          if (failure) {
            writer.data({ error: { message: failure.message, type: failure.type, param: null, code: null } });
          } else {
            if (r.stream_options?.include_usage) writer.data({ ...head, choices: [], usage: usageOf(ctx, choices) });
            writer.data("[DONE]");
          }
          writer.end();
          resolve();
        },
      });
    }
  });
}
