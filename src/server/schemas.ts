// The /v1/completions body we accept (OpenAI legacy completions + vLLM's sampling extensions).
// Unknown fields are ignored, as OpenAI clients send extras (user, suffix ...).
import { z } from "zod";

const tokenIds = z.array(z.number().int().nonnegative()).nonempty();

export const CompletionRequestSchema = z
  .object({
    model: z.string().optional(),
    prompt: z.union([z.string().min(1), z.array(z.string().min(1)).nonempty(), tokenIds, z.array(tokenIds).nonempty()], {
      errorMap: (issue, ctx) =>
        ctx.data === undefined
          ? { message: "Required" }
          : issue.code === "invalid_union"
            ? { message: "must be a non-empty string, list of strings, list of token ids or list of token-id lists" }
            : { message: ctx.defaultError },
    }),
    max_tokens: z.number().int().positive().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    top_k: z.number().int().min(-1).nullish(),
    seed: z.number().int().nullish(),
    ignore_eos: z.boolean().nullish(),
    stop_token_ids: z.array(z.number().int().nonnegative()).nullish(),
    logprobs: z.union([z.number().int().min(0).max(5), z.boolean()]).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
    n: z.literal(1, { errorMap: () => ({ message: "only n=1 is supported" }) }).nullish(),
    stop: z.null({ invalid_type_error: "stop strings are not supported; use stop_token_ids" }).optional(),
    echo: z.literal(false, { errorMap: () => ({ message: "echo is not supported" }) }).nullish(),
  })
  .passthrough();
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** Normalise the four prompt shapes into a list of prompts, each text or ids. */
export function promptsOf(p: CompletionRequest["prompt"]): (string | number[])[] {
  if (typeof p === "string") return [p];
  if (p.length === 0) return [];
  if (typeof p[0] === "number") return [p as number[]];
  return p as (string | number[])[];
}
