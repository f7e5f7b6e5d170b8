// Plain-text table of a merged kernels report (printed last by `attnbench kernels`).
import type { KernelRow, KernelsReport } from "./schema.js";
import { shapeOrder } from "./merge.js";

const f = (x: number | null, digits: number, width: number) => (x === null ? "-" : x.toFixed(digits)).padStart(width);

export function formatKernelsTable(report: KernelsReport): string {
  const lines = [
    `device: ${report.device}${report.torch ? `   anchors: torch ${report.torch}` : ""}`,
    `${"phase".padEnd(7)} ${"shape".padEnd(28)} ${"backend".padEnd(15)} ${"ms".padStart(9)} ${"TFLOPS".padStart(7)} ${"GB/s".padStart(6)} ${"xFA2".padStart(6)} ${"xcuDNN".padStart(6)}  check`,
  ];
  const order = shapeOrder(report.rows);
  const rows = [...report.rows].sort(
    (a, b) => order.indexOf(a.shape) - order.indexOf(b.shape) || (a.source === b.source ? 0 : a.source === "native" ? -1 : 1),
  );
  for (const r of rows) lines.push(formatRow(r));
  const failed = report.rows.filter((r) => r.check === "fail").length;
  lines.push(failed ? `${failed} correctness check(s) FAILED` : "all correctness checks ok");
  return lines.join("\n");
}

function formatRow(r: KernelRow): string {
  const head = `${r.phase.padEnd(7)} ${r.shape.padEnd(28)} ${r.backend.padEnd(15)}`;
  if (r.status !== "ok") return `${head} ${r.status}`;
  const check = r.source === "anchor" ? "(anchor)" : r.check ?? "";
  return `${head} ${f(r.ms, 4, 9)} ${f(r.tflops, 1, 7)} ${f(r.gbps, 0, 6)} ${f(r.vs_fa2, 2, 6)} ${f(r.vs_cudnn, 2, 6)}  ${check}`;
}
