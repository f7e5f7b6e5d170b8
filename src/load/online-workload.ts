// From a trace to the requests an online run sends: first N, clamped to the model, with prompts.
import type { LoadedTrace } from "../traces/load.js";
import { clampTrace } from "../traces/clamp.js";
import type { OnlineItem } from "./online-run.js";
import { syntheticPrompt } from "./prompts.js";
import { textPrompt } from "./text-prompts.js";
import type { TextTokenizer } from "../tokenizer/types.js";

export interface ModelLimits {
  nCtx: number;
  vocab: number;
  eos?: number | null;
}

export interface WorkloadOptions {
  numPrompts: number;
  maxInputLen?: number;
  maxOutputLen?: number;
  seed: number;
  promptFormat: "ids" | "text";
  /** Text prompts are exact lengths in this tokenizer's tokens. */
  tokenizer?: TextTokenizer;
}

export function buildOnlineItems(trace: LoadedTrace, model: ModelLimits, o: WorkloadOptions): { items: OnlineItem[]; clamped: number } {
  const first = trace.requests.slice(0, o.numPrompts);
  const { requests, clamped } = clampTrace(first, { nCtx: model.nCtx, maxInputLen: o.maxInputLen, maxOutputLen: o.maxOutputLen });
  const items = requests.map((r, i) => ({
    i,
    t_s: r.t_s,
    prompt: o.promptFormat === "text" ? textPrompt(o.seed, i, r.input_tokens, o.tokenizer) : syntheticPrompt(o.seed, i, r.input_tokens, model.vocab, model.eos),
    promptTokens: r.input_tokens,
    maxTokens: r.output_tokens,
  }));
  return { items, clamped };
}
