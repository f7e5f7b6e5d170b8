// Run metadata: the commit a results file names must be the commit measured, or unknown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { buildMeta, engineEnv, gitSha, type MetaInput } from "../src/results/meta.js";
import { diffFingerprints } from "../src/gate/fingerprint.js";
import type { ReadyEvent } from "../src/engine/events.js";
import { PACKAGE_ROOT } from "../src/core/paths.js";

test("gitSha: ATTNBENCH_GIT_SHA wins (an exported tree knows its commit only from outside)", () => {
  const saved = process.env.ATTNBENCH_GIT_SHA;
  try {
    process.env.ATTNBENCH_GIT_SHA = "0123456789abcdef0123456789abcdef01234567";
    assert.equal(gitSha(), "0123456789abcdef0123456789abcdef01234567");
  } finally {
    if (saved === undefined) delete process.env.ATTNBENCH_GIT_SHA;
    else process.env.ATTNBENCH_GIT_SHA = saved;
  }
});

test("gitSha: the checkout's HEAD when the package root is a checkout's top level, else null", () => {
  const saved = process.env.ATTNBENCH_GIT_SHA;
  delete process.env.ATTNBENCH_GIT_SHA;
  try {
    let top: string | null = null;
    try {
      top = execFileSync("git", ["rev-parse", "--show-toplevel"], { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    } catch {
      top = null;
    }
    const sha = gitSha();
    if (top !== null && top === PACKAGE_ROOT) {
      const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: PACKAGE_ROOT }).toString().trim();
      assert.equal(sha, head);
    } else {
      assert.equal(sha, null, "a tree that is not its own checkout must not report another repository's HEAD");
    }
  } finally {
    if (saved !== undefined) process.env.ATTNBENCH_GIT_SHA = saved;
  }
});

test("engine_env: the engine's set switches go into meta and the fingerprint; none leaves the fingerprint as before", () => {
  const ready = (experiments?: Record<string, unknown>): ReadyEvent => ({
    ev: "ready",
    model: { name: "synthetic:tiny", n_ctx: 256, vocab_size: 1024 },
    device: { kind: "cuda", name: "NVIDIA H200", dtype: "bf16" },
    backends: { prefill: {}, decode: {} },
    config: experiments === undefined ? {} : { experiments },
  });
  const input = (r: ReadyEvent | null): MetaInput => ({ startedAt: new Date(0), ready: r, engineFlags: ["--block-size", "16"], workload: { workload: "w" } });
  const plain = buildMeta(input(ready({})));
  assert.deepEqual(plain.engine_env, {});
  assert.equal(plain.fingerprint.engine_env, undefined);
  assert.deepEqual(buildMeta(input(ready())).fingerprint, plain.fingerprint, "an engine that does not report switches reads as none set");
  const set = buildMeta(input(ready({ ATTNBENCH_PREFILL_PERSIST: "0", ATTNBENCH_DECODE_TCP: "1" })));
  assert.deepEqual(set.engine_env, { ATTNBENCH_PREFILL_PERSIST: "0", ATTNBENCH_DECODE_TCP: "1" });
  assert.equal(set.fingerprint.engine_env, "ATTNBENCH_DECODE_TCP=1 ATTNBENCH_PREFILL_PERSIST=0");
  assert.deepEqual(diffFingerprints(plain.fingerprint, set.fingerprint).map((d) => d.key), ["engine_env"], "the gate sees the switches differ");
  assert.deepEqual(engineEnv(null), {});
});
