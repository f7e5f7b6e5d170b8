// Text prompts (--prompt-format text): words that are single tokens of the tokenizer and survive a
// round trip, joined, then checked: encode(text) has exactly `length` ids (special tokens the server
// may add, such as BOS, not counted).
import type { TextTokenizer } from "../tokenizer/types.js";
import { r50kTokenizer, R50K_VOCAB } from "../tokenizer/gpt2.js";
import { mulberry32 } from "../traces/rng.js";

const words = new WeakMap<TextTokenizer, string[]>();
const R50K = r50kTokenizer(R50K_VOCAB);

function wordList(tok: TextTokenizer): string[] {
  let list = words.get(tok);
  if (list) return list;
  list = [];
  for (let id = 0; id < tok.vocabSize && list.length < 2000; id++) {
    const w = tok.decode([id]);
    if (/^ [a-z]{3,}$/.test(w) && tok.encode(w).length === 1) list.push(w);
  }
  if (list.length === 0) throw new Error(`${tok.description}: no single-token words to build text prompts from`);
  words.set(tok, list);
  return list;
}

export function textPrompt(seed: number, i: number, length: number, tok: TextTokenizer = R50K): string {
  const list = wordList(tok);
  const rand = mulberry32((Math.imul(seed + 1, 0x27d4eb2f) ^ Math.imul(i + 1, 0x165667b1)) >>> 0);
  const parts = Array.from({ length }, () => list[Math.floor(rand() * list.length)]);
  let text = parts.join("");
  // Adjacent words could merge differently; trim or pad until the length is exact.
  const pad = list[0];
  for (let k = 0; k < 16; k++) {
    const n = tok.encode(text).length;
    if (n === length) return text;
    if (n > length) parts.pop();
    else parts.push(pad);
    text = parts.join("");
  }
  throw new Error(`could not build a text prompt of exactly ${length} tokens`);
}
