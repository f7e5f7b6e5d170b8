// Text prompts for endpoints that want text (--prompt-format text): words that are single r50k
// tokens and survive a round trip, joined, then checked: encode(text) has exactly `length` ids.
import { decode, encode } from "../tokenizer/gpt2.js";
import { mulberry32 } from "../traces/rng.js";

let words: string[] | null = null;

function wordList(): string[] {
  if (words) return words;
  words = [];
  for (let id = 0; id < 50257 && words.length < 2000; id++) {
    const w = decode([id]);
    if (/^ [a-z]{3,}$/.test(w) && encode(w).length === 1) words.push(w);
  }
  return words;
}

export function textPrompt(seed: number, i: number, length: number): string {
  const list = wordList();
  const rand = mulberry32((Math.imul(seed + 1, 0x27d4eb2f) ^ Math.imul(i + 1, 0x165667b1)) >>> 0);
  const parts = Array.from({ length }, () => list[Math.floor(rand() * list.length)]);
  let text = parts.join("");
  // Adjacent words could merge differently; trim or pad until the length is exact.
  for (let k = 0; k < 16; k++) {
    const n = encode(text).length;
    if (n === length) return text;
    if (n > length) parts.pop();
    else parts.push(" the");
    text = parts.join("");
  }
  throw new Error(`could not build a text prompt of exactly ${length} tokens`);
}
