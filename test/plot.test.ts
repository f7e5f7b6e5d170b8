// Figures rendered from the fixture results: files, PNG size, pixels that show the data, text that
// names it, and committed snapshots of the vega-lite specs (a changed figure must change a snapshot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { plotResults } from "../src/plot/index.js";
import { loadResults } from "../src/results/load-results.js";
import { backendOrder, latencyRows, missingBackends } from "../src/metrics/online-data.js";
import { onlineGridSpec } from "../src/plot/online-spec.js";
import { offlineThroughputSpec, throughputRows } from "../src/plot/offline-spec.js";
import { specToSvg } from "../src/plot/render.js";
import { PALETTE, UNAVAILABLE_GREY } from "../src/plot/theme.js";
import type { OfflineResults, OnlineResults } from "../src/results/schema.js";
import { borderIsWhite, pixelStats, readPng } from "./fixtures/results/png.js";

const FIX = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "results");
const SNAP = join(FIX, "snapshots");
const out = mkdtempSync(join(tmpdir(), "attnbench-plot-"));

const svgSize = (svg: string) => {
  const m = svg.match(/<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"/)!;
  return { width: Number(m[1]), height: Number(m[2]) };
};

/** Collects vega/vega-lite warnings: a spec that compiles with warnings is a figure that lies somewhere. */
async function withoutWarnings<T>(fn: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const orig = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
  try {
    return { value: await fn(), warnings };
  } finally {
    console.warn = orig;
  }
}

let written: string[] = [];
test("plotResults writes every PNG with an SVG beside it, and the summaries", async () => {
  const r = await withoutWarnings(() =>
    plotResults({
      inputs: [join(FIX, "online_baseline.json"), join(FIX, "offline_baseline.json")],
      outDir: out,
      baseline: join(FIX, "online_baseline.json"),
      candidate: join(FIX, "online_candidate.json"),
    }),
  );
  written = r.value;
  assert.deepEqual(r.warnings, []);
  for (const name of ["online_latency", "online_ttft", "online_tpot", "online_itl", "online_e2e", "offline_throughput", "comparison_online_latency"]) {
    assert.ok(written.includes(join(out, `${name}.png`)), `${name}.png`);
    assert.ok(existsSync(join(out, `${name}.svg`)), `${name}.svg`);
  }
  for (const md of ["online_summary.md", "offline_summary.md", "comparison.md"]) assert.ok(existsSync(join(out, md)), md);
});

test("every PNG is 2x its SVG, not blank, shows each backend's colour, and nothing touches the edge", () => {
  const pngs = written.filter((p) => p.endsWith(".png"));
  assert.ok(pngs.length >= 7);
  for (const path of pngs) {
    const png = readPng(readFileSync(path));
    const svg = svgSize(readFileSync(path.replace(/\.png$/, ".svg"), "utf8"));
    assert.equal(png.width, Math.ceil(svg.width * 2), `${path} width`);
    assert.equal(png.height, Math.ceil(svg.height * 2), `${path} height`);
    assert.ok(png.width >= 1000 && png.height >= 700, `${path} is ${png.width}x${png.height}`);
    const stats = pixelStats(png);
    assert.ok(stats.distinct > 40, `${path}: only ${stats.distinct} colours`);
    assert.ok(stats.nonWhiteFraction > 0.03, `${path}: ${(stats.nonWhiteFraction * 100).toFixed(1)}% drawn`);
    // naive, fused, flashattn take the first three palette colours: their lines or bars must be there.
    for (const colour of PALETTE.slice(0, 3)) assert.ok(stats.count(colour) > 150, `${path}: colour ${colour} has ${stats.count(colour)} pixels`);
    assert.ok(borderIsWhite(png), `${path}: something is drawn at the image edge (clipped?)`);
  }
});

test("online figure text: title with model, device, trace, n; axis titles with units; legend; missing backend named", () => {
  const svg = readFileSync(join(out, "online_latency.svg"), "utf8");
  for (const text of ["Online latency vs arrival-time scale", "synthetic:gpt2 on NVIDIA H100 80GB HBM3 (fp16)", "synthetic_poisson_32.jsonl", "n = 32 requests per run",
    "TTFT (ms)", "TPOT (ms)", "ITL (ms)", "E2E (ms)", "arrival-time scale (offered req/s), smaller = heavier load", "hollow circle: p99",
    "naive", "fused", "flashattn", "flashinfer (unavailable)", "flashinfer: unavailable: not built"]) {
    assert.ok(svg.includes(text.replace(/</g, "&lt;")), `missing text: ${text}`);
  }
  // Hollow p99 markers: circles with a stroke and no fill.
  const p99 = [...svg.matchAll(/aria-label="[^"]*p99: [\d.]+"[^>]*>/g)].map((m) => m[0]);
  assert.ok(p99.length >= 15, `p99 markers: ${p99.length}`);
  for (const marker of p99) {
    assert.match(marker, /stroke="#[0-9A-Fa-f]{6}" stroke-width="1.6"/);
    assert.doesNotMatch(marker, / fill="/);
  }
});

test("offline figure: bars with value labels; the unavailable backend is greyed with its reason", () => {
  const svg = readFileSync(join(out, "offline_throughput.svg"), "utf8");
  for (const text of ["requests / s", "output tokens / s", "total tokens / s", "19,309", "flashinfer (unavailable)", "unavailable: not built: configure with"]) {
    assert.ok(svg.includes(text.replace(/</g, "&lt;")), `missing text: ${text}`);
  }
  assert.ok(svg.includes(`fill="${UNAVAILABLE_GREY}"`), "grey text for the unavailable backend");
});

test("comparison figure: dashed baseline and a run legend", () => {
  const svg = readFileSync(join(out, "comparison_online_latency.svg"), "utf8");
  assert.match(svg, /stroke-dasharray="6,4"/);
  assert.ok(svg.includes("baseline (p90 only)") && svg.includes("candidate"));
});

test("--log-scale gives log y axes and still renders cleanly", async () => {
  const dir = join(out, "log");
  const r = await withoutWarnings(() => plotResults({ inputs: [join(FIX, "online_baseline.json")], outDir: dir, logScale: true }));
  assert.deepEqual(r.warnings, []);
  const png = readPng(readFileSync(join(dir, "online_latency.png")));
  assert.ok(pixelStats(png).nonWhiteFraction > 0.03);
  assert.ok(readFileSync(join(dir, "online_latency.svg"), "utf8").includes("log y"));
});

async function specs() {
  const on = (await loadResults(join(FIX, "online_baseline.json"))).results as OnlineResults;
  const off = (await loadResults(join(FIX, "offline_baseline.json"))).results as OfflineResults;
  return {
    online_latency: onlineGridSpec({ rows: latencyRows(on), missing: missingBackends(on), backends: backendOrder([on]), results: on }),
    offline_throughput: offlineThroughputSpec({ rows: throughputRows(off), backends: backendOrder([off]), results: off }),
  };
}

test("vega-lite specs match the committed snapshots (UPDATE_SNAPSHOTS=1 to accept a deliberate change)", async () => {
  mkdirSync(SNAP, { recursive: true });
  for (const [name, spec] of Object.entries(await specs())) {
    const path = join(SNAP, `${name}.vl.json`);
    const text = JSON.stringify(spec, null, 1) + "\n";
    if (process.env.UPDATE_SNAPSHOTS === "1") writeFileSync(path, text);
    assert.ok(existsSync(path), `${path} missing: run with UPDATE_SNAPSHOTS=1 and commit it`);
    assert.equal(text, readFileSync(path, "utf8"), `${name}: spec differs from ${path}`);
  }
});

test("a broken spec is caught: a panel without data renders no backend colour", async () => {
  const { online_latency } = await specs();
  const broken = JSON.parse(JSON.stringify(online_latency));
  for (const panel of broken.concat) panel.data.values = [];
  const svg = await specToSvg(broken);
  for (const colour of PALETTE.slice(0, 3)) assert.ok(!svg.includes(`stroke="${colour}" stroke-width="2.2"`), "no lines without data");
});

test("edge cases render without warnings: one scale, one backend, a run with every request failed, zeros on a log axis, all offline backends missing", async () => {
  const { synthOnline, synthOffline, DEFAULT_BACKENDS } = await import("./fixtures/results/synth.js");
  const on = synthOnline({ seed: 5, scales: [1], backends: DEFAULT_BACKENDS.slice(0, 1) });
  const failedAll = synthOnline({ seed: 6, scales: [0.5, 1], backends: DEFAULT_BACKENDS.slice(1, 2) });
  for (const rec of failedAll.runs[0].records) Object.assign(rec, { ok: false, chunks: [], error: "engine: timeout" });
  failedAll.runs[0].summary = null;
  failedAll.runs[1].summary!.itl_ms = { ...failedAll.runs[1].summary!.itl_ms, p50: 0 };
  const off = synthOffline({ seed: 7, backends: DEFAULT_BACKENDS.slice(3) });
  const files = [on, failedAll, off].map((r, i) => {
    const path = join(out, `edge${i}`, `r${i}.json`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(r));
    return path;
  });
  const r = await withoutWarnings(() => plotResults({ inputs: files, outDir: join(out, "edge"), logScale: true }));
  assert.deepEqual(r.warnings, []);
  // Two online files: each in a subfolder named for its run folder.
  assert.ok(r.value.includes(join(out, "edge", "edge0", "online_latency.png")));
  assert.ok(r.value.includes(join(out, "edge", "edge1", "online_latency.png")));
  const png = readPng(readFileSync(join(out, "edge", "offline_throughput.png")));
  assert.ok(png.width > 500);
  assert.ok(readFileSync(join(out, "edge", "offline_throughput.svg"), "utf8").includes("flashinfer (unavailable)"));
});

test("a run flagged invalid is named in the figure title", async () => {
  const { synthOnline } = await import("./fixtures/results/synth.js");
  const r = synthOnline({ seed: 8, scales: [0.5, 1] });
  r.runs[0].summary!.invalid.push("dispatch lateness p99 12.5 ms > 5 ms");
  const svg = await specToSvg(onlineGridSpec({ rows: latencyRows(r), missing: missingBackends(r), backends: backendOrder([r]), results: r }));
  assert.ok(svg.includes("INVALID RUN naive @ scale 0.5: dispatch lateness p99 12.5 ms &gt; 5 ms"));
});

test("text is measured by the canvas in the registered DejaVu font, not estimated", async () => {
  const { registerFonts } = await import("../src/plot/render.js");
  const { createCanvas, GlobalFonts } = await import("canvas");
  const vega = await import("vega");
  registerFonts();
  assert.ok(GlobalFonts.has("DejaVu Sans"));
  const ctx = createCanvas(10, 10).getContext("2d");
  ctx.font = "bold 12px DejaVu Sans";
  const label = "flashinfer (unavailable)";
  const tm = (vega as unknown as { textMetrics: { width: (item: object, text: string) => number; estimateWidth: (item: object, text: string) => number } }).textMetrics;
  const measured = tm.width({ fontSize: 12, fontWeight: "bold", font: "DejaVu Sans" }, label);
  assert.ok(Math.abs(measured - ctx.measureText(label).width) < 1e-6, `${measured} vs ${ctx.measureText(label).width}`);
  assert.ok(Math.abs(measured - tm.estimateWidth({ fontSize: 12 }, label)) > 10, "not vega's 0.8 em estimate");
});
