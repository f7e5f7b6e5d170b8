// Vega-lite spec for the offline throughput figure: one horizontal bar panel per metric (req/s,
// output tok/s, total tok/s), value labels at the bar ends, a thin rule for the spread over repeats.
// A backend that did not run keeps its row, greyed, with its reason: absence is a result too.
import type { TopLevelSpec } from "vega-lite";
import type { OfflineResults } from "../results/schema.js";
import { deviceName, modelName } from "../report/describe.js";
import type { RunRole } from "../metrics/online-data.js";
import { missingLabelExpr } from "./online-spec.js";
import { UNAVAILABLE_GREY, VEGA_CONFIG, backendColorScale } from "./theme.js";

export type ThroughputMetric = "req_s" | "output_tok_s" | "total_tok_s";
export const THROUGHPUT_METRICS: { key: ThroughputMetric; title: string; axis: string; format: string }[] = [
  { key: "req_s", title: "Request throughput", axis: "requests / s", format: ",.1f" },
  { key: "output_tok_s", title: "Output token throughput", axis: "output tokens / s", format: ",.0f" },
  { key: "total_tok_s", title: "Total token throughput (prompt + output)", axis: "total tokens / s", format: ",.0f" },
];

export interface ThroughputRow {
  run: RunRole;
  backend: string;
  metric: ThroughputMetric;
  /** Median over valid repeats; 0 for a backend that did not run (drawn as an empty, grey row). */
  value: number;
  lo: number | null;
  hi: number | null;
  status: "ok" | "unavailable" | "failed";
  note: string;
}

export function throughputRows(results: OfflineResults, role: RunRole = "single"): ThroughputRow[] {
  const rows: ThroughputRow[] = [];
  for (const run of results.runs) {
    for (const { key } of THROUGHPUT_METRICS) {
      const samples = run.repeats.filter((r) => r.valid).map((r) => r[key]);
      const value = run.status === "ok" ? (run[key] ?? 0) : 0;
      rows.push({
        run: role,
        backend: run.backend.label,
        metric: key,
        value,
        lo: samples.length > 1 ? Math.min(...samples) : null,
        hi: samples.length > 1 ? Math.max(...samples) : null,
        status: run.status,
        note: run.status === "ok" ? "" : `${run.status}: ${run.reason ?? "no reason given"}`,
      });
    }
  }
  return rows;
}

export interface OfflineFigureInput {
  rows: ThroughputRow[];
  backends: string[];
  results: OfflineResults;
  comparison?: { baseline: string; candidate: string };
}

function panel(metric: (typeof THROUGHPUT_METRICS)[number], input: OfflineFigureInput) {
  const rows = dedupeNotes(input.rows.filter((r) => r.metric === metric.key));
  const max = Math.max(1e-9, ...rows.map((r) => Math.max(r.value, r.hi ?? 0)));
  const missing = rows.filter((r) => r.status !== "ok" && r.run !== "baseline");
  const x = {
    field: "value",
    type: "quantitative" as const,
    title: metric.axis,
    // Headroom on the right for the value labels, so none is clipped.
    scale: { domain: [0, max * 1.22], nice: false },
    axis: { format: max >= 10000 ? ",d" : ",~r", grid: true, labelOverlap: true },
  };
  const y = {
    field: "backend",
    type: "nominal" as const,
    title: null,
    sort: input.backends,
    axis: { labelFontSize: 12, labelExpr: missingLabelExpr(uniqueBy(missing, (m) => m.backend)), labelLimit: 220 },
  };
  const yOffset = input.comparison
    ? { yOffset: { field: "run", type: "nominal" as const, sort: ["baseline", "candidate"], title: "run" } }
    : {};
  const opacity = input.comparison
    ? { opacity: { field: "run", type: "nominal" as const, title: "run", sort: ["baseline", "candidate"], scale: { domain: ["baseline", "candidate"], range: [0.45, 1] },
        legend: { symbolType: "square", encode: { symbols: { update: { fill: { value: "#555" }, stroke: { value: "#555" }, strokeWidth: { value: 0 } } } } } } }
    : {};
  const color = {
    field: "backend",
    type: "nominal" as const,
    title: "backend",
    legend: null,
    scale: backendColorScale(input.backends, new Set(missing.map((m) => m.backend))),
  };
  return {
    width: 520,
    height: { step: input.comparison ? 17 : 26 },
    title: { text: metric.title, fontSize: 13, anchor: "start" as const },
    data: { values: rows },
    encoding: { y, ...yOffset },
    layer: [
      { mark: { type: "bar" as const, cornerRadiusEnd: 2 }, encoding: { x, color, ...opacity } },
      {
        mark: { type: "rule" as const, color: "#333", strokeWidth: 1.2 },
        transform: [{ filter: "datum.lo != null" }],
        encoding: { x: { field: "lo", type: "quantitative" as const }, x2: { field: "hi" } },
      },
      {
        mark: { type: "text" as const, align: "left" as const, dx: 5, fontSize: 11, color: "#222" },
        transform: [{ filter: "datum.status === 'ok'" }, { calculate: "max(datum.value, datum.hi || 0)", as: "label_x" }],
        encoding: { x: { field: "label_x", type: "quantitative" as const }, text: { field: "value", type: "quantitative" as const, format: metric.format } },
      },
      {
        mark: { type: "text" as const, align: "left" as const, dx: 4, fontSize: 11, fontStyle: "italic", color: UNAVAILABLE_GREY, limit: 500 },
        transform: [{ filter: "datum.status !== 'ok' && datum.note !== ''" }, { calculate: "datum.run === 'baseline' ? datum.note + ' (baseline)' : datum.note", as: "label" }],
        encoding: { x: { datum: 0 }, text: { field: "label" } },
      },
    ],
  };
}

/** A backend missing from both runs for the same reason gets one note, not two. */
function dedupeNotes(rows: ThroughputRow[]): ThroughputRow[] {
  return rows.map((r) => {
    if (r.run !== "baseline" || r.status === "ok") return r;
    const twin = rows.find((c) => c.run === "candidate" && c.backend === r.backend);
    return twin && twin.note === r.note ? { ...r, note: "" } : r;
  });
}

function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => (seen.has(key(t)) ? false : (seen.add(key(t)), true)));
}

export function offlineThroughputSpec(input: OfflineFigureInput): TopLevelSpec {
  const r = input.results;
  const w = r.workload;
  const subtitle = [
    `${modelName(r.meta)} on ${deviceName(r.meta)} · ${w.num_prompts} prompts x ${w.input_len} input + ${w.output_len} output tokens, ${w.repeats} repeats`,
    "bar: median over repeats · black rule: min–max over repeats" + (input.comparison ? " · faded: baseline, solid: candidate" : ""),
  ];
  if (input.comparison) subtitle.push(`baseline ${input.comparison.baseline} vs candidate ${input.comparison.candidate}`);
  for (const run of r.runs) for (const why of run.invalid) subtitle.push(`INVALID RUN ${run.backend.label}: ${why}`);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: input.comparison ? "Offline throughput: candidate vs baseline" : "Offline throughput", subtitle },
    config: VEGA_CONFIG,
    vconcat: THROUGHPUT_METRICS.map((m) => panel(m, input)),
    resolve: { scale: { x: "independent", color: "shared" } },
  } as TopLevelSpec;
}
