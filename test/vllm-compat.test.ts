// The vllm bench serve-compatible results: every metric against numpy (fixture computed by
// test/fixtures/vllm/expected.py the way vllm/benchmarks/serve.py does), the file written beside
// online_results.json by a real bench run, and empty samples as null rather than 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { RequestRecordSchema } from "../src/results/schema.js";
import { vllmServeResult, vllmDate } from "../src/report/vllm-compat.js";
import { cli, tmpOut } from "./helpers/cli.js";
import { FAKE_ENGINE, REPO_ROOT } from "./helpers/paths.js";

const FIX = join(REPO_ROOT, "test", "fixtures", "vllm");
const records = RequestRecordSchema.array().parse(JSON.parse(readFileSync(join(FIX, "records.json"), "utf8")));
const expected = JSON.parse(readFileSync(join(FIX, "expected.json"), "utf8")) as Record<string, number>;
const ctx = { date: new Date(2026, 0, 2, 3, 4, 5), endpointType: "openai" as const, label: "fused", modelId: "m", tokenizerId: null, requestRate: 2 as const, burstiness: null, slo: { ttft_ms: 100, tpot_ms: 30 }, extra: {} };

test("vllm bench serve keys and values agree with numpy on the same records", () => {
  const got = vllmServeResult(records, ctx);
  for (const [k, v] of Object.entries(expected)) {
    assert.ok(k in got, `missing key ${k}`);
    assert.ok(Math.abs((got[k] as number) - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${k}: ${got[k]} vs numpy ${v}`);
  }
  assert.equal(got.date, "20260102-030405");
  assert.equal(got.endpoint_type, "openai");
  assert.equal(got.request_rate, 2);
  assert.equal(got.max_concurrency, null);
});

test("an empty sample is null, not 0 (vLLM writes 0.0, which reads like a fast run)", () => {
  const failedOnly = records.filter((r) => !r.ok);
  const got = vllmServeResult(failedOnly, { ...ctx, slo: null });
  assert.equal(got.completed, 0);
  assert.equal(got.failed, 1);
  for (const k of ["mean_ttft_ms", "median_tpot_ms", "p99_itl_ms", "std_e2el_ms"]) assert.equal(got[k], null, k);
  assert.equal(got.request_goodput, null, "no --slo: null, as vLLM");
  // One-token outputs only: TTFT exists, TPOT does not.
  const one = vllmServeResult(records.filter((r) => r.output_tokens === 1), ctx);
  assert.ok((one.mean_ttft_ms as number) > 0);
  assert.equal(one.mean_tpot_ms, null);
  assert.equal(vllmDate(new Date(2026, 10, 25, 23, 59, 1)), "20261125-235901");
});

test("bench online writes vllm_bench_serve.jsonl beside online_results.json, one line per run", { timeout: 60_000 }, async () => {
  const out = tmpOut();
  const r = await cli(["bench", "online", "--engine", FAKE_ENGINE, "--trace", "synthetic:gamma", "--burstiness", "0.5", "--request-rate", "40", "--num-prompts", "8", "--input-len", "8", "--output-len", "4", "--ignore-eos", "--scales", "1,2", "--backends", "naive,flashinfer", "--slo", "ttft_ms=5000", "--out", out, "--no-plot"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const dir = join(out, readdirSync(out).find((d) => d.startsWith("online_"))!);
  const ours = JSON.parse(readFileSync(join(dir, "online_results.json"), "utf8"));
  const lines = readFileSync(join(dir, "vllm_bench_serve.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, "the unavailable backend has no records and no line");
  for (const [k, line] of lines.entries()) {
    const run = ours.runs[k];
    assert.equal(line.label, "naive");
    assert.equal(line.attnbench_scale, run.scale);
    assert.equal(line.model_id, "synthetic:tiny");
    assert.equal(line.burstiness, 0.5);
    assert.equal(line.completed, 8);
    assert.equal(line.total_output_tokens, 32);
    assert.equal(line.request_goodput > 0, true);
    // Same records, same definitions where they coincide: TTFT percentiles equal ours.
    assert.ok(Math.abs(line.p90_ttft_ms - run.summary.ttft_ms.p90) < 1e-9);
    assert.ok(Math.abs(line.median_tpot_ms - run.summary.tpot_ms.p50) < 1e-9);
    assert.ok(Math.abs(line.request_rate - run.summary.offered_rate) < 1e-9);
  }
});
