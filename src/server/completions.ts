// POST /v1/completions: validate, tokenise, run n choices per prompt, answer as one JSON body or as
// SSE chunks (respond.ts). Text in and out goes through the model's tokenizer (tokenizer/resolve.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { AddOp } from "../engine/events.js";
import { CompletionRequestSchema, promptsOf, type CompletionRequest } from "./schemas.js";
import { fromZod, HttpError } from "./errors.js";
import { ChoiceRun } from "./generation.js";
import { completionLogprobs } from "./logprobs.js";
import { respondAll, streamAll } from "./respond.js";
import { contextError, needTokenizer, stopIdsFor, type ServerContext } from "./context.js";

const DEFAULT_MAX_TOKENS = 16;

function toIds(ctx: ServerContext, p: string | number[], index: number): number[] {
  if (typeof p === "string") return needTokenizer(ctx, "a text prompt").encode(p, true);
  const bad = p.findIndex((t) => t >= ctx.vocab);
  if (bad >= 0)
    throw new HttpError(400, `prompt[${index}]: token id ${p[bad]} at position ${bad} is outside the model's vocabulary [0, ${ctx.vocab})`, "invalid_request_error", "prompt");
  return p;
}

export function stopList(stop: string | string[] | null | undefined): string[] {
  return stop == null ? [] : typeof stop === "string" ? [stop] : stop;
}

/** The engine op of one choice; a seed is offset by the choice's number so n > 1 choices differ. */
export function choiceOp(ctx: ServerContext, r: Pick<CompletionRequest, "temperature" | "top_p" | "top_k" | "seed" | "ignore_eos" | "stop_token_ids">, id: string, prompt: number[], maxTokens: number, j: number, k: number | null): AddOp {
  const op: AddOp = { id, prompt, max_tokens: maxTokens, logprobs: k !== null };
  if (k !== null && k > 0) op.top_logprobs = k;
  if (r.temperature != null) op.temperature = r.temperature;
  if (r.top_p != null) op.top_p = r.top_p;
  if (r.top_k != null) op.top_k = Math.max(0, r.top_k); // vLLM's -1 and our 0 both mean off
  if (r.seed != null) op.seed = r.seed + j;
  if (r.ignore_eos != null) op.ignore_eos = r.ignore_eos;
  const stopIds = stopIdsFor(ctx, r.stop_token_ids, r.ignore_eos);
  if (stopIds !== undefined) op.stop_token_ids = stopIds;
  return op;
}

export async function handleCompletion(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const parsed = CompletionRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  const r = parsed.data;
  if (r.model != null && r.model !== ctx.modelName)
    throw new HttpError(404, `The model ${JSON.stringify(r.model)} does not exist (this server has ${JSON.stringify(ctx.modelName)})`, "invalid_request_error", "model", "model_not_found");
  if (!ctx.engine.alive) throw new HttpError(503, `engine unavailable: ${ctx.engine.deathReason}`, "engine_unavailable");
  const k = r.logprobs === true ? 0 : typeof r.logprobs === "number" ? r.logprobs : null;
  if (r.echo && k !== null)
    throw new HttpError(400, "echo with logprobs is not supported: it would need the prompt's logprobs, which the engine does not compute", "invalid_request_error", "echo");
  const stops = stopList(r.stop);
  if (stops.length) needTokenizer(ctx, "stop strings");
  if (k !== null) needTokenizer(ctx, "logprobs (token strings)");
  const n = r.n ?? 1;
  const maxTokens = r.max_tokens ?? DEFAULT_MAX_TOKENS;
  const prompts = promptsOf(r.prompt).map((p, i) => {
    const ids = toIds(ctx, p, i);
    if (ids.length + maxTokens > ctx.nCtx) throw contextError(ctx.nCtx, ids.length, maxTokens);
    const echo = r.echo ? (typeof p === "string" ? p : needTokenizer(ctx, "echo").decode(ids)) : "";
    return { ids, echo };
  });
  const id = `cmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  const runs = prompts.flatMap((p, i) =>
    Array.from({ length: n }, (_, j) => new ChoiceRun(i * n + j, choiceOp(ctx, r, `${id}-${i}-${j}`, p.ids, maxTokens, j, k), ctx.tokenizer, stops, r.stop_token_ids ?? [])),
  );
  const echoOf = (c: ChoiceRun) => prompts[Math.floor(c.index / n)].echo;
  // A client that goes away must not keep the engine busy.
  res.on("close", () => {
    for (const c of runs) if (!c.done) ctx.engine.abort(c.op.id);
  });
  const promptTokens = prompts.reduce((a, p) => a + p.ids.length, 0); // each prompt once, whatever n (OpenAI)
  const head = { id, object: "text_completion", created: Math.floor(Date.now() / 1000), model: ctx.modelName };
  const lp = (c: ChoiceRun, tokens: number[], lps: number[], tops: [number, number][][], offset: number) =>
    k === null ? null : completionLogprobs(ctx.tokenizer!, tokens, lps, tops, k, offset);

  if (r.stream) {
    const offset = new Map<ChoiceRun, number>(); // characters of token text so far, for text_offset
    return streamAll(ctx, res, runs, {
      first: (c) => (echoOf(c) ? { index: c.index, text: echoOf(c), token_ids: [], logprobs: null, finish_reason: null } : null),
      step: (c, s) => {
        const at = offset.get(c) ?? echoOf(c).length;
        offset.set(c, at + (k === null ? 0 : s.tokens.reduce((a, t) => a + ctx.tokenizer!.tokenText(t).length, 0)));
        return { index: c.index, text: s.text, token_ids: s.tokens, logprobs: lp(c, s.tokens, s.logprobs, s.top, at), finish_reason: null };
      },
      end: (c, tail) => ({ index: c.index, text: tail, token_ids: [], logprobs: null, finish_reason: c.finishReason, stop_reason: c.stopReason }),
    }, { head, includeUsage: Boolean(r.stream_options?.include_usage), continuousUsage: Boolean(r.stream_options?.continuous_usage_stats), promptTokens });
  }

  return respondAll(
    ctx,
    res,
    runs,
    head,
    (c) => ({
      index: c.index,
      text: echoOf(c) + c.text,
      token_ids: c.tokens,
      logprobs: lp(c, c.tokens, c.logprobs, c.tops, echoOf(c).length),
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
    }),
    promptTokens,
  );
}
