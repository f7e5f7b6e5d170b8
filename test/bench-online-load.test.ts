// bench online end to end on the CPU engine (synthetic:tiny): --scales auto measures a capacity and
// offers loads below and above it; a Mooncake-format trace with known shared prefixes, replayed with
// --enable-prefix-caching one request at a time, gives exactly the expected sharing and hit rates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OnlineResultsSchema } from "../src/results/schema.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { mergeOnline } from "../scripts/merge-online.js";
import { REAL_ENGINE, realEngineMissing, TRACES } from "./helpers/paths.js";

const CONV = join(TRACES, "AzureLLMInferenceTrace_conv.csv");

test("--scales auto:3 on the tiny model: a capacity, then 3 scales offering 10 %, 60 %, 110 % of it", { skip: realEngineMissing(), timeout: 180_000 }, async () => {
  const out = tmpOut();
  const r = await cli(
    ["bench", "online", "--engine", REAL_ENGINE, "--trace", CONV, "--num-prompts", "24", "--scales", "auto:3", "--max-input-len", "64", "--max-output-len", "4", "--ignore-eos", "--backends", "fused", "--load-workers", "1", "--out", out],
    {},
    170_000,
  );
  assert.equal(r.exitCode, 0, r.stderr);
  const res = OnlineResultsSchema.parse(readResults(out, "online"));
  assert.equal(res.scale_mode, "auto");
  assert.ok(res.trace.rate_req_s! > 0);
  const cap = res.capacity![0];
  assert.equal(cap.status, "ok", cap.reason ?? "");
  assert.equal(cap.completed, 24);
  assert.ok(cap.req_s! > 0 && cap.output_tok_s! > 0);
  assert.equal(res.runs.length, 3);
  const offered = res.runs.map((x) => x.offered_req_s!);
  assert.ok(offered[0] < cap.req_s! && offered[2] > cap.req_s!, `offered ${offered} around capacity ${cap.req_s}`);
  res.runs.forEach((run, k) => {
    assert.equal(run.status, "ok", run.reason ?? "");
    assert.ok(Math.abs(run.load_fraction! - [0.1, 0.6, 1.1][k]) < 1e-9);
    assert.ok(Math.abs(offered[k] - res.trace.rate_req_s! / run.scale) < 1e-6);
    assert.ok(Math.abs(offered[k] / cap.req_s! - run.load_fraction!) < 0.002, "scales rounded to 4 digits");
    assert.equal(run.summary!.completed, 24);
    assert.equal(run.summary!.load_generator!.workers, 1, "responses streamed by a worker thread");
  });
  assert.deepEqual(cap.scales, res.runs.map((x) => x.scale));
  assert.match(r.stderr, /fused: capacity [0-9.]+ req\/s/);
  // The figures draw against the offered load, with the capacity.
  const figures = join(out, "figures");
  assert.ok(existsSync(figures), r.stderr);
});

const KNOWN = [
  // block size 32 (what the lengths imply); engine blocks of 16. Shared with an earlier prompt:
  [0, 80, [0, 1, 2]], // 0
  [100, 90, [0, 1, 3]], // 64
  [200, 40, [0, 4]], // 32
  [300, 64, [5, 6]], // 0
  [400, 70, [0, 1, 2]], // 70 (all of it)
  [500, 70, [5, 6, 7]], // 64
  [600, 90, [0, 1, 3]], // 90 (all of it)
] as const;

test("Mooncake trace with known shared prefixes, prefix caching on: sharing ratio and hit rate as computed by hand", { skip: realEngineMissing(), timeout: 120_000 }, async () => {
  const dir = tmpOut();
  const trace = join(dir, "known.jsonl");
  writeFileSync(trace, KNOWN.map(([t, L, h]) => JSON.stringify({ timestamp: t, input_length: L, output_length: 4, hash_ids: h })).join("\n") + "\n");
  const run = async (extra: string[]) => {
    const out = tmpOut();
    const r = await cli(["bench", "online", "--engine", REAL_ENGINE, "--trace", trace, "--scales", "0.5", "--ignore-eos", "--max-concurrency", "1", "--no-plot", "--out", out, ...extra]);
    assert.equal(r.exitCode, 0, r.stderr);
    return OnlineResultsSchema.parse(readResults(out, "online"));
  };
  const on = await run(["--enable-prefix-caching"]);
  // 320 of 504 prompt tokens shared; in whole 16-token blocks, never a prompt's last one: 304.
  assert.deepEqual(
    { ...on.prefix, sharing_ratio: on.prefix!.sharing_ratio * 504, trace_sharing_ratio: on.prefix!.trace_sharing_ratio! * 504, ideal_hit_rate: on.prefix!.ideal_hit_rate! * 504 },
    { replay: true, trace_block_size: 32, block_size_source: "trace", mismatched_lines: 0, sharing_ratio: 320, trace_sharing_ratio: 320, trace_block_sharing_ratio: 11 / 19, ideal_hit_rate: 304, engine_block_size: 16, prompt_tokens: 504, shared_tokens: 320 },
  );
  const s = on.runs[0].summary!;
  assert.equal(s.completed, 7);
  assert.deepEqual(on.runs[0].records.map((r) => r.cached_tokens), [0, 64, 32, 0, 64, 64, 80]);
  assert.equal(s.prefix_cache!.cached_tokens, 304);
  assert.equal(s.prefix_cache!.hit_rate, 304 / 504, "measured hit rate = the ideal one (one request at a time, cache large enough)");
  assert.deepEqual(s.prefix_cache!.engine, { hit_tokens: 304, miss_tokens: 200, evicted_blocks: 0, hit_rate: 304 / 504 });
  assert.ok(on.meta.engine_flags.includes("--enable-prefix-caching"));
  // Off: the same prompts (same sharing), nothing reported as cached.
  const off = await run([]);
  assert.equal(off.prefix!.sharing_ratio, on.prefix!.sharing_ratio);
  assert.equal(off.runs[0].summary!.prefix_cache, undefined);
  assert.deepEqual(off.runs[0].records.map((r) => r.cached_tokens), Array(7).fill(null));
  // Greedy outputs do not depend on the cache.
  assert.equal(on.runs[0].summary!.output_throughput > 0, true);
});

test("a capacity-aware sweep split over two calls (--auto-points, --capacity-from) merges into the one sweep", { skip: realEngineMissing(), timeout: 240_000 }, async () => {
  const base = ["bench", "online", "--engine", REAL_ENGINE, "--trace", CONV, "--num-prompts", "16", "--scales", "auto:3", "--max-input-len", "64",
    "--max-output-len", "4", "--ignore-eos", "--backends", "fused", "--load-workers", "0", "--no-plot"];
  const outA = tmpOut();
  const a = await cli([...base, "--auto-points", "1", "--out", outA], {}, 110_000);
  assert.equal(a.exitCode, 0, a.stderr);
  const resA = OnlineResultsSchema.parse(readResults(outA, "online"));
  assert.deepEqual(resA.runs.map((r) => r.load_fraction), [0.1]);
  const fileA = join(outA, readdirSync(outA).find((d) => d.startsWith("online_"))!, "online_results.json");
  const outB = tmpOut();
  const b = await cli([...base, "--auto-points", "2,3", "--capacity-from", fileA, "--out", outB], {}, 110_000);
  assert.equal(b.exitCode, 0, b.stderr);
  const resB = OnlineResultsSchema.parse(readResults(outB, "online"));
  assert.equal(resB.capacity![0].req_s, resA.capacity![0].req_s, "the capacity is read, not measured again");
  assert.equal(resB.capacity![0].from_file, fileA);
  assert.deepEqual(resB.runs.map((r) => r.load_fraction), [0.6, 1.1]);
  const merged = mergeOnline([{ file: "a", results: resA }, { file: "b", results: resB }]);
  assert.deepEqual(merged.runs.map((r) => r.load_fraction), [0.1, 0.6, 1.1]);
  assert.deepEqual(merged.capacity!.map((c) => c.fractions), [[0.1, 0.6, 1.1]]);
  // A file of another request count is refused before anything runs.
  const c = await cli([...base.map((x) => (x === "16" ? "12" : x)), "--auto-points", "2", "--capacity-from", fileA, "--out", tmpOut()]);
  assert.equal(c.exitCode, 2);
  assert.match(c.stderr, /--capacity-from .*online_results.json: measured with --num-prompts 16, this run has 12/);
});

test("bench online flags: auto:N bounds, --capacity-requests needs auto, --trace-block-size needs a trace file", async () => {
  const r = await cli(["bench", "online", "--scales", "auto:1", "--capacity-requests", "5", "--trace", "synthetic:poisson", "--trace-block-size", "16"]);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /--scales: auto:1: the number of scales must be 2\.\.20/);
  assert.match(r.stderr, /--trace-block-size: only applies to traces with hash_ids/);
  const r2 = await cli(["bench", "online", "--scales", "0.5", "--capacity-requests", "5", "--trace", "synthetic:poisson"]);
  assert.equal(r2.exitCode, 2);
  assert.match(r2.stderr, /--capacity-requests: only applies to --scales auto/);
  const r4 = await cli(["bench", "online", "--scales", "0.5", "--auto-points", "1", "--capacity-from", "x.json", "--trace", "synthetic:poisson"]);
  assert.equal(r4.exitCode, 2);
  assert.match(r4.stderr, /--auto-points: only applies to --scales auto/);
  assert.match(r4.stderr, /--capacity-from: only applies to --scales auto/);
  const r5 = await cli(["bench", "online", "--scales", "auto:3", "--auto-points", "2,4", "--trace", "synthetic:poisson"]);
  assert.equal(r5.exitCode, 2);
  assert.match(r5.stderr, /--auto-points: point\(s\) 4 past auto:3/);
  const r3 = await cli(["bench", "online", "--scales", "auto", "--trace", "synthetic:poisson", "--request-rate", "inf", "--engine", "/nonexistent"]);
  assert.equal(r3.exitCode, 2);
  assert.match(r3.stderr, /arrive at one instant/);
});
