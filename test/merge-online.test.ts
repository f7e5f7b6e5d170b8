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

test("merge-online: one backend's sweep split over files (--auto-points, --capacity-from) joins into one, lightest load first", () => {
  const fused = whole.runs.filter((r) => r.backend.label === "fused");
  const backend = fused[0].backend;
  const cap = { backend, status: "ok" as const, reason: null, req_s: 40, output_tok_s: 3000, requests: 32, completed: 32, duration_s: 0.8 };
  const at = (scales: number[]) => fused.filter((r) => scales.includes(r.scale));
  const heavy: OnlineResults = { ...whole, scale_mode: "auto", runs: at([0.4, 0.5]), scales: [0.4, 0.5],
    capacity: [{ ...cap, fractions: [0.85, 1.1], scales: [0.5, 0.4], offered_req_s: [34, 44] }] };
  const light: OnlineResults = { ...whole, scale_mode: "auto", runs: at([1.6, 0.8, 0.6]), scales: [1.6, 0.8, 0.6],
    capacity: [{ ...cap, from_file: "heavy.json", fractions: [0.1, 0.35, 0.6], scales: [1.6, 0.8, 0.6], offered_req_s: [4, 14, 24] }] };
  const merged = mergeOnline([{ file: "heavy.json", results: heavy }, { file: "light.json", results: light }]);
  OnlineResultsSchema.parse(merged);
  assert.deepEqual(merged.runs.map((r) => r.scale), [1.6, 0.8, 0.6, 0.5, 0.4]);
  assert.equal(merged.capacity?.length, 1);
  assert.deepEqual(merged.capacity?.[0].fractions, [0.1, 0.35, 0.6, 0.85, 1.1]);
  assert.deepEqual(merged.capacity?.[0].scales, [1.6, 0.8, 0.6, 0.5, 0.4]);
  assert.equal(merged.capacity?.[0].from_file, undefined, "the measured entry stands for the merged one");
  // Two different measurements of one backend stay two entries.
  const remeasured = { ...light, capacity: [{ ...light.capacity![0], req_s: 41, from_file: undefined }] };
  assert.equal(mergeOnline([{ file: "heavy.json", results: heavy }, { file: "light.json", results: remeasured }]).capacity?.length, 2);
});

test("merge-online: refuses a different trace, device or request count, and a backend in two files", () => {
  const a = part(["naive"]);
  const otherTrace = { ...part(["fused"]), trace: { ...whole.trace, sha256: "0".repeat(64) } };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: otherTrace }]), /b: trace differs/);
  const otherDevice = { ...part(["fused"]), meta: { ...whole.meta, fingerprint: { ...whole.meta.fingerprint, device: "NVIDIA H200" } } };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: otherDevice }]), /b: fingerprint differs .* device \(NVIDIA H200 vs NVIDIA H100/);
  const fewer = { ...part(["fused"]), num_prompts: 16 };
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: fewer }]), /num_prompts differs/);
  assert.throws(() => mergeOnline([{ file: "a", results: a }, { file: "b", results: part(["naive", "fused"]) }]), /backend naive at scale [0-9.]+ is in both a and b/);
  assert.throws(() => mergeOnline([]), /no results files/);
});
