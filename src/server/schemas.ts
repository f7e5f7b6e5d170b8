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

export const CompletionRequestSchema = z
  .object({
    model: z.string().optional(),
    prompt: PromptSchema,
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
