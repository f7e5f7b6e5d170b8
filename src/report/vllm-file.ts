// vllm_bench_serve.jsonl beside online_results.json: one line per (backend, scale) run, each a
// `vllm bench serve` result object (src/report/vllm-compat.ts), newline-separated as vLLM's
// --append-result writes them. Rewritten atomically with the results file.
import { writeFileSync, renameSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { OnlineResults } from "../results/schema.js";
import { vllmServeResult, type VllmRunContext } from "./vllm-compat.js";

export type VllmFileContext = Omit<VllmRunContext, "label" | "requestRate" | "extra">;

export function vllmResultLines(r: OnlineResults, ctx: VllmFileContext): Record<string, unknown>[] {
  return r.runs
    .filter((run) => run.records.length > 0)
    .map((run) =>
      vllmServeResult(run.records, {
        ...ctx,
        label: run.backend.label,
        requestRate: run.summary && run.summary.offered_rate > 0 ? run.summary.offered_rate : "inf",
        extra: {
          attnbench_backend: run.backend,
          attnbench_scale: run.scale,
          attnbench_status: run.status,
          attnbench_invalid: run.summary?.invalid ?? [],
          attnbench_trace_sha256: r.trace.sha256,
        },
      }),
    );
}

export function writeVllmResults(path: string, r: OnlineResults, ctx: VllmFileContext): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, vllmResultLines(r, ctx).map((x) => JSON.stringify(x)).join("\n") + "\n");
  renameSync(tmp, path);
}
