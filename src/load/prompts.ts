// Synthetic prompts: seeded token ids of the requested length inside the model's vocabulary
// (the EOS id is avoided so a prompt never looks finished). Request i's prompt depends only on
// (seed, i, length), so every backend and every scale sees identical prompts.
import { mulberry32 } from "../traces/rng.js";

export function syntheticPrompt(seed: number, i: number, length: number, vocab: number, eos?: number | null): number[] {
  const rand = mulberry32((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
  const ids = new Array<number>(length);
  for (let k = 0; k < length; k++) {
    let t = Math.floor(rand() * vocab);
    if (t === eos) t = (t + 1) % vocab;
    ids[k] = t;
  }
  return ids;
}
