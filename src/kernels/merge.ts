// Pure merge of native measurements with the PyTorch anchors: one row per (phase, shape, backend),
// ratios against torch_fa2 and torch_cudnn of the same shape, anchors kept as rows of their own.
import type { AnchorFile, KernelRow, KernelsReport, NativeFile } from "./schema.js";

const finite = (x: number | null | undefined): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** anchor_ms / ms, or null when either is missing or not positive. */
export function speedup(anchorMs: number | null | undefined, ms: number | null | undefined): number | null {
  const a = finite(anchorMs), b = finite(ms);
  return a !== null && b !== null && a > 0 && b > 0 ? a / b : null;
}

export function mergeKernels(native: NativeFile | null, anchors: AnchorFile | null, created = new Date()): KernelsReport {
  const anchorMs = new Map<string, number>();
  for (const a of anchors?.rows ?? []) {
    const ms = finite(a.ms);
    if (a.status === "ok" && ms !== null) anchorMs.set(`${a.phase}|${a.shape}|${a.backend}`, ms);
  }
  const ratios = (phase: string, shape: string, ms: number | null) => ({
    vs_fa2: speedup(anchorMs.get(`${phase}|${shape}|torch_fa2`), ms),
    vs_cudnn: speedup(anchorMs.get(`${phase}|${shape}|torch_cudnn`), ms),
  });
  const rows: KernelRow[] = [];
  for (const r of native?.rows ?? []) {
    const ok = r.status === "ok";
    const ms = ok ? finite(r.ms) : null;
    rows.push({
      phase: r.phase, shape: r.shape, backend: r.backend, source: "native", status: r.status, ms,
      tflops: ok ? finite(r.tflops) : null, gbps: ok ? finite(r.gbps) : null, rel_err: ok ? finite(r.rel_err) : null,
      check: ok ? (r.ok ? "ok" : "fail") : null, ...ratios(r.phase, r.shape, ms),
    });
  }
  for (const a of anchors?.rows ?? []) {
    const ok = a.status === "ok";
    const ms = ok ? finite(a.ms) : null;
    rows.push({
      phase: a.phase, shape: a.shape, backend: a.backend, source: "anchor", status: a.status, ms,
      tflops: ok ? finite(a.tflops) : null, gbps: ok ? finite(a.gbps) : null, rel_err: null, check: null,
      ...ratios(a.phase, a.shape, ms),
    });
  }
  return {
    schema: "attnbench.kernels/1", created: created.toISOString(), device: native?.device ?? anchors?.device ?? "unknown",
    anchors_device: anchors?.device ?? null, torch: anchors?.torch ?? null, rows,
  };
}

/** Shapes in first-seen order, prefill before decode. */
export function shapeOrder(rows: readonly KernelRow[]): string[] {
  const seen: string[] = [];
  for (const phase of ["prefill", "decode"] as const)
    for (const r of rows) if (r.phase === phase && !seen.includes(r.shape)) seen.push(r.shape);
  return seen;
}

/** Rows whose correctness check failed (a failed check makes the command exit 1). */
export function failedChecks(report: KernelsReport): KernelRow[] {
  return report.rows.filter((r) => r.check === "fail");
}
