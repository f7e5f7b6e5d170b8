// Chat messages -> prompt text with the model's own chat template (Jinja, rendered by
// @huggingface/jinja, an implementation made for HF chat templates).
import { Template } from "@huggingface/jinja";
import type { TextTokenizer } from "./types.js";

export interface ChatMessage {
  role: string;
  content: string;
}

const compiled = new Map<string, Template>();

export function renderChat(tok: TextTokenizer, template: string, messages: ChatMessage[], addGenerationPrompt: boolean, extra: Record<string, unknown> = {}): string {
  let t = compiled.get(template);
  if (!t) {
    t = new Template(template);
    compiled.set(template, t);
  }
  return t.render({
    ...extra,
    messages,
    add_generation_prompt: addGenerationPrompt,
    bos_token: tok.bosToken ?? "",
    eos_token: tok.eosToken ?? "",
  });
}
