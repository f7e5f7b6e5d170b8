// POST /v1/chat/completions: messages -> prompt text with the model's chat template (tokenizer_config
// .json's chat_template, or serve's --chat-template), then the same choices machinery as completions.
// A model without a tokenizer or without a chat template gets a 400 that says which.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { renderChat } from "../tokenizer/chat-template.js";
import { ChatRequestSchema, contentText } from "./chat-schemas.js";
import { fromZod, HttpError } from "./errors.js";
import { ChoiceRun } from "./generation.js";
import { chatLogprobs } from "./logprobs.js";
import { respondAll, streamAll } from "./respond.js";
import { choiceOp, stopList } from "./completions.js";
import { contextError, needTokenizer, type ServerContext } from "./context.js";

export async function handleChat(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const parsed = ChatRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  const r = parsed.data;
  if (r.model != null && r.model !== ctx.modelName)
    throw new HttpError(404, `The model ${JSON.stringify(r.model)} does not exist (this server has ${JSON.stringify(ctx.modelName)})`, "invalid_request_error", "model", "model_not_found");
  if (!ctx.engine.alive) throw new HttpError(503, `engine unavailable: ${ctx.engine.deathReason}`, "engine_unavailable");
  const tok = needTokenizer(ctx, "a chat request");
  if (!ctx.chatTemplate)
    throw new HttpError(
      400,
      `this model has no chat template (${tok.description} comes with no chat_template in tokenizer_config.json); use /v1/completions, or start serve with --chat-template FILE`,
      "invalid_request_error",
      "messages",
      "no_chat_template",
    );
  const messages = r.messages.map((m) => ({ role: m.role, content: contentText(m.content), ...(m.name ? { name: m.name } : {}) }));
  let text: string;
  try {
    text = renderChat(tok, ctx.chatTemplate, messages, r.add_generation_prompt ?? true, r.chat_template_kwargs ?? {});
  } catch (err) {
    throw new HttpError(400, `the chat template failed on these messages: ${(err as Error).message}`, "invalid_request_error", "messages");
  }
  // The template writes the special tokens (BOS, headers) itself: none are added on top (vLLM's default).
  const prompt = tok.encode(text, false);
  if (prompt.length === 0) throw new HttpError(400, "the chat template rendered an empty prompt", "invalid_request_error", "messages");
  const maxTokens = r.max_completion_tokens ?? r.max_tokens ?? ctx.nCtx - prompt.length;
  if (maxTokens < 1 || prompt.length + maxTokens > ctx.nCtx) throw contextError(ctx.nCtx, prompt.length, Math.max(1, maxTokens));
  const k = r.logprobs ? (r.top_logprobs ?? 0) : null;
  const n = r.n ?? 1;
  const id = `chatcmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  const stops = stopList(r.stop);
  const runs = Array.from({ length: n }, (_, j) => new ChoiceRun(j, choiceOp(ctx, r, `${id}-${j}`, prompt, maxTokens, j, k), tok, stops, r.stop_token_ids ?? []));
  res.on("close", () => {
    for (const c of runs) if (!c.done) ctx.engine.abort(c.op.id);
  });
  const promptTokens = prompt.length; // once, whatever n (OpenAI)
  const created = Math.floor(Date.now() / 1000);
  const lp = (tokens: number[], lps: number[], tops: [number, number][][]) => (k === null ? null : { content: chatLogprobs(tok, tokens, lps, tops, k), refusal: null });

  if (r.stream) {
    const head = { id, object: "chat.completion.chunk", created, model: ctx.modelName };
    return streamAll(ctx, res, runs, {
      first: (c) => ({ index: c.index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }),
      step: (c, s) => ({ index: c.index, delta: { content: s.text }, token_ids: s.tokens, logprobs: lp(s.tokens, s.logprobs, s.top), finish_reason: null }),
      end: (c, tail) => ({ index: c.index, delta: tail ? { content: tail } : {}, token_ids: [], logprobs: null, finish_reason: c.finishReason, stop_reason: c.stopReason }),
    }, { head, includeUsage: Boolean(r.stream_options?.include_usage), continuousUsage: Boolean(r.stream_options?.continuous_usage_stats), promptTokens });
  }

  return respondAll(
    ctx,
    res,
    runs,
    { id, object: "chat.completion", created, model: ctx.modelName },
    (c) => ({
      index: c.index,
      message: { role: "assistant", content: c.text },
      logprobs: lp(c.tokens, c.logprobs, c.tops),
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
      token_ids: c.tokens,
    }),
    promptTokens,
  );
}
