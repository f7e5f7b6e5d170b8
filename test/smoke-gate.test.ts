// The CI perf gate's plumbing (scripts/smoke-gate.sh): which commit is the base (merge-base with the
// main branch; with no other branch, the parent of the latest engine/harness change; a shallow clone
// says why there is none), and merging interleaved rounds so the gate sees every round's repeats.
// The A/B itself runs in `npm test` (scripts/test.sh), where a planted slowdown must fail it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeOffline } from "../scripts/merge-offline.js";
import { synthOffline } from "./fixtures/results/synth.js";
import { compareResults } from "../src/gate/compare.js";
import { REPO_ROOT } from "./helpers/paths.js";

function repo(): { dir: string; git: (...a: string[]) => string; commit: (path: string, msg: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), "attnbench-gitbase-"));
  mkdirSync(join(dir, "scripts"));
  copyFileSync(join(REPO_ROOT, "scripts", "smoke-gate.sh"), join(dir, "scripts", "smoke-gate.sh"));
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).toString().trim();
  git("init", "-q", "-b", "main");
  const commit = (path: string, msg: string) => {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), msg);
    git("add", "-A");
    git("commit", "-qm", msg);
    return git("rev-parse", "HEAD");
  };
  return { dir, git, commit };
}
const whichBase = (dir: string) => execFileSync("bash", ["scripts/smoke-gate.sh", "--which-base"], { cwd: dir }).toString().trim();

test("base: the merge-base with main for a branch; on main, the parent of the latest engine/harness change", () => {
  const { dir, git, commit } = repo();
  commit("src/a.ts", "harness 1");
  const engine = commit("native/src/e.cpp", "engine 1");
  commit("docs/x.md", "docs only");
  const onMain = whichBase(dir);
  assert.match(onMain, new RegExp(`^base ${git("rev-parse", `${engine}^`)}: no other branch to compare with .*the parent of ${engine.slice(0, 7)}[0-9a-f]* "engine 1", the latest commit that changed the engine or harness`));
  const branchPoint = git("rev-parse", "HEAD");
  git("checkout", "-qb", "feature");
  commit("src/b.ts", "feature work");
  assert.equal(whichBase(dir), `base ${branchPoint}: merge-base of HEAD and main`);
});

test("base: a shallow clone or a first commit says why there is none", () => {
  const { dir, commit } = repo();
  commit("src/a.ts", "first");
  assert.match(whichBase(dir), /^no base: [0-9a-f]{12} is the first commit: nothing before it to compare with/);
  commit("src/b.ts", "second");
  const shallow = mkdtempSync(join(tmpdir(), "attnbench-shallow-"));
  execFileSync("git", ["clone", "-q", "--depth", "1", `file://${dir}`, shallow]);
  mkdirSync(join(shallow, "scripts"), { recursive: true });
  copyFileSync(join(REPO_ROOT, "scripts", "smoke-gate.sh"), join(shallow, "scripts", "smoke-gate.sh"));
  assert.match(whichBase(shallow), /^no base: shallow clone: the parent of [0-9a-f]{12} is not here \(fetch more history: git fetch --deepen=50\)/);
});

test("merging rounds keeps every repeat and record; a merged slow arm still fails the gate", () => {
  const rounds = [1, 2, 3].map((seed) => ({ file: `r${seed}.json`, results: synthOffline({ seed }) }));
  const merged = mergeOffline(rounds);
  for (const run of merged.runs) {
    const parts = rounds.map((r) => r.results.runs.find((x) => x.backend.label === run.backend.label)!);
    assert.equal(run.repeats.length, parts.reduce((a, p) => a + p.repeats.length, 0));
    assert.equal(run.records.length, parts.reduce((a, p) => a + p.records.length, 0));
  }
  assert.equal(merged.workload.repeats, 15, "3 rounds x 5 repeats");
  const other = { file: "x.json", results: synthOffline({ seed: 4 }) };
  other.results.meta.fingerprint = { ...other.results.meta.fingerprint, device: "another CPU" };
  assert.throws(() => mergeOffline([rounds[0], other]), /x\.json: fingerprint differs from r1\.json in device/);
  const slow = mergeOffline([4, 5, 6].map((seed) => ({ file: `s${seed}.json`, results: synthOffline({ seed, slowdown: { fused: 1.6 } }) })));
  const report = compareResults(merged, slow);
  const regressed = new Set(report.comparisons.filter((c) => c.verdict === "regression").map((c) => c.backend));
  assert.ok(regressed.has("fused"), "a 1.6x slower fused is caught");
  assert.ok(!regressed.has("naive"), "naive unchanged");
});
