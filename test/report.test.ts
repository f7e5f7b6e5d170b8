// Markdown summaries from the fixture results: tables, meta, failures, unavailable backends, ratios.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadResults, parseResults, ResultsFileError } from "../src/results/load-results.js";
import { onlineSummaryMarkdown } from "../src/report/online-summary.js";
import { offlineSummaryMarkdown } from "../src/report/offline-summary.js";
import { comparisonMarkdown } from "../src/report/comparison.js";
import { mdTable } from "../src/report/markdown.js";
import type { OfflineResults, OnlineResults } from "../src/results/schema.js";
import { synthOnline } from "./fixtures/results/synth.js";

const FIX = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "results");
const load = (name: string) => loadResults(join(FIX, name));

const tableRows = (md: string, firstCell: RegExp) => md.split("\n").filter((l) => l.startsWith("| ") && firstCell.test(l.split("|")[1].trim()));

test("online summary: one row per ok (scale, backend) with 12 latency columns, req/s and failures; meta; missing backend", async () => {
  const { file, results } = await load("online_baseline.json");
  const md = onlineSummaryMarkdown(results as OnlineResults, file);
  const rows = tableRows(md, /^[\d.]+$/);
  assert.equal(rows.length, 15); // 5 scales x 3 backends that ran
  assert.equal(rows[0].split("|").length - 2, 3 + 12 + 4);
  assert.match(md, /\| scale \| offered req\/s \| backend \| TTFT p50 \(ms\) \| TTFT p90 \(ms\) \| TTFT p99 \(ms\) \| TPOT p50/);
  assert.match(md, /\| output tok\/s \| lateness p99 \(ms\) \| failures \|/);
  assert.match(md, /1 \(1x engine: KV cache exhausted \(preempted 3 times\)\)/);
  assert.match(md, /git 0121cb9/);
  assert.match(md, /NVIDIA H100 80GB HBM3 \(cuda, fp16\), driver 580\.65\.06, CUDA 13\.0/);
  assert.match(md, /wall 187\.4 s/);
  assert.match(md, /flashinfer: unavailable at every scale: not built/);
  assert.match(md, /None: every run passed/);
});

test("online summary lists invalid-run flags", () => {
  const r = synthOnline({ seed: 3, scales: [0.5, 1] });
  r.runs[1].summary!.invalid.push("dispatch lateness p99 12.5 ms > 5 ms");
  const md = onlineSummaryMarkdown(r, "x.json");
  assert.match(md, /- scale 1, naive: dispatch lateness p99 12\.5 ms > 5 ms/);
});

test("offline summary: every backend has a row, the unavailable one with its reason; agreement in %", async () => {
  const { file, results } = await load("offline_baseline.json");
  const md = offlineSummaryMarkdown(results as OfflineResults, file);
  const rows = tableRows(md, /^(naive|fused|flashattn|flashinfer)$/);
  assert.equal(rows.length, 4);
  assert.match(rows[0], /100\.0% \(ref\)/);
  assert.match(rows[2], /96\.9%/);
  assert.match(rows[3], /unavailable: not built/);
  assert.match(md, /\| backend \| prefill \/ decode \| req\/s \| output tok\/s \| total tok\/s \| total latency \(s\) \|/);
});

test("comparison: candidate/baseline ratios per backend (offline) and per scale and backend (online)", async () => {
  const [ob, oc] = [await load("offline_baseline.json"), await load("offline_candidate.json")];
  const off = comparisonMarkdown(ob, oc);
  const fused = tableRows(off, /^fused$/)[0];
  const cells = fused.split("|").map((c) => c.trim());
  const reqRatio = Number(cells[2].replace("x", ""));
  const expected = (oc.results as OfflineResults).runs[1].req_s! / (ob.results as OfflineResults).runs[1].req_s!;
  assert.ok(Math.abs(reqRatio - expected) < 1e-3, `${reqRatio} vs ${expected}`);
  assert.match(off, /flashinfer: baseline unavailable, candidate unavailable/);
  const [nb, nc] = [await load("online_baseline.json"), await load("online_candidate.json")];
  const on = comparisonMarkdown(nb, nc);
  assert.equal(tableRows(on, /^[\d.]+$/).length, 15);
  assert.match(comparisonMarkdown(nb, oc), /Cannot compare/);
});

test("results loading: a schema error names the file and the field; bad JSON is named too", () => {
  assert.throws(() => parseResults("bad.json", "{"), (e: unknown) => e instanceof ResultsFileError && /bad\.json: not JSON/.test(e.message));
  assert.throws(() => parseResults("odd.json", JSON.stringify({ schema: "attnbench.online/1" })), (e: unknown) => e instanceof ResultsFileError && /odd\.json: not a valid attnbench results file/.test(e.message) && /meta/.test(e.message));
});

test("mdTable right-aligns numeric columns only and escapes pipes", () => {
  const t = mdTable(["a", "b"], [["x|y", "1.5"], ["z", "–"]]);
  assert.equal(t.split("\n")[1], "| --- | ---: |");
  assert.match(t, /x\\\|y/);
});
