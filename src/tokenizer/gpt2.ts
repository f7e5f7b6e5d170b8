// GPT-2 BPE (r50k_base, bundled with js-tiktoken, works offline): the tokenizer of GPT-2 models whose
// directory has no tokenizer.json, and of the synthetic GPT-2-shaped presets.
// Models with a vocabulary smaller than r50k's 50257 (synthetic:tiny has 1024) cannot see every
// BPE id: text prompts are mapped with id % vocab (lossy, but deterministic and in range), while
// token-id prompts must already be in range (an id >= vocab is the caller's error).
import { Tiktoken } from "js-tiktoken/lite";
import r50k_base from "js-tiktoken/ranks/r50k_base";
import type { TextTokenizer } from "./types.js";

export const R50K_VOCAB = 50257;
const ENDOFTEXT = 50256;
let enc: Tiktoken | null = null;
let bytesOf: Uint8Array[] | null = null;

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

/** The bytes of each r50k token, from the ranks table js-tiktoken ships (lines "? offset b64 b64 ..."). */
function tokenByteTable(): Uint8Array[] {
  if (bytesOf) return bytesOf;
  const table: Uint8Array[] = [];
  for (const line of r50k_base.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, offset, ...tokens] = line.split(" ");
    tokens.forEach((b64, i) => (table[Number(offset) + i] = Buffer.from(b64, "base64")));
  }
  table[ENDOFTEXT] = Buffer.from("<|endoftext|>");
  return (bytesOf = table);
}

/** r50k as a TextTokenizer for a model of `vocab` ids (folding text ids when vocab < 50257). */
export function r50kTokenizer(vocab: number): TextTokenizer {
  return {
    description: vocab >= R50K_VOCAB ? "r50k_base (GPT-2 BPE)" : `r50k_base (GPT-2 BPE), text ids folded into the model's ${vocab} with id % ${vocab}`,
    vocabSize: Math.min(vocab, R50K_VOCAB),
    bosToken: null,
    eosToken: "<|endoftext|>",
    eosTokenId: vocab > ENDOFTEXT ? ENDOFTEXT : null,
    chatTemplate: null,
    encode: (text) => encodeForModel(text, vocab),
    decode: (ids, skipSpecialTokens = true) => decode(skipSpecialTokens ? ids.filter((t) => t !== ENDOFTEXT) : ids),
    tokenText: (id) => decode([id]),
    tokenBytes: (id) => [...(tokenByteTable()[id] ?? [])],
  };
}
