import { test } from "node:test";
import assert from "node:assert/strict";
import { percentile, summarize } from "../src/metrics/percentiles.js";
import { requestLatency } from "../src/metrics/request.js";
import { rateOf, summarizeOnline } from "../src/metrics/online.js";
import { meetsSlo } from "../src/metrics/goodput.js";
import { agreement, agreementDetail, nearTieTolerances, offlineInvalidReason, repeatThroughput } from "../src/metrics/offline.js";
import { rec } from "./helpers/records.js";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("percentile matches numpy linear interpolation", () => {
  // numpy.percentile([1,2,3,4], [50, 90, 99]) = [2.5, 3.7, 3.97]
  close(percentile([4, 1, 3, 2], 50), 2.5);
  close(percentile([1, 2, 3, 4], 90), 3.7);
  close(percentile([1, 2, 3, 4], 99), 3.97);
  close(percentile([7], 99), 7);
  assert.equal(percentile([], 50), 0);
  const s = summarize([10, 20, 30]);
  assert.deepEqual(s, { n: 3, mean: 20, p50: 20, p90: 28, p99: 29.8, min: 10, max: 30 });
  assert.equal(summarize([]).n, 0);
});

test("single-token chunks: TTFT, E2E, TPOT, ITL", () => {
  const r = rec({ sent_ms: 100, chunks: [{ t_ms: 150, n: 1 }, { t_ms: 160, n: 1 }, { t_ms: 180, n: 1 }] });
  const l = requestLatency(r)!;
  assert.equal(l.ttft_ms, 50);
  assert.equal(l.e2e_ms, 80);
  assert.equal(l.tpot_ms, 15); // (80 - 50) / (3 - 1)
  assert.deepEqual(l.itl_ms, [10, 20]);
});

test("multi-token chunks: chunk ITL vs per-token ITL", () => {
  // 6 tokens in 3 chunks: 2 at 30, 3 at 60, 1 at 70; sent at 0.
  const r = rec({ chunks: [{ t_ms: 30, n: 2 }, { t_ms: 60, n: 3 }, { t_ms: 70, n: 1 }] });
  const c = requestLatency(r, "chunk")!;
  assert.equal(c.ttft_ms, 30);
  assert.equal(c.e2e_ms, 70);
  assert.equal(c.tpot_ms, 8); // (70 - 30) / 5
  assert.deepEqual(c.itl_ms, [30, 10]);
  const t = requestLatency(r, "token")!;
  assert.deepEqual(t.itl_ms, [0, 10, 10, 10, 10]);
  close(t.itl_ms.reduce((a, b) => a + b, 0), c.e2e_ms - c.ttft_ms);
  assert.equal(t.itl_ms.length, r.output_tokens - 1);
});

test("one-token output has no TPOT and no ITL", () => {
  const l = requestLatency(rec({ sent_ms: 5, chunks: [{ t_ms: 25, n: 1 }] }))!;
  assert.equal(l.ttft_ms, 20);
  assert.equal(l.e2e_ms, 20);
  assert.equal(l.tpot_ms, null);
  assert.deepEqual(l.itl_ms, []);
});

test("failures are counted with reasons and excluded from latency", () => {
  const ok1 = rec({ i: 0, id: "a", sent_ms: 0, chunks: [{ t_ms: 10, n: 1 }, { t_ms: 20, n: 1 }] });
  const ok2 = rec({ i: 1, id: "b", scheduled_ms: 100, sent_ms: 101, prompt_tokens: 20, chunks: [{ t_ms: 131, n: 1 }, { t_ms: 141, n: 1 }, { t_ms: 161, n: 1 }] });
  const bad = rec({ i: 2, id: "c", scheduled_ms: 200, sent_ms: 200, end_ms: 400, ok: false, finish: "error", error: "engine died", chunks: [{ t_ms: 250, n: 1 }] });
  const s = summarizeOnline([ok1, ok2, bad], { slo: { ttft_ms: 25 } });
  assert.equal(s.n, 3);
  assert.equal(s.completed, 2);
  assert.equal(s.failed, 1);
  assert.deepEqual(s.failures, { "engine died": 1 });
  assert.equal(s.duration_s, 0.4); // first send 0 .. last end 400 ms
  close(s.request_throughput, 2 / 0.4);
  close(s.output_throughput, 5 / 0.4);
  close(s.total_token_throughput, (5 + 30) / 0.4);
  assert.equal(s.ttft_ms.n, 2);
  assert.deepEqual([s.ttft_ms.min, s.ttft_ms.max], [10, 30]);
  assert.deepEqual([s.e2e_ms.min, s.e2e_ms.max], [20, 60]);
  assert.equal(s.tpot_ms.mean, 12.5); // (10 + 15) / 2
  assert.equal(s.itl_ms.n, 3); // 10 | 10, 20
  // Goodput: a meets ttft<=25, b's ttft is 30, c failed -> 1 good of 3.
  assert.ok(s.goodput);
  close(s.goodput!.fraction, 1 / 3);
  close(s.goodput!.req_s, 1 / 0.4);
  assert.deepEqual(s.lateness_ms.max, 1);
  close(s.offered_rate, 2 / 0.2);
  close(s.achieved_rate, 2 / 0.2);
  assert.deepEqual(s.invalid, []);
});

test("lateness above the bound and unsent requests make a run invalid", () => {
  const r = [rec({ scheduled_ms: 0, sent_ms: 80, chunks: [{ t_ms: 90, n: 1 }] }), rec({ scheduled_ms: 10, sent_ms: null, ok: false, chunks: [] })];
  const s = summarizeOnline(r, { maxLatenessMs: 50 });
  assert.equal(s.invalid.length, 2);
  assert.match(s.invalid[0], /lateness p99 80\.0 ms > 50 ms/);
  assert.deepEqual(s.failures, { "not sent": 1 });
});

test("SLO: failures miss, TPOT skipped for one token", () => {
  assert.equal(meetsSlo(rec({ ok: false, chunks: [{ t_ms: 1, n: 1 }] }), {}), false);
  assert.equal(meetsSlo(rec({ chunks: [{ t_ms: 1, n: 1 }] }), { tpot_ms: 0.001 }), true);
  assert.equal(meetsSlo(rec({ chunks: [{ t_ms: 1, n: 1 }, { t_ms: 100, n: 1 }] }), { tpot_ms: 50 }), false);
  assert.equal(meetsSlo(rec({ chunks: [{ t_ms: 1, n: 1 }, { t_ms: 100, n: 1 }] }), { e2e_ms: 100 }), true);
});

test("rates and offline throughput", () => {
  assert.equal(rateOf([0, 500, 1000]), 2);
  assert.equal(rateOf([5]), 0);
  const recs = [rec({ prompt_tokens: 4, chunks: [{ t_ms: 1, n: 2 }] }), rec({ prompt_tokens: 6, chunks: [{ t_ms: 1, n: 2 }] })];
  assert.deepEqual(repeatThroughput(recs, 2), { wall_s: 2, req_s: 1, output_tok_s: 2, total_tok_s: 7 });
  assert.equal(offlineInvalidReason(recs, 2), null);
  assert.match(offlineInvalidReason(recs, 3)!, /2 of 2 requests did not produce exactly 3 tokens/);
  assert.equal(agreement([[1, 2], [3]], [[1, 2], [4]]), 0.5);
});

test("agreement detail: identical, a near tie, a real divergence, a divergent prefix", () => {
  const ref = {
    tokens: [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]],
    logprobs: [[-1, -2, -3], [-1, -2.5, -3], [-1, -2, -3], [-1, -2, -3]],
  };
  const cand = {
    tokens: [[1, 2, 3], [1, 9, 9], [1, 7, 7], [1, 2, 8]],
    // request 1: first divergence at k=1, chosen logprobs -2.5 vs -2.504: a near tie
    // request 2: at k=1, -2 vs -4: a real divergence
    // request 3: at k=2 the gap is small, but an earlier logprob of the same token moved by 0.2
    logprobs: [[-1, -2.0005, -3], [-1, -2.504, -9], [-1, -4, -7], [-1.2, -2, -3.001]],
  };
  const d = agreementDetail(ref, cand);
  assert.equal(d.exact, 0.25);
  assert.equal(d.near_tie, 0.25);
  assert.equal(d.diverged, 0.5);
  assert.ok(Math.abs(d.max_logprob_diff - 0.2) < 1e-9);
  assert.deepEqual(agreementDetail({ tokens: [], logprobs: [] }, { tokens: [], logprobs: [] }),
    { exact: 0, near_tie: 0, diverged: 0, max_logprob_diff: 0, tie_tol: 0.01, prefix_tol: 0.05 });
});

test("near-tie tolerances follow the dtype: bf16's are 8x fp16's, so bf16 rounding flips are ties and large gaps are not", () => {
  assert.deepEqual(nearTieTolerances("fp16"), { tie_tol: 0.01, prefix_tol: 0.05 });
  assert.deepEqual(nearTieTolerances("fp32"), { tie_tol: 0.01, prefix_tol: 0.05 });
  const bf16 = nearTieTolerances("bf16");
  assert.deepEqual(bf16, { tie_tol: 0.08, prefix_tol: 0.4 });
  // A random 8B model in bf16: near-uniform logprobs (~ -11.7), backends 0.05-0.1 apart on common prefixes.
  const ref = { tokens: [[5, 6, 7], [5, 6, 7]], logprobs: [[-11.70, -11.72, -11.69], [-11.70, -11.72, -11.69]] };
  const cand = { tokens: [[5, 6, 8], [5, 9, 9]], logprobs: [[-11.78, -11.66, -11.64], [-11.75, -13.1, -12]] };
  const asFp16 = agreementDetail(ref, cand, nearTieTolerances("fp16").tie_tol, nearTieTolerances("fp16").prefix_tol);
  assert.equal(asFp16.near_tie, 0);
  const asBf16 = agreementDetail(ref, cand, bf16.tie_tol, bf16.prefix_tol);
  assert.equal(asBf16.near_tie, 0.5);  // request 0: 0.05 apart at the divergence, prefix within 0.08
  assert.equal(asBf16.diverged, 0.5);  // request 1: chosen tokens 1.38 apart: a real divergence
  assert.equal(asBf16.tie_tol, 0.08);
});
