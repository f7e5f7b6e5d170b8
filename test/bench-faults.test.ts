// Bench runs that meet dying engines and Ctrl-C (fake engine: fast and able to fail on cue).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execa } from "execa";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { OfflineResultsSchema, OnlineResultsSchema } from "../src/results/schema.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { BIN, FAKE_ENGINE, REPO_ROOT } from "./helpers/paths.js";

test("bench offline: an engine that dies is recorded as failed and the next backend runs", { timeout: 60_000 }, async () => {
  const out = tmpOut();
  const r = await cli(
    ["bench", "offline", "--engine", FAKE_ENGINE, "--input-len", "8", "--output-len", "4", "--num-prompts", "4", "--repeats", "2", "--backends", "fused,naive", "--out", out, "--no-plot"],
    { FAKE_DIE_AFTER_TOKS: "30", FAKE_DIE_BACKEND: "fused" },
  );
  assert.equal(r.exitCode, 1, r.stderr);
  assert.match(r.stderr, /  - fused: failed: engine exited/);
  const res = OfflineResultsSchema.parse(readResults(out, "offline"));
  assert.equal(res.runs[0].status, "failed");
  assert.match(res.runs[0].reason!, /engine exited/);
  assert.equal(res.runs[1].status, "ok");
  assert.equal(res.agreement.reference, "naive");
});

test("bench online: engine death mid-run -> failed run, failures with reasons, next backend runs", { timeout: 60_000 }, async () => {
  const out = tmpOut();
  const r = await cli(
    ["bench", "online", "--engine", FAKE_ENGINE, "--trace", "synthetic:poisson", "--request-rate", "200", "--num-prompts", "12", "--input-len", "8", "--output-len", "10", "--ignore-eos", "--scales", "1", "--backends", "fused,naive", "--warmup-requests", "0", "--out", out, "--no-plot"],
    { FAKE_DIE_AFTER_TOKS: "40", FAKE_DIE_BACKEND: "fused" },
  );
  assert.equal(r.exitCode, 1, r.stderr);
  assert.match(r.stderr, /  - fused x1: failed: /);
  const res = OnlineResultsSchema.parse(readResults(out, "online"));
  const [dead, ok] = res.runs;
  assert.equal(dead.status, "failed");
  assert.equal(dead.records.length, 12, "every request accounted for");
  assert.ok(dead.summary!.failed > 0);
  assert.ok(Object.keys(dead.summary!.failures).some((k) => /engine/.test(k)), JSON.stringify(dead.summary!.failures));
  assert.equal(ok.status, "ok");
  assert.equal(ok.summary!.completed, 12);
  assert.equal(res.trace.format, "synthetic");
});

test("Ctrl-C: partial results flushed, children stopped, exit 130", { timeout: 90_000 }, async () => {
  const out = tmpOut();
  const marker = `synthetic:tiny-sigint-${process.pid}`;
  const child = execa(process.execPath, [BIN, "bench", "online", "--engine", FAKE_ENGINE, "--model", marker, "--trace", "synthetic:poisson", "--request-rate", "20", "--num-prompts", "40", "--input-len", "8", "--output-len", "4", "--scales", "0.1,5", "--out", out, "--no-plot"], { cwd: REPO_ROOT, reject: false });
  const resultsFile = () => {
    const d = existsSync(out) ? readdirSync(out).find((x) => x.startsWith("online_")) : undefined;
    return d ? join(out, d, "online_results.json") : null;
  };
  const deadline = Date.now() + 60_000;
  while (!resultsFile() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(resultsFile(), "first scale finished and was written");
  await new Promise((r) => setTimeout(r, 3500)); // inside the long (~10 s) second scale
  child.kill("SIGINT");
  const r = await child;
  assert.equal(r.exitCode, 130, r.stderr);
  const res = OnlineResultsSchema.parse(readResults(out, "online"));
  assert.equal(res.runs[0].status, "ok");
  assert.equal(res.runs[0].records.length, 40);
  assert.equal(res.runs[1].status, "failed");
  assert.match(res.runs[1].reason!, /interrupted/);
  // Requests that finished before the signal are kept (how many depends on the machine's load).
  assert.ok(res.runs[1].records.every((x) => x.ok));
  // Children get a grace period to exit cleanly; none may outlive it.
  let ps = "";
  for (let k = 0; k < 50; k++) {
    ps = execFileSync("ps", ["-eo", "pid,args"]).toString();
    if (!ps.includes(marker)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!ps.includes(marker), `no orphans: ${ps.split("\n").filter((l) => l.includes(marker)).join("\n")}`);
});

test("bench online reads the project's JSONL and Mooncake traces (fake engine)", { timeout: 60_000 }, async () => {
  const { writeFileSync } = await import("node:fs");
  const dir = tmpOut();
  const jsonl = join(dir, "t.jsonl");
  writeFileSync(jsonl, Array.from({ length: 6 }, (_, i) => JSON.stringify({ t_s: 10 + i * 0.05, input_tokens: 20 + i, output_tokens: 3 })).join("\n"));
  const moon = join(dir, "m.jsonl");
  writeFileSync(moon, Array.from({ length: 6 }, (_, i) => JSON.stringify({ timestamp: i * 40, input_length: 300, output_length: 4, hash_ids: [i] })).join("\n") + "\n");
  for (const [trace, format, n] of [[jsonl, "jsonl", 0], [moon, "mooncake", 6]] as const) {
    const out = join(dir, format);
    const r = await cli(["bench", "online", "--engine", FAKE_ENGINE, "--trace", trace, "--scales", "1", "--ignore-eos", "--out", out, "--no-plot"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const res = OnlineResultsSchema.parse(readResults(out, "online"));
    assert.equal(res.trace.format, format);
    assert.equal(res.trace.clamped, n, "mooncake prompts of 300 exceed the fake model's 128");
    assert.equal(res.runs[0].summary!.completed, 6);
    // Mooncake timestamps are integers -> ms: 40 ms apart.
    if (format === "mooncake") assert.ok(Math.abs(res.runs[0].records[5].scheduled_ms - 200) < 1e-9);
    else assert.ok(Math.abs(res.runs[0].records[5].scheduled_ms - 250) < 1e-6);
  }
});
