// `attnbench kernels`: merge and ratio logic, the table, and the chart, on fixture JSON (no GPU).
// h100_*.json are the files of a real run on the H100 (scripts/gpu/kernels-check.sh); the small
// hand-made files below pin the arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mergeKernels, shapeOrder, speedup, failedChecks } from "../src/kernels/merge.js";
import { barData, kernelsChartSpec, unavailableNotes } from "../src/kernels/chart.js";
import { formatKernelsTable } from "../src/kernels/table.js";
import { loadInputs, readKernelsFile, runKernels } from "../src/kernels/run.js";
import { specToPng, specToSvg } from "../src/plot/render.js";
import { readPng } from "./fixtures/results/png.js";
import type { AnchorFile, NativeFile } from "../src/kernels/schema.js";
import { cli } from "./helpers/cli.js";

const FIX = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "kernels");
const out = mkdtempSync(join(tmpdir(), "attnbench-kernels-"));

const native: NativeFile = {
  schema: "attnbench.kernels.native/1",
  device: "Test GPU",
  rows: [
    { phase: "prefill", shape: "A", backend: "fused", status: "ok", ms: 2, tflops: 100, gbps: null, rel_err: 3e-4, ok: true },
    { phase: "prefill", shape: "A", backend: "flashattn", status: "unavailable: built without libtorch", ms: null },
    { phase: "prefill", shape: "B", backend: "fused", status: "ok", ms: 4, tflops: 50, rel_err: 5e-3, ok: false },
    { phase: "decode", shape: "D", backend: "fused", status: "ok", ms: 0.5, tflops: null, gbps: 2800, rel_err: 1e-4, ok: true },
  ],
};
const anchors: AnchorFile = {
  schema: "attnbench.kernels.anchors/1",
  device: "Test GPU",
  torch: "2.11.0",
  rows: [
    { phase: "prefill", shape: "A", backend: "torch_fa2", status: "ok", ms: 3, tflops: 66.7 },
    { phase: "prefill", shape: "A", backend: "torch_cudnn", status: "ok", ms: 1, tflops: 200 },
    { phase: "decode", shape: "D", backend: "torch_fa2", status: "ok", ms: 0.6, gbps: 2333 },
    { phase: "decode", shape: "D", backend: "torch_cudnn", status: "unavailable: no cudnn", ms: null },
  ],
};

test("speedup is anchor time over our time, null when either is missing or not positive", () => {
  assert.equal(speedup(3, 2), 1.5);
  assert.equal(speedup(null, 2), null);
  assert.equal(speedup(3, 0), null);
  assert.equal(speedup(Number.NaN, 2), null);
});

test("merge: ratios per shape against FA2 and cuDNN of the same run; anchors kept as rows", () => {
  const r = mergeKernels(native, anchors, new Date("2026-11-25T00:00:00Z"));
  const fusedA = r.rows.find((x) => x.shape === "A" && x.backend === "fused")!;
  assert.equal(fusedA.vs_fa2, 1.5);
  assert.equal(fusedA.vs_cudnn, 0.5);
  assert.equal(fusedA.check, "ok");
  const fusedB = r.rows.find((x) => x.shape === "B")!;
  assert.equal(fusedB.vs_fa2, null, "no anchor for shape B");
  assert.equal(fusedB.check, "fail");
  const dec = r.rows.find((x) => x.phase === "decode" && x.backend === "fused")!;
  assert.ok(Math.abs(dec.vs_fa2! - 1.2) < 1e-12);
  assert.equal(dec.vs_cudnn, null, "an unavailable anchor gives no ratio");
  const fa = r.rows.find((x) => x.backend === "flashattn")!;
  assert.equal(fa.status, "unavailable: built without libtorch");
  assert.equal(fa.ms, null);
  assert.equal(r.rows.filter((x) => x.source === "anchor").length, 4);
  assert.equal(r.created, "2026-11-25T00:00:00.000Z");
  assert.deepEqual(shapeOrder(r.rows), ["A", "B", "D"]);
  assert.equal(failedChecks(r).length, 1);
});

test("merge works with only one of the two files", () => {
  assert.equal(mergeKernels(native, null).rows.every((x) => x.vs_fa2 === null), true);
  assert.equal(mergeKernels(null, anchors).rows.length, 4);
});

test("table: one line per row, ratios printed, unavailable reasons shown, failures counted", () => {
  const t = formatKernelsTable(mergeKernels(native, anchors));
  assert.match(t, /prefill\s+A\s+fused\s+2\.0000\s+100\.0\s+-\s+1\.50\s+0\.50\s+ok/);
  assert.match(t, /flashattn\s+unavailable: built without libtorch/);
  assert.match(t, /1 correctness check\(s\) FAILED/);
  assert.match(t, /\(anchor\)/);
});

test("chart data: prefill in TFLOPS, decode in GB/s, failed checks and unavailable rows left out", () => {
  const d = barData(mergeKernels(native, anchors));
  assert.deepEqual(
    d.map((x) => `${x.phase}/${x.shape}/${x.backend}=${x.value}`).sort(),
    ["decode/D/fused=2800", "decode/D/torch_fa2=2333", "prefill/A/fused=100", "prefill/A/torch_cudnn=200", "prefill/A/torch_fa2=66.7"],
  );
  assert.deepEqual(unavailableNotes(mergeKernels(native, anchors).rows), [
    "flashattn (prefill): built without libtorch",
    "torch_cudnn (decode): no cudnn",
  ]);
  const twice = mergeKernels({ ...native, rows: [...native.rows, { ...native.rows[1]!, phase: "decode" }] }, null);
  assert.deepEqual(unavailableNotes(twice.rows), ["flashattn (prefill), flashattn (decode): built without libtorch"]);
});

test("the real H100 run: fixtures parse, every native check passed, FA2 ratios present", () => {
  const { native: n, anchors: a } = loadInputs([FIX]);
  assert.ok(n && a);
  const r = mergeKernels(n, a);
  assert.equal(failedChecks(r).length, 0);
  const fused = r.rows.find((x) => x.shape === "8x4096x32x128" && x.backend === "fused")!;
  assert.ok(fused.vs_fa2! > 0.3 && fused.vs_fa2! < 3);
  assert.ok(r.rows.some((x) => x.backend === "flashattn" && x.status.startsWith("unavailable")));
});

test("chart renders: SVG names the backends, PNG is not blank", async () => {
  const { native: n, anchors: a } = loadInputs([FIX]);
  const spec = kernelsChartSpec(mergeKernels(n, a));
  const svg = await specToSvg(spec);
  for (const name of ["fused", "flashinfer", "torch_fa2", "Prefill: TFLOPS per shape", "Decode: GB/s per shape"]) assert.ok(svg.includes(name), name);
  const png = readPng((await specToPng(spec)).png);
  assert.ok(png.width > 400 && png.height > 300);
  let dark = 0;
  for (let i = 0; i < png.rgba.length; i += 4) if (png.rgba[i]! < 128) dark++;
  assert.ok(dark > 1000, "bars and text drawn");
});

test("runKernels --from writes kernels.json and the figure; bad input is a usage error", async () => {
  const dir = join(out, "run");
  const { report, written } = await runKernels({ from: [join(FIX, "h100_native.json"), join(FIX, "h100_anchors.json")], python: "python3", quick: false, out: dir });
  assert.ok(written.every((p) => existsSync(p)));
  const saved = JSON.parse(readFileSync(join(dir, "kernels.json"), "utf8"));
  assert.equal(saved.schema, "attnbench.kernels/1");
  assert.equal(saved.rows.length, report.rows.length);
  const bad = join(out, "bad.json");
  writeFileSync(bad, JSON.stringify({ schema: "something/else" }));
  assert.throws(() => readKernelsFile(bad), /neither attnbench.kernels.native\/1 nor/);
  assert.throws(() => loadInputs([join(out, "missing")]), /no such file/);
});

test("a batched H200 run (session 8 run 3): calls_per_timing kept, checks passed, cuDNN ratios where it ran", () => {
  const dir = join(FIX, "h200_s8_run3");
  const { native: n, anchors: a } = loadInputs([join(dir, "b_def1.json"), join(dir, "anchors.json")]);
  assert.ok(n && a);
  assert.ok(n.rows.every((r) => (r.calls_per_timing ?? 0) >= 1), "every native row says how many calls a timing held");
  assert.ok(n.rows.some((r) => (r.calls_per_timing ?? 0) > 1), "short rows are timed in batches");
  const r = mergeKernels(n, a);
  assert.equal(failedChecks(r).length, 0);
  const chunk = r.rows.find((x) => x.shape.startsWith("chunk") && x.backend === "fused")!;
  assert.ok(chunk.vs_cudnn !== null && chunk.vs_cudnn > 1, "the chunked row has a cuDNN anchor (bottom-right mask)");
  const varlen = r.rows.find((x) => x.shape.startsWith("varlen16") && x.backend === "fused")!;
  assert.equal(varlen.vs_cudnn, null, "no cuDNN anchor on varlen rows");
});

test("kernels --batch-ms / --shape: out of range, not a number, empty, or given with --from is a usage error (exit 2)", async () => {
  for (const bad of ["-1", "abc", "5000"]) {
    const r = await cli(["kernels", "--batch-ms", bad, "--from", FIX]);
    assert.equal(r.exitCode, 2, `--batch-ms ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--batch-ms/);
  }
  const empty = await cli(["kernels", "--shape", "", "--from", FIX]);
  assert.equal(empty.exitCode, 2, empty.stderr);
  assert.match(empty.stderr, /--shape/);
  const withFrom = await cli(["kernels", "--shape", "llama", "--batch-ms", "1", "--from", FIX]);
  assert.equal(withFrom.exitCode, 2, withFrom.stderr);
  assert.match(withFrom.stderr, /--batch-ms: only applies when measuring, not with --from/);
  assert.match(withFrom.stderr, /--shape: only applies when measuring, not with --from/);
});
