// offline_summary.md: one row per backend with throughputs, latency, greedy-output agreement and status.
import type { OfflineResults } from "../results/schema.js";
import { basename, fmt, metaLines } from "./describe.js";
import { mdTable } from "./markdown.js";

export function offlineSummaryMarkdown(results: OfflineResults, sourceFile: string): string {
  const w = results.workload;
  const ref = results.agreement.reference;
  const anyDetail = Object.values(results.agreement.detail ?? {})[0];
  const tols = {
    tie_tol: anyDetail?.tie_tol ?? 0.01,
    prefix_tol: anyDetail?.prefix_tol ?? 0.05,
    scaled: (anyDetail?.tie_tol ?? 0.01) !== 0.01,
  };
  const rows = results.runs.map((run) => {
    const agree = results.agreement.by_backend[run.backend.label];
    const detail = results.agreement.detail?.[run.backend.label];
    const ties = detail && run.backend.label !== ref && detail.exact < 1 ? ` (+${(detail.near_tie * 100).toFixed(1)}% near ties)` : "";
    const status = run.status === "ok" ? (run.invalid.length > 0 ? "ok (invalid, see below)" : "ok") : `${run.status}: ${run.reason ?? "no reason given"}`;
    const validRepeats = run.repeats.filter((r) => r.valid).length;
    return [
      run.backend.label,
      run.backend.prefill === run.backend.decode ? run.backend.prefill : `${run.backend.prefill} / ${run.backend.decode}`,
      fmt(run.req_s),
      fmt(run.output_tok_s),
      fmt(run.total_tok_s),
      fmt(run.total_latency_s),
      `${validRepeats}/${run.repeats.length}`,
      agree === undefined ? "–" : `${(agree * 100).toFixed(1)}%${run.backend.label === ref ? " (ref)" : ties}`,
      status,
    ];
  });
  const invalid = results.runs.flatMap((r) => [
    ...r.invalid.map((why) => `- ${r.backend.label}: ${why}`),
    ...r.repeats.filter((x) => !x.valid).map((x, i) => `- ${r.backend.label}, repeat ${i + 1}: ${x.invalid_reason ?? "invalid"}`),
  ]);
  return [
    `# Offline throughput summary`,
    ``,
    `Source: \`${basename(sourceFile)}\` (${results.schema}). Workload: ${w.num_prompts} prompts x ${w.input_len} input tokens, ` +
      `${w.output_len} output tokens, seed ${w.seed}, ${w.repeats} repeats (numbers are medians over valid repeats).`,
    ``,
    ...metaLines(results.meta),
    ``,
    mdTable(
      ["backend", "prefill / decode", "req/s", "output tok/s", "total tok/s", "total latency (s)", "valid repeats", `agreement vs ${ref ?? "–"}`, "status"],
      rows,
    ),
    ``,
    `Agreement: fraction of requests whose greedy output tokens equal the reference backend's. Near ties: requests ` +
      `whose first differing token was a near tie for both backends (chosen-token logprobs within ${tols.tie_tol}, earlier ` +
      `logprobs within ${tols.prefix_tol}${tols.scaled ? `, ${results.meta.device.dtype}'s tolerances` : ""}): rounding flips, not bugs.`,
    ``,
    `## Invalid runs`,
    ``,
    invalid.length > 0 ? invalid.join("\n") : `None.`,
    ``,
  ].join("\n");
}
