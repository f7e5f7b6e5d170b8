// GPT-2 BPE (r50k_base, bundled with js-tiktoken, works offline).
// Models with a vocabulary smaller than r50k's 50257 (synthetic:tiny has 1000) cannot see every
// BPE id: text prompts are mapped with id % vocab (lossy, but deterministic and in range), while
// token-id prompts must already be in range (an id >= vocab is the caller's error).
import { Tiktoken } from "js-tiktoken/lite";
import r50k_base from "js-tiktoken/ranks/r50k_base";

export const R50K_VOCAB = 50257;
let enc: Tiktoken | null = null;

function encoder(): Tiktoken {
  enc ??= new Tiktoken(r50k_base);
  return enc;
}

export function encode(text: string): number[] {
  return encoder().encode(text, "all");
}

/** Decode ids; ids outside r50k decode to "" (a small model's ids are all inside it). */
export function decode(ids: readonly number[]): string {
  const inRange = ids.filter((t) => t >= 0 && t < R50K_VOCAB);
  return inRange.length ? encoder().decode(inRange) : "";
}

/** Text -> ids the model can take: BPE ids, folded into [0, vocab) when the vocab is smaller. */
export function encodeForModel(text: string, vocab: number): number[] {
  const ids = encode(text);
  return vocab >= R50K_VOCAB ? ids : ids.map((t) => t % vocab);
}

/**
 * Streaming detokenizer: text of the tokens pushed so far, emitted only at UTF-8 boundaries
 * (a BPE token can end mid-character; holding back until the character completes avoids U+FFFD).
 */
export class IncrementalDecoder {
  private pending: number[] = [];

  /** Text newly completed by these tokens (possibly ""). */
  push(ids: readonly number[]): string {
    this.pending.push(...ids);
    const text = decode(this.pending);
    if (text.endsWith("\uFFFD") && this.pending.length < 8) return "";
    this.pending = [];
    return text;
  }

  /** Whatever is still held back, at the end of a stream. */
  flush(): string {
    const text = decode(this.pending);
    this.pending = [];
    return text;
  }
}
