// Faithful prefix replay of Mooncake / Qwen traces: every hash id maps to one deterministic block of
// token ids (seeded by --seed and the hash id, inside the model's vocabulary, the EOS id avoided), and
// a request's prompt is its hash ids' blocks in order, cut to its input length (the last block
// partial). Requests that share leading hash ids therefore share exactly those prompt tokens, and the
// engine's prefix cache sees what the production system saw.
//
//   hash_ids [0, 14, 15]   input_length 1100   block 512
//   prompt = block(0)[0..512) + block(14)[0..512) + block(15)[0..76)
//
// A block's first id is (hash id + a seed offset) modulo the usable vocabulary, so different hash ids
// start with different tokens (for ids less than a vocabulary apart) and two prompts never share
// tokens by chance past their last common hash id; the rest of the block is seeded random ids.
// A line whose ids cover fewer tokens than its input length gets request-private ids for the rest.
import { mulberry32 } from "../traces/rng.js";
import { syntheticPrompt } from "./prompts.js";

export class HashBlockPrompts {
  private readonly blocks = new Map<number, Int32Array>();
  private readonly usable: number;

  constructor(
    private readonly seed: number,
    readonly blockSize: number,
    private readonly vocab: number,
    private readonly eos?: number | null,
  ) {
    const eosInside = eos !== undefined && eos !== null && eos >= 0 && eos < vocab;
    this.usable = vocab - (eosInside ? 1 : 0);
    if (this.usable < 1) throw new Error(`vocabulary of ${vocab} leaves no token id for prompts`);
  }

  /** The usable-vocabulary index k as a token id (skipping the EOS id). */
  private tokenOf(k: number): number {
    return this.eos !== undefined && this.eos !== null && this.eos >= 0 && k >= this.eos ? k + 1 : k;
  }

  block(hashId: number): Int32Array {
    let b = this.blocks.get(hashId);
    if (b) return b;
    b = new Int32Array(this.blockSize);
    const rand = mulberry32((Math.imul(this.seed + 1, 0x2545f491) ^ Math.imul((hashId % 0x7fffffff) + 1, 0x9e3779b1) ^ Math.floor(hashId / 0x7fffffff)) >>> 0);
    b[0] = this.tokenOf((hashId + this.seed * 7919) % this.usable);
    for (let k = 1; k < this.blockSize; k++) b[k] = this.tokenOf(Math.floor(rand() * this.usable));
    this.blocks.set(hashId, b);
    return b;
  }

  /** Request i's prompt of `length` tokens from its hash ids. */
  prompt(i: number, hashIds: readonly number[], length: number): number[] {
    const out = new Array<number>(length);
    let n = 0;
    for (let k = 0; k < hashIds.length && n < length; k++) {
      const b = this.block(hashIds[k]);
      for (let j = 0; j < b.length && n < length; j++) out[n++] = b[j];
    }
    if (n < length) {
      const rest = syntheticPrompt(this.seed, i, length - n, this.vocab, this.eos);
      for (const t of rest) out[n++] = t;
    }
    return out;
  }
}
