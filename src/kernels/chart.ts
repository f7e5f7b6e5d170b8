// TFLOPS per shape per backend (prefill) and GB/s (decode), one PNG: grouped bars, a colour per
// backend (ours and the PyTorch anchors alike), unavailable backends named in the subtitle.
import type { TopLevelSpec } from "vega-lite";
import { renderFigure } from "../plot/render.js";
import { PALETTE, VEGA_CONFIG } from "../plot/theme.js";
import { shapeOrder } from "./merge.js";
import type { KernelRow, KernelsReport } from "./schema.js";

export interface BarDatum {
  phase: "prefill" | "decode";
  shape: string;
  backend: string;
  value: number;
}

export function barData(report: KernelsReport): BarDatum[] {
  const out: BarDatum[] = [];
  for (const r of report.rows) {
    const value = r.phase === "prefill" ? r.tflops : r.gbps;
    if (r.status === "ok" && value !== null && r.check !== "fail") out.push({ phase: r.phase, shape: r.shape, backend: r.backend, value });
  }
  return out;
}

/** "backend, backend: reason" for the backends that did not run, one note per distinct reason. */
export function unavailableNotes(rows: readonly KernelRow[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const r of rows) {
    if (r.status === "ok" || r.status.startsWith("skipped")) continue;
    const reason = r.status.replace(/^unavailable:\s*/, "");
    const names = byReason.get(reason) ?? [];
    const name = `${r.backend} (${r.phase})`;
    if (!names.includes(name)) names.push(name);
    byReason.set(reason, names);
  }
  return [...byReason].map(([reason, names]) => `${names.join(", ")}: ${reason}`);
}

export function backendList(report: KernelsReport): string[] {
  const seen: string[] = [];
  for (const r of report.rows) if (!seen.includes(r.backend)) seen.push(r.backend);
  return seen;
}

export function kernelsChartSpec(report: KernelsReport): TopLevelSpec {
  const data = barData(report);
  const backends = backendList(report).filter((b) => data.some((d) => d.backend === b));
  const order = shapeOrder(report.rows);
  const color = { field: "backend", type: "nominal" as const, scale: { domain: backends, range: PALETTE.slice(0, Math.max(1, backends.length)) }, title: "backend" };
  const panel = (phase: "prefill" | "decode", title: string) => ({
    title,
    width: { step: 16 },
    height: 240,
    transform: [{ filter: `datum.phase === '${phase}'` }],
    mark: { type: "bar" as const, tooltip: true },
    encoding: {
      x: { field: "shape", type: "nominal" as const, sort: order, title: null, axis: { labelAngle: -35, labelLimit: 220 } },
      xOffset: { field: "backend", type: "nominal" as const, sort: backends },
      y: { field: "value", type: "quantitative" as const, title: phase === "prefill" ? "TFLOPS (causal, fp16)" : "GB/s (K+V read)" },
      color,
    },
  });
  const notes = unavailableNotes(report.rows);
  const subtitle = [`${report.device}; ratios and anchors from the same run${report.torch ? ` (torch ${report.torch})` : ""}`];
  for (const n of notes.slice(0, 3)) subtitle.push(`unavailable: ${n}`);
  if (notes.length > 3) subtitle.push(`(${notes.length - 3} more in kernels.json)`);
  const panels = [];
  if (data.some((d) => d.phase === "prefill")) panels.push(panel("prefill", "Prefill: TFLOPS per shape"));
  if (data.some((d) => d.phase === "decode")) panels.push(panel("decode", "Decode: GB/s per shape"));
  if (!panels.length) panels.push(panel("prefill", "No measurements"));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Attention kernels", subtitle },
    data: { values: data },
    vconcat: panels,
    config: { ...VEGA_CONFIG, legend: { ...VEGA_CONFIG.legend, symbolType: "square", symbolStrokeWidth: 0, symbolSize: 140 } },
  } as TopLevelSpec;
}

export async function renderKernelsChart(report: KernelsReport, dir: string): Promise<string[]> {
  return renderFigure(kernelsChartSpec(report), dir, "kernels");
}
