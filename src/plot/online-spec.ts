// Vega-lite specs for the online latency figures: per backend a p90 line, a shaded p50-p90 band and
// hollow p99 markers, against the arrival-time scale (its offered req/s in the axis labels), or, for
// --scales auto (each backend has its own scales), against the offered load in req/s with each
// backend's measured capacity as a dashed vertical rule. The 2x2 grid and the single-metric figures
// are the same panel at two sizes; a comparison adds a dashed baseline.
import type { TopLevelSpec } from "vega-lite";
import type { OnlineResults } from "../results/schema.js";
import { basename, deviceName, modelName } from "../report/describe.js";
import { LATENCY_METRICS, type LatencyMetric } from "../metrics/request-metrics.js";
import { METRIC_TITLES, type LatencyRow, type MissingBackend } from "../metrics/online-data.js";
import { VEGA_CONFIG, backendColorScale } from "./theme.js";

export interface OnlineFigureInput {
  rows: LatencyRow[];
  missing: MissingBackend[];
  /** Backend label order for colours (include missing ones so colours stay stable). */
  backends: string[];
  /** The file the title describes (the candidate in a comparison). */
  results: OnlineResults;
  logScale?: boolean;
  comparison?: { baseline: string; candidate: string };
}

const PANEL = { width: 340, height: 220 };
const SINGLE = { width: 560, height: 340 };

/** One line per backend that did not run; "(baseline)" only when the two runs disagree. */
function missingLines(missing: readonly MissingBackend[]): string[] {
  const byBackend = new Map<string, MissingBackend[]>();
  for (const m of missing) byBackend.set(m.backend, [...(byBackend.get(m.backend) ?? []), m]);
  const lines: string[] = [];
  for (const [backend, ms] of byBackend) {
    const same = ms.every((m) => m.status === ms[0].status && m.reason === ms[0].reason);
    if (same) lines.push(`${backend}: ${ms[0].status}: ${ms[0].reason}`);
    else for (const m of ms) lines.push(`${backend} (${m.run}): ${m.status}: ${m.reason}`);
  }
  return lines;
}

function titleBlock(input: OnlineFigureInput, what: string) {
  const r = input.results;
  const n = r.num_prompts;
  const lines = [
    `${modelName(r.meta)} on ${deviceName(r.meta)}`,
    `trace ${basename(r.trace.path)} (sha256 ${r.trace.sha256.slice(0, 8)}) · n = ${n} requests per run`,
    "line: p90 · shaded band: p50–p90 · hollow circle: p99" +
      (input.comparison ? " · solid: candidate, dashed: baseline p90" : "") +
      (input.logScale ? " · log y" : ""),
  ];
  if (input.comparison) lines.push(`baseline ${input.comparison.baseline} vs candidate ${input.comparison.candidate}`);
  const caps = (r.capacity ?? []).filter((c) => c.status === "ok" && c.req_s !== null);
  if (caps.length)
    lines.push(`capacity on this trace's mix (saturating run, dashed rule): ${caps.map((c) => `${c.backend.label} ${fmtRate(c.req_s!)} req/s`).join(", ")}`);
  if (r.max_concurrency) lines.push(`at most ${r.max_concurrency} requests in flight (--max-concurrency); client queue time is not in TTFT/E2E`);
  lines.push(...missingLines(input.missing));
  const late = r.runs.filter((run) => run.summary?.load_generator && !run.summary.load_generator.schedule_held);
  if (late.length) {
    const worst = Math.max(...late.map((run) => run.summary!.lateness_ms.p99));
    lines.push(`load generator behind schedule (lateness p99 > ${late[0].summary!.load_generator!.lateness_target_ms} ms) in ${late.length} of ${r.runs.length} runs, worst p99 ${worst.toFixed(1)} ms`);
  }
  // Numbers from a run the load generator flagged are drawn, but the title says not to trust them.
  for (const run of r.runs) {
    for (const why of run.summary?.invalid ?? []) lines.push(`INVALID RUN ${run.backend.label} @ scale ${run.scale}: ${why}`);
  }
  return { text: what, subtitle: lines };
}

/** Legend labels say "(unavailable)" / "(failed)" next to a backend that has no line to show. */
export function missingLabelExpr(missing: readonly { backend: string; status: string }[]): string {
  return missing.reduceRight(
    (rest, m) => `datum.label === ${JSON.stringify(m.backend)} ? ${JSON.stringify(`${m.backend} (${m.status})`)} : ${rest}`,
    "datum.label",
  );
}

/**
 * Tick values for a log axis over [min, max]: vega's own log ticks leave long unlabelled stretches
 * when the data span less than a decade, so pick from 1-2-5 (or finer) steps per decade ourselves.
 */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > min)) return [];
  const ladders = [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]];
  let best: number[] = [];
  for (const ladder of ladders) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (const m of ladder) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (v >= min && v <= max) ticks.push(v);
      }
    }
    best = ticks;
    if (ticks.length >= 4) break;
  }
  return best;
}

const againstWhat = (input: OnlineFigureInput) => (!input.comparison && input.results.scale_mode === "auto" ? "offered load" : "arrival-time scale");

const fmtRate = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(2));

/** The x axis: the scale (fixed scales, same for every backend) or the offered load (--scales auto). */
function xAxis(input: OnlineFigureInput) {
  const byOffered = !input.comparison && input.results.scale_mode === "auto";
  const field = byOffered ? "offered_req_s" : "scale";
  const values = [...new Set(input.rows.map((r) => (byOffered ? r.offered_req_s : r.scale)))].sort((a, b) => a - b);
  const caps = byOffered ? (input.results.capacity ?? []).flatMap((c) => (c.status === "ok" && c.req_s ? [c.req_s] : [])) : [];
  const span = [...values, ...caps];
  const log = span.length > 1 && Math.max(...span) / Math.min(...span) > 3;
  const scale = log ? { type: "log" as const, nice: false, padding: 14 } : { zero: false, nice: false, padding: 14 };
  if (byOffered)
    return { field, values, log, x: { field, type: "quantitative" as const, title: "offered load (req/s); dashed: capacity", scale, axis: { format: "~g", grid: true } } };
  // Each scale's label carries its offered load.
  const offered = new Map(input.rows.map((r) => [r.scale, r.offered_req_s]));
  const labelExpr = values.reduceRight((rest, s) => `datum.value === ${s} ? ${JSON.stringify(`${s} (${fmtRate(offered.get(s) ?? 0)}/s)`)} : ${rest}`, "datum.label");
  const axis = { values, format: "~g", grid: true, ...(offered.size && values.every((s) => (offered.get(s) ?? 0) > 0) ? { labelExpr, labelAngle: values.length > 4 ? -30 : 0 } : {}) };
  return { field, values, log, x: { field, type: "quantitative" as const, title: "arrival-time scale (offered req/s), smaller = heavier load", scale, axis } };
}

function panel(metric: LatencyMetric, input: OnlineFigureInput, size: { width: number; height: number }) {
  const ax = xAxis(input);
  const scales = ax.values;
  const color = {
    field: "backend",
    type: "nominal" as const,
    title: "backend",
    scale: backendColorScale(input.backends, new Set(input.missing.map((m) => m.backend))),
    legend: { labelExpr: missingLabelExpr(input.missing) },
  };
  // A sweep spanning more than 3x (0.4 .. 1.6) reads better on a log axis: equal ratios, equal steps.
  const x = ax.x;
  const capacities = ax.field === "offered_req_s" ? (input.results.capacity ?? []).filter((c) => c.status === "ok" && c.req_s).map((c) => ({ backend: c.backend.label, req_s: c.req_s })) : [];
  // Log: no "nice" rounding to whole decades, which would squeeze the data into a third of the panel.
  const yScale = input.logScale ? { type: "log" as const, nice: false, padding: 8 } : { zero: true };
  const values = input.rows.filter((r) => r.metric === metric).flatMap((r) => [r.p50, r.p90, r.p99]).filter((v) => v > 0);
  const yAxis = values.length === 0
    ? { labels: false, ticks: false, grid: false }
    : input.logScale ? { values: logTicks(Math.min(...values), Math.max(...values)), format: "~g" } : {};
  const yTitle = `${METRIC_TITLES[metric].short} (ms)`;
  const dash = input.comparison
    ? {
        strokeDash: {
          field: "run",
          type: "nominal" as const,
          title: "run",
          scale: { domain: ["candidate", "baseline"], range: [[1, 0], [6, 4]] },
          legend: { encode: { symbols: { update: { stroke: { value: "#333" } } } }, labelExpr: "datum.label === 'baseline' ? 'baseline (p90 only)' : 'candidate'" },
        },
      }
    : {};
  // In a comparison only the candidate gets band and p99 markers; the baseline is its dashed p90 line.
  // Two sets of bands and markers on one panel hide each other.
  const candidateOnly = input.comparison ? [{ filter: "datum.run === 'candidate'" }] : [];
  // A log axis cannot show 0 (e.g. per-token ITL of a multi-token chunk): such rows are left out.
  const rows = input.rows.filter((r) => r.metric === metric && (!input.logScale || r.p50 > 0));
  return {
    ...size,
    title: { text: `${METRIC_TITLES[metric].long} (${METRIC_TITLES[metric].short})`, fontSize: 13, anchor: "start" as const },
    data: { values: rows },
    layer: [
      ...(rows.length === 0
        ? [{ data: { values: [{}] }, mark: { type: "text" as const, text: "no data", fontSize: 13, color: "#777" }, encoding: { x: { datum: scales[0] ?? 1, type: "quantitative" as const, scale: x.scale, title: x.title, axis: x.axis }, y: { value: size.height / 2 } } }]
        : []),
      // One measured scale gives an area nothing to span: draw the p50-p90 band as a thick bar instead.
      ...(scales.length === 1
        ? [{ transform: candidateOnly, mark: { type: "rule" as const, strokeWidth: 10, opacity: 0.2 }, encoding: { x, y: { field: "p50", type: "quantitative" as const, title: yTitle }, y2: { field: "p90" }, color } }]
        : []),
      ...(capacities.length
        ? [{ data: { values: capacities }, mark: { type: "rule" as const, strokeDash: [5, 4], strokeWidth: 1.4, opacity: 0.8 }, encoding: { x: { field: "req_s", type: "quantitative" as const, scale: x.scale, title: x.title }, color } }]
        : []),
      {
        mark: { type: "area" as const, opacity: 0.2 },
        transform: candidateOnly,
        encoding: { x, y: { field: "p50", type: "quantitative" as const, title: yTitle, scale: yScale, axis: yAxis }, y2: { field: "p90" }, color },
      },
      {
        mark: { type: "line" as const, strokeWidth: 2.2, point: { filled: true, size: 28 } },
        encoding: { x, y: { field: "p90", type: "quantitative" as const, title: yTitle }, color, ...dash },
      },
      {
        transform: candidateOnly,
        mark: { type: "point" as const, filled: false, shape: "circle", size: 60, strokeWidth: 1.6, opacity: 0.95 },
        encoding: {
          x,
          y: { field: "p99", type: "quantitative" as const, title: yTitle },
          color,
          tooltip: [{ field: "backend" }, { field: "scale" }, { field: "p50" }, { field: "p90" }, { field: "p99" }],
        },
      },
    ],
  };
}

export function onlineGridSpec(input: OnlineFigureInput): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: titleBlock(input, input.comparison ? "Online latency: candidate vs baseline" : `Online latency vs ${againstWhat(input)}`),
    config: VEGA_CONFIG,
    columns: 2,
    concat: LATENCY_METRICS.map((m) => panel(m, input, PANEL)),
    resolve: { scale: { y: "independent", color: "shared", strokeDash: "shared" } },
  } as TopLevelSpec;
}

export function onlineMetricSpec(input: OnlineFigureInput, metric: LatencyMetric): TopLevelSpec {
  const p = panel(metric, input, SINGLE);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: VEGA_CONFIG,
    ...p,
    title: titleBlock(input, `${p.title.text} vs ${againstWhat(input)}`),
  } as TopLevelSpec;
}
