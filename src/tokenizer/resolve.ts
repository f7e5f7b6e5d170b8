// Which tokenizer a model gets: --tokenizer DIR, else the model directory's tokenizer.json, else
// r50k for GPT-2 models (a GPT-2 directory without tokenizer.json, or a synthetic preset); any other
// model has none, and text sent to it gets a 400 that says so.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hasHfTokenizer, loadHfTokenizer } from "./hf.js";
import { r50kTokenizer } from "./gpt2.js";
import type { TextTokenizer } from "./types.js";

export type TokenizerChoice = { tokenizer: TextTokenizer; why: null } | { tokenizer: null; why: string };

function modelType(dir: string): string | null {
  try {
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { model_type?: unknown };
    return typeof c.model_type === "string" ? c.model_type : null;
  } catch {
    return null;
  }
}

/** `model` is the engine's --model (a directory or synthetic:NAME); vocab is the model's vocabulary. */
export function resolveTokenizer(model: string, vocab: number, tokenizerDir?: string): TokenizerChoice {
  if (tokenizerDir) {
    if (!hasHfTokenizer(tokenizerDir)) throw new Error(`--tokenizer ${tokenizerDir}: no tokenizer.json there`);
    const tok = loadHfTokenizer(tokenizerDir);
    if (tok.vocabSize > vocab) throw new Error(`--tokenizer ${tokenizerDir}: its ${tok.vocabSize} tokens do not fit the model's vocabulary of ${vocab}`);
    return { tokenizer: tok, why: null };
  }
  if (model.startsWith("synthetic:")) return { tokenizer: r50kTokenizer(vocab), why: null };
  if (existsSync(model) && hasHfTokenizer(model)) return { tokenizer: loadHfTokenizer(model), why: null };
  const type = existsSync(model) ? modelType(model) : null;
  if (type === "gpt2") return { tokenizer: r50kTokenizer(vocab), why: null };
  return { tokenizer: null, why: `the model ${model}${type ? ` (${type})` : ""} has no tokenizer (no tokenizer.json in its directory); give --tokenizer DIR, or send token ids` };
}
