// The gate on synthetic results with seeded noise: noise passes, a planted slowdown fails,
// mismatched environments and broken files are refused with exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runGate } from "../src/gate/index.js";
import { synthOffline, synthOnline, type SynthOptions } from "./fixtures/results/synth.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "attnbench-gate-"));
let counter = 0;
function file(data: unknown): string {
  const path = join(dir, `r${counter++}.json`);
  writeFileSync(path, typeof data === "string" ? data : JSON.stringify(data));
  return path;
}
const online = (o: SynthOptions) => file(synthOnline(o));
const offline = (o: SynthOptions) => file(synthOffline(o));

test("online: two runs of the same distribution pass (several seed pairs)", async () => {
  for (const seed of [1, 3, 5]) {
    const r = await runGate({ baseline: online({ seed }), candidate: online({ seed: seed + 100 }) });
    const bad = r.outcome?.comparisons.filter((c) => c.verdict === "regression").map((c) => `${c.backend}@${c.scale} ${c.metric} ${c.interval?.lo}`);
    assert.equal(r.exitCode, 0, `seed ${seed}: ${bad?.join("; ")}`);
  }
});

test("online: a planted 30% slowdown of one backend fails, and only that backend regresses", async () => {
  const r = await runGate({ baseline: online({ seed: 7 }), candidate: online({ seed: 8, slowdown: { fused: 1.3 } }) });
  assert.equal(r.exitCode, 1);
  const regressed = r.outcome!.comparisons.filter((c) => c.verdict === "regression");
  assert.ok(regressed.length >= 10, `expected many regressions, got ${regressed.length}`);
  assert.deepEqual([...new Set(regressed.map((c) => c.backend))], ["fused"]);
  // TPOT and ITL have tight intervals: the slowdown must be caught at every scale.
  for (const scale of [0.4, 0.5, 0.6, 0.8, 1.6]) {
    assert.ok(regressed.some((c) => c.scale === scale && c.metric === "tpot_p50"), `tpot_p50 at ${scale}`);
  }
  assert.match(r.text, /## FAIL: \d+ regressions/);
  assert.match(r.text, /\*\*REGRESSION\*\*/);
});

test("online: a 5% slowdown stays within the 10% tolerance", async () => {
  const r = await runGate({ baseline: online({ seed: 9 }), candidate: online({ seed: 10, slowdown: { fused: 1.05 } }) });
  assert.equal(r.exitCode, 0);
});

test("offline: noise passes, a 30% throughput drop fails on req_s and output_tok_s", async () => {
  const pass = await runGate({ baseline: offline({ seed: 1 }), candidate: offline({ seed: 2 }) });
  assert.equal(pass.exitCode, 0, pass.text);
  const fail = await runGate({ baseline: offline({ seed: 1 }), candidate: offline({ seed: 3, slowdown: { naive: 1.3 } }) });
  assert.equal(fail.exitCode, 1);
  const regressed = fail.outcome!.comparisons.filter((c) => c.verdict === "regression").map((c) => `${c.backend}:${c.metric}`);
  assert.ok(regressed.includes("naive:req_s") && regressed.includes("naive:output_tok_s"), regressed.join(","));
  assert.ok(regressed.every((k) => k.startsWith("naive:")));
});

test("offline latency: one sample per repeat (a batch's requests share one fate), not one per request", async () => {
  const r = await runGate({ baseline: offline({ seed: 1 }), candidate: offline({ seed: 2 }) });
  const e2e = r.outcome!.comparisons.filter((c) => c.metric === "e2e_p90");
  assert.equal(e2e.length, 3);
  for (const c of e2e) assert.deepEqual([c.interval?.n_baseline, c.interval?.n_candidate], [5, 5]);
});

test("--max-regression overrides defaults: a 30% slowdown passes at a 50% tolerance", async () => {
  const off = Object.fromEntries(["ttft_p50", "ttft_p90", "tpot_p50", "tpot_p90", "itl_p90", "e2e_p90"].map((k) => [k, 0.5]));
  const r = await runGate({ baseline: online({ seed: 7 }), candidate: online({ seed: 8, slowdown: { fused: 1.3 } }), tolerances: off });
  assert.equal(r.exitCode, 0, r.text);
});

test("the verdict is reproducible: same files, same seed, same intervals", async () => {
  const [a, b] = [online({ seed: 21 }), online({ seed: 22 })];
  const r1 = await runGate({ baseline: a, candidate: b });
  const r2 = await runGate({ baseline: a, candidate: b });
  assert.equal(r1.text, r2.text);
});

test("a backend that ran in the baseline but failed in the candidate is a regression", async () => {
  const cand = synthOnline({ seed: 31 });
  for (const run of cand.runs) if (run.backend.label === "flashattn" && run.scale === 0.5) Object.assign(run, { status: "failed", reason: "engine exited with code 139", summary: null, records: [] });
  const r = await runGate({ baseline: online({ seed: 30 }), candidate: file(cand) });
  assert.equal(r.exitCode, 1);
  assert.match(r.text, /flashattn @ scale 0\.5: candidate failed: engine exited with code 139/);
});

test("fingerprint mismatch: exit 2 naming the keys, unless --force", async () => {
  const a = online({ seed: 1 });
  const b = online({ seed: 2, fingerprint: { device: "NVIDIA A100-SXM4-40GB", dtype: "bf16" } });
  const refused = await runGate({ baseline: a, candidate: b });
  assert.equal(refused.exitCode, 2);
  assert.match(refused.text, /device: baseline "NVIDIA H100 80GB HBM3" vs candidate "NVIDIA A100-SXM4-40GB"/);
  assert.match(refused.text, /dtype/);
  assert.doesNotMatch(refused.text, /model:/);
  const forced = await runGate({ baseline: a, candidate: b, force: true });
  assert.equal(forced.exitCode, 0);
  assert.match(forced.text, /compared anyway: --force/);
});

test("invalid input exits 2: unreadable, not JSON, schema error naming the file, different kinds", async () => {
  const good = online({ seed: 1 });
  const missing = await runGate({ baseline: join(dir, "nope.json"), candidate: good });
  assert.equal(missing.exitCode, 2);
  assert.match(missing.text, /nope\.json: cannot read/);
  const notJson = file("{ this is not json");
  assert.equal((await runGate({ baseline: good, candidate: notJson })).exitCode, 2);
  const broken = synthOnline({ seed: 1 }) as unknown as { runs: { scale: unknown }[] };
  broken.runs[0].scale = "fast";
  const brokenPath = file(broken);
  const schema = await runGate({ baseline: good, candidate: brokenPath });
  assert.equal(schema.exitCode, 2);
  assert.ok(schema.text.includes(brokenPath), schema.text);
  assert.match(schema.text, /runs\.0\.scale/);
  const kinds = await runGate({ baseline: good, candidate: offline({ seed: 1 }) });
  assert.equal(kinds.exitCode, 2);
  assert.match(kinds.text, /attnbench\.online\/1.*attnbench\.offline\/1/);
});

test("gate command: exit codes through commander in a child process, --report written", () => {
  // A child process, so the command's own stdout/stderr and process.exitCode are the real ones.
  const script = "const { gateCommand } = await import('./src/commands/gate.ts'); await gateCommand.parseAsync(process.argv.slice(1), { from: 'user' });";
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "--", ...args], { cwd: ROOT, encoding: "utf8" });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  const report = join(dir, "gate.md");
  const a = online({ seed: 40 });
  const pass = run(["--baseline", a, "--candidate", online({ seed: 41 }), "--report", report, "--resamples", "500"]);
  assert.equal(pass.code, 0, pass.out);
  assert.match(readFileSync(report, "utf8"), /## PASS/);
  const fail = run(["--baseline", a, "--candidate", online({ seed: 42, slowdown: { naive: 1.3 } }), "--max-regression", "tpot_p50=10%,itl_p90=off"]);
  assert.equal(fail.code, 1, fail.out);
  assert.doesNotMatch(fail.out, /itl_p90/);
  const bad = run(["--baseline", a, "--candidate", a, "--max-regression", "ttft_p95=10%"]);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /unknown metric "ttft_p95"/);
  const missing = run(["--baseline", a, "--candidate", join(dir, "missing.json")]);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /missing\.json: cannot read/);
  const mismatch = run(["--baseline", a, "--candidate", online({ seed: 43, fingerprint: { model: "synthetic:gpt2-medium" } })]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.out, /model: baseline "synthetic:gpt2" vs candidate "synthetic:gpt2-medium"/);
});

test("a single repeat is compared as a threshold and noted in the report", async () => {
  const one = (seed: number, slowdown?: Record<string, number>) => {
    const r = synthOffline({ seed, slowdown });
    for (const run of r.runs) run.repeats = run.repeats.slice(0, 1);
    return file(r);
  };
  const r = await runGate({ baseline: one(1), candidate: one(2) });
  assert.match(r.text, /only 1 sample\(s\) for req_s: no spread measured/);
  const slow = await runGate({ baseline: one(1), candidate: one(2, { fused: 1.3 }) });
  assert.equal(slow.exitCode, 1);
});
