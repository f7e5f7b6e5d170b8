// Run metadata: the commit a results file names must be the commit measured, or unknown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { gitSha } from "../src/results/meta.js";
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
