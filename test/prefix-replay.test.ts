// Faithful prefix replay of Mooncake / Qwen traces: hash_ids kept by the reader, the block size they
// stand for, prompts built block by block, and the sharing ratio measured from the prompts, which
// must equal the one the hash_ids imply.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseTrace, type LoadedTrace } from "../src/traces/load.js";
import { chooseBlockSize, hashIdSharing } from "../src/traces/hash-ids.js";
import { HashBlockPrompts } from "../src/load/prefix-prompts.js";
import { idealHitTokens, prefixSharing, sharedPrefixLengths } from "../src/metrics/prefix-sharing.js";
import { buildOnlineItems } from "../src/load/online-workload.js";

// The first lines of kvcache-ai/Mooncake FAST25-release/traces/conversation_trace.jsonl (format and
// numbers as published: timestamps in ms, 512 tokens per hash id, hash_ids trimmed for brevity where
// the count is what matters).
const MOONCAKE = [
  '{"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}',
  '{"timestamp": 0, "input_length": 2290, "output_length": 316, "hash_ids": [0, 42, 43, 44, 45]}',
  '{"timestamp": 3000, "input_length": 915, "output_length": 355, "hash_ids": [0, 462]}',
  '{"timestamp": 5999, "input_length": 1053, "output_length": 26, "hash_ids": [0, 773, 774]}',
].join("\n");

test("mooncake reader keeps hash_ids, validates them; block size 512 inferred from the published format", () => {
  const { requests } = parseTrace(MOONCAKE, "conv.jsonl");
  assert.deepEqual(requests[2], { t_s: 3, input_tokens: 915, output_tokens: 355, hash_ids: [0, 462] });
  assert.deepEqual(chooseBlockSize(requests), { blockSize: 512, source: "trace", mismatched: 0, lines: 4 });
  assert.throws(() => parseTrace('{"timestamp":0,"input_length":5,"output_length":1,"hash_ids":[1,-2]}', "b.jsonl"), /b\.jsonl:1: hash_ids\[1\] must be an integer >= 0, got -2/);
  assert.throws(() => parseTrace('{"timestamp":0,"input_length":5,"output_length":1,"hash_ids":[1.5]}', "b.jsonl"), /hash_ids\[0\] must be an integer/);
  assert.throws(() => parseTrace('{"timestamp":0,"input_length":5,"output_length":1,"hash_ids":"x"}', "b.jsonl"), /hash_ids must be an array/);
});

test("block size: a Qwen-style 16 inferred, --trace-block-size wins and counts lines that disagree, inconsistent lines fall back to 512", () => {
  const line = (L: number, n: number) => ({ t_s: 0, input_tokens: L, output_tokens: 1, hash_ids: Array.from({ length: n }, (_, k) => k) });
  const qwen = [line(17, 2), line(31, 2), line(100, 7), line(16, 1)];
  assert.deepEqual(chooseBlockSize(qwen), { blockSize: 16, source: "trace", mismatched: 0, lines: 4 });
  assert.deepEqual(chooseBlockSize(qwen, 32), { blockSize: 32, source: "flag", mismatched: 3, lines: 4 });
  assert.deepEqual(chooseBlockSize([line(10, 2), line(20, 1)]), { blockSize: 512, source: "default", mismatched: 1, lines: 2 });
  assert.equal(chooseBlockSize([{ t_s: 0, input_tokens: 5, output_tokens: 1 }]), null, "no hash_ids, no block size");
});

test("hash-block prompts: shared leading ids give identical prefixes, the last block is partial, ids in vocab, EOS avoided", () => {
  const p = new HashBlockPrompts(0, 8, 100, 99);
  const a = p.prompt(0, [1, 2, 3], 20);
  const b = p.prompt(1, [1, 2, 4], 24);
  const c = p.prompt(2, [1, 2, 3], 18);
  assert.equal(a.length, 20);
  assert.deepEqual(a.slice(0, 16), b.slice(0, 16), "two shared blocks");
  assert.notEqual(a[16], b[16], "different third ids start with different tokens");
  assert.deepEqual(c, a.slice(0, 18), "same ids, shorter input: a prefix (partial last block)");
  assert.deepEqual(new HashBlockPrompts(0, 8, 100, 99).prompt(0, [1, 2, 3], 20), a, "deterministic");
  assert.notDeepEqual(new HashBlockPrompts(1, 8, 100, 99).prompt(0, [1, 2, 3], 20), a, "seeded");
  const long = p.prompt(3, [5], 30); // ids cover 8 tokens: the rest is request-private
  assert.deepEqual(long.slice(0, 8), Array.from(p.block(5)));
  for (const t of [...a, ...b, ...long]) assert.ok(Number.isInteger(t) && t >= 0 && t < 100 && t !== 99);
});

test("shared prefix lengths: the longest common prefix with any earlier prompt, as brute force says", () => {
  const brute = (ps: number[][]) =>
    ps.map((p, i) => {
      let best = 0;
      for (let j = 0; j < i; j++) {
        let k = 0;
        while (k < p.length && k < ps[j].length && p[k] === ps[j][k]) k++;
        best = Math.max(best, k);
      }
      return best;
    });
  // Prompts from a few shared stems of various lengths (around the 16-token chunk) and a tiny
  // alphabet, so that long common prefixes and near misses are common.
  const prompts = fc.array(
    fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 50 }), fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 40 })),
    { minLength: 1, maxLength: 25 },
  );
  fc.assert(
    fc.property(prompts, (spec) => {
      const stems = [Array.from({ length: 50 }, (_, k) => k % 3), Array.from({ length: 50 }, (_, k) => (k * 7) % 3), Array(50).fill(1), Array(50).fill(0)];
      const ps = spec.map(([s, n, tail]) => [...stems[s].slice(0, n), ...tail]).filter((p) => p.length > 0);
      assert.deepEqual(sharedPrefixLengths(ps), brute(ps));
    }),
    { numRuns: 300, seed: 5 },
  );
});

test("sharing ratio from the prompts equals the one from the hash_ids (random Mooncake-like traces)", () => {
  const trace = fc.array(
    fc.tuple(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 40 })),
    { minLength: 1, maxLength: 30 },
  );
  fc.assert(
    fc.property(trace, fc.integer({ min: 1, max: 12 }), (lines, B) => {
      // Chained hash ids as the traces have them: an id stands for its whole prefix.
      const ids = new Map<string, number>();
      const reqs = lines.map(([path]) => ({ hash_ids: path.map((_, k) => {
        const key = path.slice(0, k + 1).join(",");
        if (!ids.has(key)) ids.set(key, ids.size);
        return ids.get(key)!;
      }) }));
      // Each line's ids cover its length, the last block partial: (n - 1) B < L <= n B.
      const lengths = lines.map(([path, extra]) => Math.min(extra + (path.length - 1) * B, path.length * B));
      const p = new HashBlockPrompts(3, B, 5000, 4999);
      const prompts = reqs.map((r, i) => p.prompt(i, r.hash_ids, lengths[i]));
      const fromPrompts = prefixSharing(prompts, null);
      const fromIds = hashIdSharing(reqs, lengths, B);
      assert.equal(fromPrompts.shared_tokens, fromIds.shared_tokens);
      assert.equal(fromPrompts.sharing_ratio, fromIds.ratio);
    }),
    { numRuns: 300, seed: 9 },
  );
});

test("ideal hit tokens: whole engine blocks, never the block of the last token", () => {
  assert.equal(idealHitTokens(70, 70, 16), 64);
  assert.equal(idealHitTokens(64, 64, 16), 48, "a whole-block prompt recomputes its last block");
  assert.equal(idealHitTokens(90, 90, 16), 80);
  assert.equal(idealHitTokens(15, 100, 16), 0);
});

test("online workload: a Mooncake trace becomes prefix-sharing prompts; the known sharing and ideal hit rate", () => {
  // Block 32 (the lengths imply it), engine blocks of 16. shared = 0, 64, 32, 0, 70, 64, 90 of 504 tokens.
  const text = [
    [0, 80, [0, 1, 2]], [100, 90, [0, 1, 3]], [200, 40, [0, 4]], [300, 64, [5, 6]], [400, 70, [0, 1, 2]], [500, 70, [5, 6, 7]], [600, 90, [0, 1, 3]],
  ].map(([t, L, h]) => JSON.stringify({ timestamp: t, input_length: L, output_length: 4, hash_ids: h })).join("\n");
  const parsed = parseTrace(text, "known.jsonl");
  const trace: LoadedTrace = { path: "known.jsonl", format: parsed.format, sha256: "x", requests: parsed.requests, hashBlocks: chooseBlockSize(parsed.requests) };
  const w = buildOnlineItems(trace, { nCtx: 256, vocab: 1024, eos: 1023, blockSize: 16 }, { numPrompts: 100, seed: 0, promptFormat: "ids" });
  assert.equal(w.items.length, 7);
  assert.deepEqual(w.prefix, {
    replay: true,
    trace_block_size: 32,
    block_size_source: "trace",
    mismatched_lines: 0,
    sharing_ratio: 320 / 504,
    trace_sharing_ratio: 320 / 504,
    trace_block_sharing_ratio: 11 / 19,
    ideal_hit_rate: 304 / 504,
    engine_block_size: 16,
    prompt_tokens: 504,
    shared_tokens: 320,
  });
  const off = buildOnlineItems(trace, { nCtx: 256, vocab: 1024, eos: 1023, blockSize: 16 }, { numPrompts: 100, seed: 0, promptFormat: "ids", prefixReplay: false });
  assert.equal(off.prefix!.replay, false);
  assert.ok(off.prefix!.sharing_ratio < 0.01, "unrelated random prompts share (almost) nothing");
  assert.match(off.prefixNote!, /--no-prefix-replay/);
});
