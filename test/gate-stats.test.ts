// The gate's statistics in isolation: quantiles, bootstrap intervals, the decision rule, tolerances.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { quantile } from "../src/metrics/quantile.js";
import { percentile } from "../src/metrics/percentiles.js";
import { bootstrapRatio, weightedQuantileForTests } from "../src/gate/bootstrap.js";
import { decide, splitRepeats } from "../src/gate/compare.js";
import { parseMaxRegression, tolerancesFor } from "../src/gate/tolerances.js";
import { diffFingerprints } from "../src/gate/fingerprint.js";
import { mulberry32, normal } from "../src/gate/rng.js";

test("the gate's quantile equals the harness's numpy-linear percentile", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, q) => {
      const a = quantile(xs, q);
      const c = percentile(xs, q * 100);
      return Math.abs(a - c) <= 1e-9 * (1 + Math.abs(a));
    }),
  );
});

test("a resample's weighted-rank quantile equals the quantile of the expanded resample", () => {
  const groups = fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(groups, fc.array(fc.nat(3), { minLength: 12, maxLength: 12 }), fc.double({ min: 0, max: 1, noNaN: true }), (gs, rawCounts, q) => {
      const counts = gs.map((_, i) => rawCounts[i]);
      if (counts.every((k) => k === 0)) counts[0] = 1;
      const expanded = gs.flatMap((g, i) => Array.from({ length: counts[i] }, () => g).flat());
      return Math.abs(weightedQuantileForTests(gs, counts, q) - quantile(expanded, q)) < 1e-9;
    }),
  );
});

const sample = (seed: number, n: number, scale = 1) => {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => [scale * Math.exp(0.2 * normal(rng))]);
};

test("bootstrap: seeded and reproducible; the interval holds the point ratio", () => {
  const opts = { q: 0.9, resamples: 1000, confidence: 0.95, seed: 7 };
  const a = bootstrapRatio(sample(1, 200), sample(2, 200), opts)!;
  const b = bootstrapRatio(sample(1, 200), sample(2, 200), opts)!;
  assert.deepEqual(a, b);
  assert.ok(a.lo <= a.ratio && a.ratio <= a.hi);
  assert.ok(a.lo < 1 && a.hi > 1, `same distribution: ${a.lo}..${a.hi} should cover 1`);
  const slow = bootstrapRatio(sample(1, 200), sample(2, 200, 1.3), opts)!;
  assert.ok(slow.lo > 1.1, `30% slower: lower bound ${slow.lo}`);
});

test("bootstrap: the interval of the same distribution covers 1 about 95% of the time", () => {
  let covered = 0;
  const trials = 60;
  for (let t = 0; t < trials; t++) {
    const r = bootstrapRatio(sample(1000 + t, 150), sample(5000 + t, 150), { q: 0.5, resamples: 400, confidence: 0.95, seed: t })!;
    if (r.lo <= 1 && 1 <= r.hi) covered++;
  }
  assert.ok(covered / trials >= 0.85, `coverage ${covered}/${trials}`);
});

test("bootstrap: groups are resampled whole (ITL), empty or zero baselines give null", () => {
  const groups = [[1, 1, 1, 1], [2, 2], [3]];
  const r = bootstrapRatio(groups, groups, { q: 0.5, resamples: 200, confidence: 0.9, seed: 1 })!;
  assert.equal(r.ratio, 1);
  assert.equal(r.n_baseline, 7);
  assert.equal(bootstrapRatio([], groups, { q: 0.5, resamples: 10, confidence: 0.9, seed: 1 }), null);
  assert.equal(bootstrapRatio([[0]], groups, { q: 0.5, resamples: 10, confidence: 0.9, seed: 1 }), null);
});

test("decide: a regression needs the whole interval past the tolerance in the bad direction", () => {
  const iv = (lo: number, ratio: number, hi: number) => ({ lo, ratio, hi, baseline: 1, candidate: ratio, n_baseline: 9, n_candidate: 9 });
  assert.equal(decide(iv(1.12, 1.3, 1.5), 0.1, "lower"), "regression");
  assert.equal(decide(iv(0.95, 1.3, 1.6), 0.1, "lower"), "inconclusive");
  assert.equal(decide(iv(0.95, 1.02, 1.08), 0.1, "lower"), "pass");
  assert.equal(decide(iv(0.6, 0.7, 0.8), 0.1, "lower"), "improvement");
  assert.equal(decide(iv(0.7, 0.8, 0.94), 0.05, "higher"), "regression");
  assert.equal(decide(iv(0.9, 0.97, 1.05), 0.05, "higher"), "pass");
  assert.equal(decide(iv(1.1, 1.2, 1.3), 0.05, "higher"), "improvement");
  assert.equal(decide(null, 0.1, "lower"), "no data");
});

test("--max-regression: percentages and fractions, off, unknown keys refused", () => {
  assert.deepEqual(parseMaxRegression("ttft_p90=10%, output_tok_s=0.05,itl_p90=off"), { ttft_p90: 0.1, output_tok_s: 0.05, itl_p90: null });
  assert.throws(() => parseMaxRegression("ttft_p95=10%"), /unknown metric/);
  assert.throws(() => parseMaxRegression("ttft_p90=fast"), /not a percentage/);
  assert.throws(() => parseMaxRegression("ttft_p90"), /needs a tolerance/);
  const online = [...tolerancesFor("online", { itl_p90: null, ttft_p99: 0.2, output_tok_s: 0.05 }).entries()].map(([m, t]) => `${m.key}=${t}`);
  assert.deepEqual(online, ["ttft_p50=0.1", "ttft_p90=0.1", "ttft_p99=0.2", "tpot_p50=0.1", "tpot_p90=0.1", "e2e_p90=0.1"]);
  const offline = [...tolerancesFor("offline", {}).keys()].map((m) => m.key).sort();
  assert.deepEqual(offline, ["e2e_p90", "output_tok_s", "req_s"]);
});

test("diffFingerprints names differing and one-sided keys only", () => {
  const d = diffFingerprints({ device: "H100", dtype: "fp16", model: "gpt2" }, { device: "H100", dtype: "bf16", trace_sha256: "ab" });
  assert.deepEqual(d.map((x) => x.key), ["dtype", "model", "trace_sha256"]);
  assert.deepEqual(d[2], { key: "trace_sha256", baseline: null, candidate: "ab" });
});

test("splitRepeats: records of back-to-back repeats split where the request index restarts", () => {
  const rec = (i: number) => ({ i, id: `r${i}`, prompt_tokens: 1, max_tokens: 1, scheduled_ms: 0, sent_ms: 0, chunks: [], end_ms: 0, output_tokens: 0, ok: true, finish: null, error: null, engine: null });
  const reps = splitRepeats([0, 1, 2, 0, 1, 2, 0, 1].map(rec));
  assert.deepEqual(reps.map((r) => r.length), [3, 3, 2]);
  assert.deepEqual(splitRepeats([]), []);
});
