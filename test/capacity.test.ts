// Capacity-aware sweeps (--scales auto): the flag, the load fractions, the scales chosen from a
// capacity, and the capacity estimate from a saturating run's records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { capacityFromRecords, loadFractions, scalesForCapacity, traceRate } from "../src/load/capacity.js";
import { parseScales } from "../src/cli/scales.js";
import { rec } from "./helpers/records.js";

test("--scales: fixed lists, auto, auto:N; bad values are refused with a reason", () => {
  assert.deepEqual(parseScales("0.4, 0.8,1.6"), { mode: "fixed", scales: [0.4, 0.8, 1.6] });
  assert.deepEqual(parseScales("auto"), { mode: "auto", points: 5 });
  assert.deepEqual(parseScales("auto:3"), { mode: "auto", points: 3 });
  assert.throws(() => parseScales("auto:1"), /2\.\.20/);
  assert.throws(() => parseScales("auto:21"), /2\.\.20/);
  assert.throws(() => parseScales("auto:x"), /auto or auto:N/);
  assert.throws(() => parseScales("0.4,0.4"), /each scale once/);
  assert.throws(() => parseScales("0.4,-1"), /"-1": a scale must be a number > 0/);
  assert.throws(() => parseScales("0.4,abc"), /"abc"/);
  assert.throws(() => parseScales(" , "), /comma-separated/);
});

test("load fractions: N evenly spaced from 10 % to 110 % of capacity", () => {
  const f = loadFractions(5);
  assert.equal(f.length, 5);
  [0.1, 0.35, 0.6, 0.85, 1.1].forEach((x, k) => assert.ok(Math.abs(f[k] - x) < 1e-12, `${f[k]} vs ${x}`));
  assert.deepEqual(loadFractions(2).map((x) => Number(x.toFixed(12))), [0.1, 1.1]);
});

test("scales for a capacity: offered load = trace rate / scale spans 10 %..110 % of it, below and above", () => {
  const rate = 5.53; // the Azure conv trace's mean rate
  const cap = 700;
  const { fractions, scales, offered_req_s } = scalesForCapacity(rate, cap, 5);
  assert.equal(scales.length, 5);
  for (let k = 0; k < 5; k++) {
    assert.ok(Math.abs(offered_req_s[k] - rate / scales[k]) < 1e-9);
    assert.ok(Math.abs(offered_req_s[k] / cap - fractions[k]) < 1e-3, `offered ${offered_req_s[k]} at fraction ${fractions[k]}`);
    if (k > 0) assert.ok(scales[k] < scales[k - 1], "lightest load (largest scale) first");
  }
  assert.ok(offered_req_s[0] < cap && offered_req_s[4] > cap);
  assert.equal(String(scales[0]).replace(/^0\.0*/, "").length <= 4, true, "4 significant digits");
  assert.throws(() => scalesForCapacity(0, 700, 3), /cannot choose scales/);
  assert.throws(() => scalesForCapacity(5, 0, 3), /cannot choose scales/);
});

test("trace rate: (n - 1) / span, 0 without a span", () => {
  assert.equal(traceRate([0, 1, 2, 4]), 0.75);
  assert.equal(traceRate([3, 3, 3]), 0);
  assert.equal(traceRate([1]), 0);
});

test("capacity estimate: first 90 % of completions over first send to the last of them", () => {
  // 100 requests sent at 0, the first completing at 50 ms, then one every 10 ms (a steady 100 req/s).
  const steady = Array.from({ length: 100 }, (_, k) => rec({ i: k, sent_ms: 0, end_ms: 50 + 10 * k, chunks: [{ t_ms: 40 + 10 * k, n: 4 }] }));
  const c = capacityFromRecords(steady);
  // 90 completions by 50 + 890 ms.
  assert.ok(Math.abs(c.req_s! - 90 / 0.94) < 1e-9, `${c.req_s}`);
  assert.ok(Math.abs(c.output_tok_s! - (90 * 4) / 0.94) < 1e-9);
  assert.equal(c.completed, 100);
  assert.ok(Math.abs(c.duration_s - 1.04) < 1e-9);
  // One batch: everything finishes within 1 ms of 200 ms. The estimate is the batch's throughput.
  const batch = Array.from({ length: 40 }, (_, k) => rec({ i: k, sent_ms: 0, end_ms: 200 + k / 40, chunks: [{ t_ms: 199, n: 8 }] }));
  const b = capacityFromRecords(batch);
  assert.ok(b.req_s! > 170 && b.req_s! < 181, `${b.req_s}`);
  // Failures do not count; nothing completed -> null.
  assert.equal(capacityFromRecords([rec({ ok: false, error: "x", end_ms: 5 })]).req_s, null);
  assert.equal(capacityFromRecords([]).completed, 0);
});
