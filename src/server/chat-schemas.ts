// The /v1/chat/completions body we accept (OpenAI chat + vLLM's extensions). Unknown fields are a 400
// naming them; features we do not have (tools, JSON mode, images) are refused by name.
import { z } from "zod";
import { samplingFields } from "./schemas.js";

const TextPart = z.object({ type: z.literal("text"), text: z.string() }).strict();
type TextPartT = z.infer<typeof TextPart>;
const Content = z
  .union([z.string(), z.array(z.unknown())], { errorMap: () => ({ message: "content must be a string or a list of text parts" }) })
  .superRefine((v, ctx) => {
    if (Array.isArray(v))
      v.forEach((p, i) => {
        if (!TextPart.safeParse(p).success) ctx.addIssue({ code: "custom", path: [i], message: "only text content parts ({type: 'text', text}) are supported" });
      });
  })
  .transform((v) => v as string | TextPartT[]);

export const ChatMessageSchema = z
  .object({
    role: z.string().min(1),
    content: Content.nullish(),
    name: z.string().optional(),
  })
  .strict();

export const ChatRequestSchema = z
  .object({
    ...samplingFields,
    messages: z.array(ChatMessageSchema).nonempty(),
    max_completion_tokens: z.number().int().positive().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    // vLLM's extensions for the template.
    add_generation_prompt: z.boolean().nullish(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
    tools: z.array(z.unknown()).max(0, "tools are not supported").nullish(),
    tool_choice: z.literal("none", { errorMap: () => ({ message: "tool_choice: only \"none\" is supported" }) }).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: z
      .object({ type: z.literal("text", { errorMap: () => ({ message: "only response_format {type: 'text'} is supported" }) }) })
      .nullish(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.top_logprobs != null && r.top_logprobs > 0 && !r.logprobs)
      ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "top_logprobs needs logprobs: true" });
    if (r.max_tokens != null && r.max_completion_tokens != null && r.max_tokens !== r.max_completion_tokens)
      ctx.addIssue({ code: "custom", path: ["max_completion_tokens"], message: "give max_tokens or max_completion_tokens, not two different values" });
  });
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

/** A message's content as one string (text parts joined by newlines, as vLLM does). */
export function contentText(c: z.infer<typeof Content> | null | undefined): string {
  if (c == null) return "";
  if (typeof c === "string") return c;
  return c.map((p) => p.text).join("\n");
}
