// The CLI surface: help, usage errors (one line per problem, exit 2), trace errors naming file:line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tmpOut } from "./helpers/cli.js";
import { FAKE_ENGINE } from "./helpers/paths.js";

test("--help lists every command; bench has online and offline", async () => {
  const r = await cli(["--help"]);
  assert.equal(r.exitCode, 0);
  for (const c of ["serve", "generate", "bench", "plot", "gate", "kernels"]) assert.match(r.stdout, new RegExp(`\\n  ${c}`));
  const b = await cli(["bench", "--help"]);
  assert.match(b.stdout, /online/);
  assert.match(b.stdout, /offline/);
  const on = await cli(["bench", "online", "--help"]);
  for (const f of ["--num-prompts", "--request-rate", "--burstiness", "--ignore-eos", "--seed", "--scales", "--backends", "--kv-cache-gb", "--no-cuda-graph", "--engine", "--slo", "--itl-mode", "--max-lateness-ms"])
    assert.ok(on.stdout.includes(f), `bench online --help mentions ${f}`);
  assert.match(on.stdout.replace(/\s+/g, " "), /default: "0.4,0.5,0.6,0.8,1.6"/);
});

test("contradictory and out-of-range options: one line each, exit 2", async () => {
  const r = await cli(["bench", "online", "--trace", "x.csv", "--request-rate", "5", "--backends", "naive", "--prefill-attn-backend", "fused", "--num-prompts", "0", "--device", "cpu", "--dtype", "fp16"]);
  assert.equal(r.exitCode, 2);
  const lines = r.stderr.trim().split("\n");
  assert.ok(lines.some((l) => /^attnbench: --request-rate: only applies to --trace synthetic/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^attnbench: --backends: give --backends or --prefill\/--decode-attn-backend, not both/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^attnbench: --num-prompts: /.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^attnbench: --dtype: --device cpu supports fp32 only/.test(l)), r.stderr);
  assert.equal(lines.length, 4, r.stderr);
  const off = await cli(["bench", "offline", "--backends", "a/b/c", "--repeats", "-1"]);
  assert.equal(off.exitCode, 2);
  assert.match(off.stderr, /--backends: "a\/b\/c" is not NAME or PREFILL\/DECODE/);
  assert.match(off.stderr, /--repeats: /);
  const unknown = await cli(["serve", "--bogus"]);
  assert.equal(unknown.exitCode, 2);
  const gen = await cli(["generate", "--engine", FAKE_ENGINE]);
  assert.equal(gen.exitCode, 2);
  assert.match(gen.stderr, /give exactly one of --prompt-ids and --prompt/);
});

test("a malformed trace names file and line, exit 1, before any engine starts", async () => {
  const dir = tmpOut();
  const bad = join(dir, "bad.csv");
  writeFileSync(bad, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,5,5\n2023-11-16 18:00:01.0,oops,5\n");
  const r = await cli(["bench", "online", "--trace", bad, "--engine", "/nonexistent", "--out", dir]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3: ContextTokens must be a positive integer`));
});

test("generate with the fake engine prints one JSON object", async () => {
  const r = await cli(["generate", "--engine", FAKE_ENGINE, "--prompt-ids", "1,2,3", "--max-tokens", "4", "--temperature", "0", "--ignore-eos"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.tokens.length, 4);
  assert.equal(out.logprobs.length, 4);
  assert.equal(typeof out.text, "string");
  const big = await cli(["generate", "--engine", FAKE_ENGINE, "--prompt-ids", "1,5000"]);
  assert.equal(big.exitCode, 2);
  assert.match(big.stderr, /token id 5000 is outside the model's vocabulary \[0, 1000\)/);
});

test("serve: prints its URL, answers /health, exits 143 on SIGTERM; exit 3 when the engine refuses", async () => {
  const { execa } = await import("execa");
  const { BIN, REPO_ROOT } = await import("./helpers/paths.js");
  const child = execa(process.execPath, [BIN, "serve", "--port", "0", "--engine", FAKE_ENGINE], { cwd: REPO_ROOT, reject: false });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      const m = /listening on (http:\/\/\S+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    setTimeout(() => reject(new Error("serve did not print its URL")), 30_000);
  });
  const h = await fetch(`${url}/health`);
  assert.equal(h.status, 200);
  child.kill("SIGTERM");
  assert.equal((await child).exitCode, 143);
  const refused = await cli(["serve", "--port", "0", "--engine", FAKE_ENGINE, "--decode-attn-backend", "flashinfer"]);
  assert.equal(refused.exitCode, 3);
  assert.match(refused.stderr, /engine failed to start: decode backend flashinfer is unavailable/);
});
