// Honest exit codes: a bench with no valid result exits 1 (results still written), bad input exits 2,
// and a metric with no samples is printed as "no successful requests" with the reason, never 0.0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OfflineResultsSchema, OnlineResultsSchema, type OnlineRun } from "../src/results/schema.js";
import { summarizeOnline } from "../src/metrics/online.js";
import { onlineRunLine, onlineVerdict } from "../src/report/run-verdict.js";
import { startTestServer } from "./helpers/server.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { FAKE_ENGINE } from "./helpers/paths.js";
import { rec } from "./helpers/records.js";

const SMALL = ["--trace", "synthetic:poisson", "--request-rate", "100", "--num-prompts", "5", "--input-len", "8", "--output-len", "4", "--scales", "1", "--no-plot"];

test("bench online against a server that rejects every request: exit 1, 'no successful requests' with the reason, no 0.0", { timeout: 60_000 }, async () => {
  const s = await startTestServer();
  try {
    const out = tmpOut();
    // Every request names a model the server does not have: 404 each.
    const r = await cli(["bench", "online", "--endpoint", s.url, "--served-model-name", "nope", "--vocab-size", "1000", ...SMALL, "--out", out]);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /endpoint x1( \([^)]*offered\))?: 0\/5 ok, no successful requests \(5x HTTP 404: The model "nope" does not exist/);
    assert.doesNotMatch(r.stderr, /TTFT p50 0\.0|0\.0 ms/);
    assert.match(r.stderr, /result: NOT VALID \(exit 1\)/);
    const res = OnlineResultsSchema.parse(readResults(out, "online"));
    assert.equal(res.runs[0].summary!.completed, 0, "the results file is still written");
  } finally {
    await s.close();
  }
});

test("bench offline and online with no engine: every backend failed -> exit 1, results written", { timeout: 60_000 }, async () => {
  const off = tmpOut();
  const a = await cli(["bench", "offline", "--engine", "/nonexistent/engine", "--input-len", "8", "--output-len", "4", "--num-prompts", "2", "--no-plot", "--out", off]);
  assert.equal(a.exitCode, 1, a.stderr);
  assert.match(a.stderr, /  - naive: failed: engine binary not found at \/nonexistent\/engine/);
  assert.equal(OfflineResultsSchema.parse(readResults(off, "offline")).runs[0].status, "failed");
  const on = tmpOut();
  const b = await cli(["bench", "online", "--engine", "/nonexistent/engine", ...SMALL, "--out", on]);
  assert.equal(b.exitCode, 1, b.stderr);
  assert.match(b.stderr, /  - naive x1: failed: /);
  assert.equal(OnlineResultsSchema.parse(readResults(on, "online")).runs[0].status, "failed");
});

test("only unavailable backends: exit 1; unavailable next to a valid run: exit 0 with a note", { timeout: 60_000 }, async () => {
  const only = await cli(["bench", "offline", "--engine", FAKE_ENGINE, "--backends", "flashinfer", "--input-len", "8", "--output-len", "4", "--num-prompts", "2", "--repeats", "1", "--no-plot", "--out", tmpOut()]);
  assert.equal(only.exitCode, 1, only.stderr);
  assert.match(only.stderr, /every backend unavailable/);
  const mixed = await cli(["bench", "offline", "--engine", FAKE_ENGINE, "--backends", "naive,flashinfer", "--input-len", "8", "--output-len", "4", "--num-prompts", "2", "--repeats", "1", "--no-plot", "--out", tmpOut()]);
  assert.equal(mixed.exitCode, 0, mixed.stderr);
  assert.match(mixed.stderr, /result: 1 valid run\(s\); not run here: flashinfer: unavailable/);
});

test("bad input exits 2 before anything runs (offline prompt + output beyond the context)", { timeout: 30_000 }, async () => {
  const r = await cli(["bench", "offline", "--engine", FAKE_ENGINE, "--input-len", "120", "--output-len", "64", "--num-prompts", "2", "--no-plot", "--out", tmpOut()]);
  assert.equal(r.exitCode, 2, r.stderr);
  assert.match(r.stderr, /--input-len: 120 \+ --output-len 64 exceed the model's context of 128/);
});

const run = (records: ReturnType<typeof rec>[], over: Partial<OnlineRun> = {}): OnlineRun => ({
  backend: { label: "fused", prefill: "fused", decode: "fused" },
  scale: 1,
  status: "ok",
  reason: null,
  summary: summarizeOnline(records),
  records,
  ...over,
});

test("a metric without samples reads as the reason, never as a number", () => {
  // Every request stopped after one token: TTFT and E2E exist, TPOT has no sample.
  const one = run([rec({ i: 0, chunks: [{ t_ms: 5, n: 1 }] }), rec({ i: 1, chunks: [{ t_ms: 7, n: 1 }] })]);
  const line = onlineRunLine(one);
  assert.match(line, /2\/2 ok, TTFT p50 6\.0 ms, TPOT p50 n\/a \(no request produced 2\+ tokens\), E2E p50 6\.0 ms/);
  const failed = run([rec({ i: 0, ok: false, error: "HTTP 500: boom", chunks: [] })]);
  assert.match(onlineRunLine(failed), /0\/1 ok, no successful requests \(1x HTTP 500: boom\)/);
  assert.doesNotMatch(onlineRunLine(failed), /TTFT|TPOT|E2E|req\/s/);
});

test("the verdict: failed or invalid runs exit 1, a valid run 0", () => {
  const good = run([rec({ i: 0, chunks: [{ t_ms: 5, n: 1 }, { t_ms: 9, n: 1 }] })]);
  const results = (runs: OnlineRun[]) => ({ runs }) as unknown as Parameters<typeof onlineVerdict>[0];
  assert.equal(onlineVerdict(results([good])).exitCode, 0);
  const late = run(good.records, { summary: { ...good.summary!, invalid: ["dispatch lateness p99 80.0 ms > 50 ms"] } });
  const v = onlineVerdict(results([good, late]));
  assert.equal(v.exitCode, 1);
  assert.deepEqual(v.problems, ["fused x1: INVALID: dispatch lateness p99 80.0 ms > 50 ms"]);
  assert.equal(onlineVerdict(results([good, run([], { status: "failed", reason: "serve exited", summary: null })])).exitCode, 1);
  assert.equal(onlineVerdict(results([run([], { status: "unavailable", reason: "not built", summary: null })])).exitCode, 1);
});
