// Small pure pieces: protocol event parsing, SSE parsing, tokenizer, schedules, prompts, writer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEventLine } from "../src/engine/events.js";
import { SseParser } from "../src/load/sse-parser.js";
import { decode, encode, encodeForModel, r50kTokenizer } from "../src/tokenizer/gpt2.js";
import { IncrementalDecoder } from "../src/tokenizer/incremental.js";
import { scaleSchedule, replay } from "../src/load/replay.js";
import { syntheticPrompt } from "../src/load/prompts.js";
import { textPrompt } from "../src/load/text-prompts.js";
import { BackendsSchema } from "../src/cli/bench-options.js";
import { writeResults, runDirName } from "../src/results/writer.js";
import { OfflineResultsSchema } from "../src/results/schema.js";
import { Progress } from "../src/progress/progress.js";
import { engineArgs, EngineOptionsSchema } from "../src/cli/engine-options.js";
import { rec } from "./helpers/records.js";

test("engine events: typed when valid, 'invalid' with a reason otherwise", () => {
  const tok = parseEventLine('{"ev":"tok","id":"r1","tokens":[5],"t_ns":12,"logprobs":[-0.5]}');
  assert.equal(tok.kind, "tok");
  const done = parseEventLine('{"ev":"done","id":"r1","finish":"length","prompt_tokens":3,"output_tokens":1,"t_ns":13}');
  assert.equal(done.kind, "done");
  assert.equal(parseEventLine('{"ev":"fatal","message":"no"}').kind, "fatal");
  const bad = parseEventLine('{"ev":"done","id":"r1","finish":"maybe"}');
  assert.equal(bad.kind, "invalid");
  assert.equal(parseEventLine("not json").kind, "invalid");
  assert.equal(parseEventLine('{"ev":"party"}').kind, "invalid");
  assert.equal(parseEventLine('{"ev":"tok","id":"r1","tokens":[1.5],"t_ns":1}').kind, "invalid");
  assert.equal(parseEventLine('{"ev":"tok","id":"r1","tokens":[1],"t_ns":"x"}').kind, "invalid");
  assert.equal(parseEventLine('{"ev":"tok","id":"r1","tokens":[1],"t_ns":1,"logprobs":["a"]}').kind, "invalid");
});

test("SSE parser: events split across reads, CRLF, multi-line data", () => {
  const p = new SseParser();
  assert.deepEqual(p.push('data: {"a"'), []);
  assert.deepEqual(p.push(":1}\n\ndata: [DONE]\r\n\r\n: comment\n\n"), ['{"a":1}', "[DONE]"]);
  assert.deepEqual(p.push("data: x\ndata: y\n\n"), ["x\ny"]);
});

test("tokenizer: r50k round trip, folding into a small vocab, streaming at UTF-8 boundaries", () => {
  const ids = encode("Hello world");
  assert.deepEqual(ids, [15496, 995]);
  assert.equal(decode(ids), "Hello world");
  assert.deepEqual(encodeForModel("Hello world", 1000), [496, 995]);
  const emoji = encode("a🙂b");
  const d = new IncrementalDecoder(r50kTokenizer(50257));
  const parts = emoji.map((t) => d.push([t]));
  assert.ok(parts.every((p) => !p.includes("\uFFFD")), JSON.stringify(parts));
  assert.equal(parts.join("") + d.flush(), "a🙂b");
});

test("scaled schedule: t' = (t - t0) x scale in ms", () => {
  assert.deepEqual(scaleSchedule([2, 2.5, 4], 0.5), [0, 250, 1000]);
  assert.deepEqual(scaleSchedule([], 1), []);
});

test("replay dispatches on schedule without waiting for earlier requests", async () => {
  // No request can finish until all three were sent: a replay that waited for earlier requests would
  // never send the third (caught by the timeout below). Event-ordered, so CPU load cannot flake it.
  const sends: number[] = [];
  const seenAtFinish: number[] = [];
  let release!: () => void;
  const allSent = new Promise<void>((r) => (release = r));
  const guard = setTimeout(() => release(), 10_000);
  const { records } = await replay(
    [0, 30, 60].map((ms, i) => ({ scheduled_ms: ms, item: i })),
    async (i, t0) => {
      const sent = Number(process.hrtime.bigint() - t0) / 1e6;
      sends.push(sent);
      if (sends.length === 3) release();
      await allSent;
      seenAtFinish.push(sends.length);
      return rec({ i, scheduled_ms: [0, 30, 60][i], sent_ms: sent, chunks: [{ t_ms: sent + 1, n: 1 }] });
    },
    { leadMs: 5 },
  );
  clearTimeout(guard);
  assert.deepEqual(seenAtFinish, [3, 3, 3], "all three sent before any finished");
  assert.deepEqual(records.map((r) => r.i), [0, 1, 2]);
  // Never early: a send happens at or after its scheduled time, in order.
  for (const r of records) assert.ok(r.sent_ms! >= r.scheduled_ms, `sent ${r.sent_ms} before its time ${r.scheduled_ms}`);
  assert.ok(sends[0] <= sends[1] && sends[1] <= sends[2]);
});

test("synthetic prompts: seeded per (seed, i), in vocab, EOS avoided; text prompts exact length", () => {
  const a = syntheticPrompt(0, 3, 50, 1000, 999);
  assert.deepEqual(a, syntheticPrompt(0, 3, 50, 1000, 999));
  assert.notDeepEqual(a, syntheticPrompt(1, 3, 50, 1000, 999));
  assert.ok(a.every((t) => t >= 0 && t < 999));
  for (const n of [1, 7, 64]) assert.equal(encode(textPrompt(0, n, n)).length, n);
});

test("--backends parsing: names, prefill/decode pairs, errors", () => {
  assert.deepEqual(BackendsSchema.parse("naive,fused/naive"), [
    { label: "naive", prefill: "naive", decode: "naive" },
    { label: "fused/naive", prefill: "fused", decode: "naive" },
  ]);
  assert.equal(BackendsSchema.safeParse("a,a").success, false);
  assert.equal(BackendsSchema.safeParse("a/").success, false);
  assert.equal(BackendsSchema.safeParse(",").success, false);
});

test("engine flags pass through only when set", () => {
  const o = EngineOptionsSchema.parse({ model: "synthetic:gpt2", device: "cuda", blockSize: "32", cudaGraph: false, stepDelayUs: "100" });
  assert.deepEqual(engineArgs(o, { prefill: "fused", decode: "naive" }), [
    "--model", "synthetic:gpt2", "--device", "cuda", "--prefill-attn-backend", "fused", "--decode-attn-backend", "naive",
    "--block-size", "32", "--no-cuda-graph", "--step-delay-us", "100",
  ]);
  const cached = EngineOptionsSchema.parse({ enablePrefixCaching: true });
  assert.deepEqual(engineArgs(cached), ["--model", "synthetic:tiny", "--device", "cpu", "--enable-prefix-caching"]);
});

test("results writer validates before writing and replaces atomically", () => {
  const dir = mkdtempSync(join(tmpdir(), "attnbench-w-"));
  const path = join(dir, runDirName("offline", new Date("2026-01-02T03:04:05.678Z")), "offline_results.json");
  assert.match(path, /offline_2026-01-02T03-04-05Z/);
  assert.throws(() => writeResults(path, OfflineResultsSchema, { schema: "nope" } as any), /do not match the schema/);
  const good = {
    schema: "attnbench.offline/1" as const,
    meta: { tool: "attnbench" as const, tool_version: "0", git_sha: null, command: "x", started_at: "t", ended_at: null, wall_s: null, host: "h", node_version: "v", device: { kind: "cpu", name: "c", dtype: "fp32" }, model: {}, engine_flags: [], fingerprint: {} },
    workload: { input_len: 1, output_len: 1, num_prompts: 1, seed: 0, repeats: 1 },
    runs: [],
    agreement: { reference: null, by_backend: {} },
  };
  writeResults(path, OfflineResultsSchema, good);
  writeResults(path, OfflineResultsSchema, { ...good, runs: [] });
  assert.equal(JSON.parse(readFileSync(path, "utf8")).schema, "attnbench.offline/1");
  assert.deepEqual(readdirSync(join(path, "..")), ["offline_results.json"], "no tmp files left behind");
});

test("progress: live line on a TTY, plain lines otherwise", () => {
  const tty: string[] = [];
  const p = new Progress({ write: (s: string) => tty.push(s) > 0, isTTY: true });
  p.update({ phase: "online naive x0.5", done: 1, total: 4 });
  p.log("done");
  assert.match(tty[0], /^\r\x1b\[2Konline naive x0\.5: 1\/4 requests, \d+\.\d s elapsed$/);
  assert.equal(tty[1], "\n");
  const plain: string[] = [];
  const q = new Progress({ write: (s: string) => plain.push(s) > 0, isTTY: false }, 60_000);
  q.update({ phase: "x", done: 1, total: 3 });
  q.update({ phase: "x", done: 2, total: 3 });
  q.update({ phase: "x", done: 3, total: 3 });
  assert.equal(plain.length, 2, "first line, then throttled, then the last");
  assert.ok(plain.every((l) => l.endsWith("\n") && !l.includes("\r")));
});
