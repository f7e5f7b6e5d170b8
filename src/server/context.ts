// What every OpenAI route needs to know about the model and the engine behind it.
import type { EngineClient } from "../engine/client.js";
import type { TextTokenizer } from "../tokenizer/types.js";
import type { SseLimits } from "./sse.js";
import { HttpError } from "./errors.js";

export interface ServerContext {
  engine: EngineClient;
  modelName: string;
  nCtx: number;
  vocab: number;
  /** The engine's EOS (null when the model has none inside its vocabulary). */
  eosTokenId: number | null;
  tokenizer: TextTokenizer | null;
  /** Why there is no tokenizer (text in or out needs one). */
  noTokenizer: string | null;
  /** --chat-template, else the tokenizer's; null: /v1/chat/completions answers 400. */
  chatTemplate: string | null;
  sse: SseLimits;
  /** The engine runs with --enable-prefix-caching: usage reports prompt_tokens_details.cached_tokens. */
  prefixCaching?: boolean;
}

/** The tokenizer, or the 400 that says the model has none. */
export function needTokenizer(ctx: ServerContext, what: string): TextTokenizer {
  if (ctx.tokenizer) return ctx.tokenizer;
  throw new HttpError(400, `${what} needs a tokenizer: ${ctx.noTokenizer ?? "this model has none"}`, "invalid_request_error", null, "no_tokenizer");
}

/** The engine's stop ids for a request: its own, plus the tokenizer's EOS when the engine's differs. */
export function stopIdsFor(ctx: ServerContext, given: number[] | null | undefined, ignoreEos: boolean | null | undefined): number[] | undefined {
  const ids = [...(given ?? [])];
  const eos = ctx.tokenizer?.eosTokenId;
  if (!ignoreEos && eos != null && eos !== ctx.eosTokenId && eos < ctx.vocab && !ids.includes(eos)) ids.push(eos);
  return given == null && ids.length === 0 ? undefined : ids;
}

/** The 400 vLLM gives when prompt + completion do not fit the context. */
export function contextError(nCtx: number, promptLen: number, maxTokens: number): HttpError {
  return new HttpError(
    400,
    `This model's maximum context length is ${nCtx} tokens. However, you requested ${promptLen + maxTokens} tokens (${promptLen} in the prompt, ${maxTokens} for the completion).`,
    "invalid_request_error",
    "max_tokens",
  );
}
