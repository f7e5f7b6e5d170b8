// The block size behind a Mooncake / Qwen trace's `hash_ids`. Each id stands for one block of the
// prompt, the last one partial, so a line with input_length L and n ids fits block size B when
// (n - 1) B < L <= n B. The published Mooncake traces use 512; the trace itself pins B down when its
// lines agree on one power of two. --trace-block-size overrides.
import type { TraceRequest } from "./types.js";

export const MOONCAKE_BLOCK_SIZE = 512;

export interface BlockSizeChoice {
  blockSize: number;
  /** "flag": --trace-block-size; "trace": every line fits it (512 when it fits, else the one power
   *  of two that does); "default": the lines disagree or do not decide, so the Mooncake default. */
  source: "flag" | "trace" | "default";
  /** Lines whose hash_ids count is not ceil(input_length / blockSize). */
  mismatched: number;
  /** Lines that carry hash_ids. */
  lines: number;
}

export function fitsBlockSize(r: TraceRequest, b: number): boolean {
  const n = r.hash_ids?.length ?? 0;
  return n > 0 && Math.ceil(r.input_tokens / b) === n;
}

/** [lo, hi] of the block sizes every line with hash_ids fits; lo > hi when they disagree. */
export function blockSizeRange(reqs: readonly TraceRequest[]): [number, number] {
  let lo = 1;
  let hi = Infinity;
  for (const r of reqs) {
    const n = r.hash_ids?.length ?? 0;
    if (n === 0) continue;
    lo = Math.max(lo, Math.ceil(r.input_tokens / n));
    if (n > 1) hi = Math.min(hi, Math.ceil(r.input_tokens / (n - 1)) - 1);
  }
  return [lo, hi];
}

/** null when no line has hash_ids. */
export function chooseBlockSize(reqs: readonly TraceRequest[], flag?: number): BlockSizeChoice | null {
  const withIds = reqs.filter((r) => (r.hash_ids?.length ?? 0) > 0);
  if (withIds.length === 0) return null;
  const result = (blockSize: number, source: BlockSizeChoice["source"]): BlockSizeChoice => ({
    blockSize,
    source,
    mismatched: withIds.filter((r) => !fitsBlockSize(r, blockSize)).length,
    lines: withIds.length,
  });
  if (flag !== undefined) return result(flag, "flag");
  const [lo, hi] = blockSizeRange(withIds);
  if (lo <= MOONCAKE_BLOCK_SIZE && MOONCAKE_BLOCK_SIZE <= hi) return result(MOONCAKE_BLOCK_SIZE, "trace");
  const powers: number[] = [];
  for (let p = 1; p <= Math.min(hi, 1 << 24); p *= 2) if (p >= lo) powers.push(p);
  if (powers.length === 1) return result(powers[0], "trace");
  return result(MOONCAKE_BLOCK_SIZE, "default");
}

/**
 * The prefix-sharing ratio a trace's hash_ids imply for prompts of the given lengths (the lengths
 * sent, after clamping): request i shares min(len_i, len_j, m x B) tokens with an earlier request j
 * whose first m hash ids equal its own (ids past a prompt's length do not count), and the ratio is
 * the sum of each request's best share over the sum of lengths. Prefix replay (load/prefix-prompts.ts)
 * makes the prompts' own sharing ratio (metrics/prefix-sharing.ts) equal to this. `block_ratio` is
 * the block-level view (the Mooncake paper's cache hit ratio): hash ids already seen as a leading run
 * of an earlier request, over all hash ids sent.
 */
export function hashIdSharing(
  reqs: readonly { hash_ids?: readonly number[] }[],
  lengths: readonly number[],
  blockSize: number,
): { ratio: number; shared_tokens: number; prompt_tokens: number; block_ratio: number } {
  interface Node {
    maxLen: number;
    next: Map<number, Node>;
  }
  const root: Node = { maxLen: 0, next: new Map() };
  let shared = 0;
  let total = 0;
  let sharedBlocks = 0;
  let blocks = 0;
  reqs.forEach((r, i) => {
    const len = lengths[i];
    const ids = (r.hash_ids ?? []).slice(0, Math.ceil(len / blockSize));
    total += len;
    let best = 0;
    let node = root;
    for (let m = 1; m <= ids.length; m++) {
      const child = node.next.get(ids[m - 1]);
      if (!child) break;
      best = Math.max(best, Math.min(len, child.maxLen, m * blockSize));
      sharedBlocks++;
      node = child;
    }
    shared += best;
    blocks += ids.length;
    node = root;
    for (const id of ids) {
      let child = node.next.get(id);
      if (!child) node.next.set(id, (child = { maxLen: 0, next: new Map() }));
      child.maxLen = Math.max(child.maxLen, len);
      node = child;
    }
  });
  return { ratio: total > 0 ? shared / total : 0, shared_tokens: shared, prompt_tokens: total, block_ratio: blocks > 0 ? sharedBlocks / blocks : 0 };
}
