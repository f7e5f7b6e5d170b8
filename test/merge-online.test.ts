// scripts/merge-online.ts: backends run apart (one `bench online` each, e.g. one per GPU) merged into
// one results file that `attnbench plot` draws in one figure; mismatched runs are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mergeOnline } from "../scripts/merge-online.js";
import { OnlineResultsSchema, type OnlineResults } from "../src/results/schema.js";
import { REPO_ROOT } from "./helpers/paths.js";

const whole = OnlineResultsSchema.parse(
  JSON.parse(readFileSync(join(REPO_ROOT, "test", "fixtures", "results", "online_baseline.json"), "utf8")),
);
// The committed four-backend file, as if each backend had been its own run.
const part = (labels: string[]): OnlineResults => ({ ...whole, runs: whole.runs.filter((r) => labels.includes(r.backend.label)) });

test("merge-online: per-backend files become one with every backend's runs, in file order", () => {
  const merged = mergeOnline([
    { file: "a.json", results: part(["naive", "fused"]) },
    { file: "b.json", results: part(["flashattn"]) },
    { file: "c.json", results: part(["flashinfer"]) },
  ]);
  OnlineResultsSchema.parse(merged);
  assert.deepEqual(merged.runs, whole.runs);
  assert.deepEqual(merged.scales, whole.scales);
  assert.match(merged.meta.command, /merged: 3 files/);
});

test("merge-online: refuses a different trace, device or request count, and a backend in two files", () => {
  const a = part(["naive"]);
  const otherTrace = { ...part(["fused"]), trace: { ...whole.trace, sha256: "0".repeat(64) } };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: otherTrace }]), /b: trace differs/);
  const otherDevice = { ...part(["fused"]), meta: { ...whole.meta, fingerprint: { ...whole.meta.fingerprint, device: "NVIDIA H200" } } };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: otherDevice }]), /b: fingerprint differs .* device \(NVIDIA H200 vs NVIDIA H100/);
  const fewer = { ...part(["fused"]), num_prompts: 16 };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: fewer }]), /num_prompts differs/);
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: part(["naive", "fused"]) }]), /backend naive is in both a and b/);
  assert.throws(() => mergeOnline([]), /no results files/);
});
