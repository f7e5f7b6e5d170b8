// The /v1/completions body we accept (OpenAI legacy completions + vLLM's sampling extensions).
// Unknown fields are refused with a 400 naming them (a typo such as `max_token` must not silently
// fall back to a default); OpenAI fields we do not implement are accepted only at their no-op value.
import { z } from "zod";

const tokenIds = z.array(z.number().int().nonnegative()).nonempty();
const PROMPT_SHAPES = "must be a non-empty string, list of strings, list of token ids or list of token-id lists";
type Prompt = string | [string, ...string[]] | [number, ...number[]] | [number[], ...number[][]];

// The prompt is validated as the one shape its first element names. A z.union tried a list of token
// ids as a list of strings first, building one issue per id before it matched: ~3 ms for a 900-id
// prompt, inside every request's TTFT. A list of plain non-negative integers (the common case) is
// accepted by one loop; anything else goes through zod for its message.
function promptShape(v: unknown): z.ZodTypeAny | null {
  if (typeof v === "string") return z.string().min(1);
  if (!Array.isArray(v) || v.length === 0) return null;
  const first: unknown = v[0];
  if (typeof first === "string") return z.array(z.string().min(1)).nonempty();
  if (typeof first === "number") return tokenIds;
  if (Array.isArray(first)) return z.array(tokenIds).nonempty();
  return null;
}
const isIds = (v: unknown[]): boolean => v.length > 0 && v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0);

const PromptSchema = z.custom<Prompt>((v) => v !== undefined, { message: "Required" }).superRefine((v, ctx) => {
  if (Array.isArray(v) && (isIds(v) || (v.length > 0 && v.every((p) => Array.isArray(p) && isIds(p))))) return;
  const shape = promptShape(v);
  if (!shape) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: PROMPT_SHAPES });
    return;
  }
  const r = shape.safeParse(v);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: z.ZodIssueCode.custom, message: issue.message, path: issue.path });
});

/** `stop`: a string or a list of strings, none empty (an empty one would end every request at once). */
export const StopSchema = z.union([z.string().min(1), z.array(z.string().min(1, "stop strings must not be empty")).max(64)]);

/** Sampling fields shared with /v1/chat/completions (OpenAI + vLLM's extensions). */
export const samplingFields = {
  model: z.string().optional(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  seed: z.number().int().nullish(),
  ignore_eos: z.boolean().nullish(),
  stop_token_ids: z.array(z.number().int().nonnegative()).nullish(),
  stop: StopSchema.nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  presence_penalty: z.literal(0, { errorMap: () => ({ message: "presence_penalty is not supported (only 0)" }) }).nullish(),
  frequency_penalty: z.literal(0, { errorMap: () => ({ message: "frequency_penalty is not supported (only 0)" }) }).nullish(),
  logit_bias: z.record(z.string(), z.number()).refine((m) => Object.keys(m).length === 0, "logit_bias is not supported").nullish(),
};

export const CompletionRequestSchema = z
  .object({
    ...samplingFields,
    prompt: PromptSchema,
    // An int k (0..20): the chosen token's logprob and the k most likely alternatives; true = 0.
    logprobs: z.union([z.number().int().min(0).max(20), z.boolean()]).nullish(),
    echo: z.boolean().nullish(),
    suffix: z.null({ invalid_type_error: "suffix is not supported" }).optional(),
    best_of: z.number().int().positive().nullish(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.best_of != null && r.best_of !== (r.n ?? 1)) ctx.addIssue({ code: "custom", path: ["best_of"], message: "best_of must equal n (no server-side ranking)" });
  });
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** Normalise the four prompt shapes into a list of prompts, each text or ids. */
export function promptsOf(p: CompletionRequest["prompt"]): (string | number[])[] {
  if (typeof p === "string") return [p];
  if (p.length === 0) return [];
  if (typeof p[0] === "number") return [p as number[]];
  return p as (string | number[])[];
}
