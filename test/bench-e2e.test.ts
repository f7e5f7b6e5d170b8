// End to end on this machine: the CPU engine with synthetic:tiny, bench online over the real Azure
// conv trace and bench offline; every request accounted for, results schema-valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { OfflineResultsSchema, OnlineResultsSchema } from "../src/results/schema.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { REAL_ENGINE, realEngineMissing, TRACES } from "./helpers/paths.js";

const CONV = join(TRACES, "AzureLLMInferenceTrace_conv.csv");
const skipOnline = realEngineMissing();

test("bench online: real CPU engine, Azure conv (25 requests, 2 scales), unavailable backend recorded", { skip: skipOnline, timeout: 90_000 }, async () => {
  const out = tmpOut();
  // An experiment switch in the environment (harmless on the CPU path): the results must name it.
  const r = await cli(["bench", "online", "--engine", REAL_ENGINE, "--trace", CONV, "--num-prompts", "25", "--scales", "0.1,0.2", "--max-output-len", "8", "--ignore-eos", "--backends", "naive,flashinfer", "--out", out, "--no-plot"], { ATTNBENCH_VOCAB_PAD: "64" });
  assert.equal(r.exitCode, 0, r.stderr);
  const res = readResults(out, "online");
  OnlineResultsSchema.parse(res);
  assert.deepEqual(res.meta.engine_env, { ATTNBENCH_VOCAB_PAD: "64" }, "the engine's set switches, through serve's health answer");
  assert.equal(res.meta.fingerprint.engine_env, "ATTNBENCH_VOCAB_PAD=64");
  assert.equal(res.trace.format, "azure");
  assert.equal(res.trace.requests_used, 25);
  assert.equal(res.trace.sha256, "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8");
  assert.ok(res.trace.clamped > 0, "Azure prompts exceed the tiny model's context");
  assert.equal(res.meta.device.kind, "cpu");
  assert.equal(res.meta.model.name, "synthetic:tiny");
  assert.deepEqual(res.runs.map((x: any) => [x.backend.label, x.scale, x.status]), [
    ["naive", 0.1, "ok"],
    ["naive", 0.2, "ok"],
    ["flashinfer", 0.1, "unavailable"],
    ["flashinfer", 0.2, "unavailable"],
  ]);
  assert.match(res.runs[2].reason, /flashinfer/);
  for (const run of res.runs.slice(0, 2)) {
    assert.equal(run.records.length, 25);
    assert.equal(run.summary.completed, 25, JSON.stringify(run.summary.failures));
    for (const rec of run.records) {
      assert.ok(rec.ok);
      assert.equal(rec.output_tokens, rec.max_tokens, "ignore_eos gives exactly max_tokens");
      assert.ok(rec.max_tokens <= 8 && rec.prompt_tokens + rec.max_tokens <= res.meta.model.n_ctx);
      assert.equal(rec.chunks.reduce((a: number, c: any) => a + c.n, 0), rec.output_tokens);
      assert.ok(rec.engine && rec.engine.first_tok_ms !== null, "engine-side times recorded");
    }
    assert.ok(run.summary.ttft_ms.p50 > 0 && run.summary.e2e_ms.p99 >= run.summary.e2e_ms.p50);
  }
  // The two scales replay the same prompts on a schedule twice as long.
  const [a, b] = [res.runs[0].records, res.runs[1].records];
  assert.ok(Math.abs(b[24].scheduled_ms - 2 * a[24].scheduled_ms) < 1e-6);
});

test("bench offline: real CPU engine, small sizes, agreement across backends", { skip: realEngineMissing(), timeout: 90_000 }, async () => {
  const out = tmpOut();
  const r = await cli(["bench", "offline", "--engine", REAL_ENGINE, "--input-len", "24", "--output-len", "8", "--num-prompts", "8", "--repeats", "2", "--backends", "naive,fused,flashinfer", "--out", out, "--no-plot"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const res = readResults(out, "offline");
  OfflineResultsSchema.parse(res);
  if (!Object.keys(process.env).some((k) => k.startsWith("ATTNBENCH_") && k !== "ATTNBENCH_MAX_LATENESS_MS")) {
    assert.deepEqual(res.meta.engine_env, {}, "no switch set: none named");
    assert.equal(res.meta.fingerprint.engine_env, undefined, "and the fingerprint as before");
  }
  const [naive, fused, fi] = res.runs;
  assert.equal(naive.status, "ok");
  assert.equal(fused.status, "ok");
  assert.equal(fi.status, "unavailable");
  for (const run of [naive, fused]) {
    assert.equal(run.repeats.length, 2);
    assert.ok(run.repeats.every((x: any) => x.valid), JSON.stringify(run.invalid));
    assert.equal(run.records.length, 16, "8 prompts x 2 repeats");
    assert.ok(run.records.every((x: any) => x.ok && x.output_tokens === 8));
    assert.ok(run.output_tok_s > 0 && run.wall_s > 0);
    assert.match(run.outputs_sha256, /^[0-9a-f]{64}$/);
  }
  assert.equal(res.agreement.reference, "naive");
  assert.equal(res.agreement.by_backend.naive, 1);
  assert.ok(res.agreement.by_backend.fused >= 0 && res.agreement.by_backend.fused <= 1);
  const d = res.agreement.detail.fused;
  assert.ok(Math.abs(d.exact + d.near_tie + d.diverged - 1) < 1e-9);
  assert.equal(d.exact, res.agreement.by_backend.fused, "the scored pass makes the same greedy decisions as the timed repeats");
  assert.ok(d.max_logprob_diff < 1e-3, "fp32 CPU backends agree on logprobs");
  assert.match(r.stderr, /greedy agreement fused vs naive/);
});
