// How much of a workload's prompt tokens an ideal prefix cache could reuse, computed from the token
// ids sent (not from the trace's hash ids, so it checks the replay itself):
//   shared_i = the longest common prefix of prompt i with any earlier prompt, in tokens;
//   sharing ratio = sum(shared_i) / sum(len_i).
// ideal hit tokens = the same in whole engine blocks, never the block of a prompt's last token
// (the engine always computes that one): min(floor(shared_i / B), floor((len_i - 1) / B)) x B. An
// engine with room for every block, serving the requests one after another, hits exactly that.
//
// Prompts are indexed by hashes of their prefixes at every CHUNK tokens, each hash listing the
// earlier prompts with that prefix; prompt i's longest chunk-aligned match is then extended token by
// token against those prompts (and checked token by token, so a hash collision cannot inflate it).

const CHUNK = 16;

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x5bd1e995);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Shared-prefix length of each prompt with the earlier ones, in tokens. */
export function sharedPrefixLengths(prompts: readonly (readonly number[])[]): number[] {
  const index = new Map<number, number[]>(); // prefix key -> earlier prompt indices
  const byFirst = new Map<number, number[]>(); // first token -> earlier prompt indices
  const common = (a: readonly number[], b: readonly number[], from: number): number => {
    let k = from;
    const end = Math.min(a.length, b.length);
    while (k < end && a[k] === b[k]) k++;
    return k;
  };
  const out: number[] = [];
  prompts.forEach((p, i) => {
    const keys: number[] = [];
    let h1 = 0x9747b28c;
    let h2 = 0x85ebca6b;
    for (let c = 0; (c + 1) * CHUNK <= p.length; c++) {
      for (let k = c * CHUNK; k < (c + 1) * CHUNK; k++) {
        h1 = mix(h1, p[k]);
        h2 = mix(h2, p[k] ^ 0x27d4eb2f);
      }
      keys.push(h1 * 2 ** 21 + (h2 >>> 11)); // 53 bits
    }
    // Longest chunk-aligned prefix seen before (a prefix's prefixes were all indexed with it).
    let chunks = 0;
    while (chunks < keys.length && index.has(keys[chunks])) chunks++;
    const candidates = chunks > 0 ? index.get(keys[chunks - 1])! : (byFirst.get(p[0]) ?? []);
    const aligned = chunks * CHUNK;
    let best = 0;
    let bestJ = -1;
    for (const j of candidates) {
      const n = common(p, prompts[j], aligned);
      if (n > best) [best, bestJ] = [n, j];
    }
    // The aligned part was matched by hash: check it on the winner. A collision (never seen, but
    // possible) falls back to comparing with every earlier prompt.
    if (aligned > 0 && (bestJ < 0 || common(p, prompts[bestJ], 0) < aligned)) {
      best = 0;
      for (let j = 0; j < i; j++) best = Math.max(best, common(p, prompts[j], 0));
    }
    out.push(best);
    keys.forEach((key) => {
      const list = index.get(key);
      if (list) list.push(i);
      else index.set(key, [i]);
    });
    if (p.length > 0) {
      const list = byFirst.get(p[0]);
      if (list) list.push(i);
      else byFirst.set(p[0], [i]);
    }
  });
  return out;
}

export interface PrefixSharing {
  /** sum(shared_i) / sum(len_i): the token-level sharing of the prompts sent. */
  sharing_ratio: number;
  /** The hit rate an unbounded engine cache with `block_size`-token blocks would reach. */
  ideal_hit_rate: number | null;
  block_size: number | null;
  prompt_tokens: number;
  shared_tokens: number;
}

export function idealHitTokens(shared: number, length: number, blockSize: number): number {
  return Math.min(Math.floor(shared / blockSize), Math.floor((length - 1) / blockSize)) * blockSize;
}

export function prefixSharing(prompts: readonly (readonly number[])[], engineBlockSize: number | null): PrefixSharing {
  const shared = sharedPrefixLengths(prompts);
  let total = 0;
  let sharedSum = 0;
  let ideal = 0;
  prompts.forEach((p, i) => {
    total += p.length;
    sharedSum += shared[i];
    if (engineBlockSize) ideal += idealHitTokens(shared[i], p.length, engineBlockSize);
  });
  return {
    sharing_ratio: total > 0 ? sharedSum / total : 0,
    ideal_hit_rate: engineBlockSize && total > 0 ? ideal / total : null,
    block_size: engineBlockSize,
    prompt_tokens: total,
    shared_tokens: sharedSum,
  };
}
