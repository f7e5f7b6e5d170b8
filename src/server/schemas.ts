// The /v1/completions body we accept (OpenAI legacy completions + vLLM's sampling extensions).
// Unknown fields are refused with a 400 naming them (a typo such as `max_token` must not silently
// fall back to a default); OpenAI fields we do not implement are accepted only at their no-op value.
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
    user: z.string().nullish(),
    suffix: z.null({ invalid_type_error: "suffix is not supported" }).optional(),
    best_of: z.literal(1, { errorMap: () => ({ message: "only best_of=1 is supported" }) }).nullish(),
    presence_penalty: z.literal(0, { errorMap: () => ({ message: "presence_penalty is not supported (only 0)" }) }).nullish(),
    frequency_penalty: z.literal(0, { errorMap: () => ({ message: "frequency_penalty is not supported (only 0)" }) }).nullish(),
    logit_bias: z.record(z.string(), z.number()).refine((m) => Object.keys(m).length === 0, "logit_bias is not supported").nullish(),
  })
  .strict();
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** Normalise the four prompt shapes into a list of prompts, each text or ids. */
export function promptsOf(p: CompletionRequest["prompt"]): (string | number[])[] {
  if (typeof p === "string") return [p];
  if (p.length === 0) return [];
  if (typeof p[0] === "number") return [p as number[]];
  return p as (string | number[])[];
}
