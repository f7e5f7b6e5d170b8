// online_summary.md: one row per (scale, backend) with latency percentiles, throughput and failures.
import type { OnlineResults } from "../results/schema.js";
import { LATENCY_METRICS } from "../gate/request-metrics.js";
import { latencyRows, missingBackends, METRIC_TITLES } from "../plot/online-data.js";
import { basename, fmt, metaLines } from "./describe.js";
import { mdTable } from "./markdown.js";

export function onlineSummaryMarkdown(results: OnlineResults, sourceFile: string): string {
  const rows = latencyRows(results);
  const headers = ["scale", "backend"];
  for (const m of LATENCY_METRICS) for (const p of ["p50", "p90", "p99"]) headers.push(`${METRIC_TITLES[m].short} ${p} (ms)`);
  headers.push("req/s", "output tok/s", "failures");

  const order = [...new Set(results.runs.map((r) => r.backend.label))];
  const okRuns = results.runs
    .filter((r) => r.status === "ok")
    .sort((a, b) => a.scale - b.scale || order.indexOf(a.backend.label) - order.indexOf(b.backend.label));
  const body = okRuns.map((run) => {
    const cells = [String(run.scale), run.backend.label];
    for (const m of LATENCY_METRICS) {
      const row = rows.find((r) => r.backend === run.backend.label && r.scale === run.scale && r.metric === m);
      cells.push(fmt(row?.p50), fmt(row?.p90), fmt(row?.p99));
    }
    const s = run.summary;
    const failures = s
      ? s.failed === 0
        ? "0"
        : `${s.failed} (${Object.entries(s.failures).map(([why, k]) => `${k}x ${why}`).join("; ")})`
      : String(run.records.filter((r) => !r.ok).length);
    cells.push(fmt(s?.request_throughput), fmt(s?.output_throughput), failures);
    return cells;
  });

  const notRun = results.runs.filter((r) => r.status !== "ok");
  const invalid = okRuns.flatMap((r) => (r.summary?.invalid ?? []).map((why) => `- scale ${r.scale}, ${r.backend.label}: ${why}`));
  const missing = missingBackends(results);
  const t = results.trace;
  return [
    `# Online latency summary`,
    ``,
    `Source: \`${basename(sourceFile)}\` (${results.schema}). Trace \`${t.path}\` (${t.format}, sha256 ${t.sha256.slice(0, 12)}), ` +
      `${t.requests_used} requests used, ${t.clamped} clamped to the context; scales ${results.scales.join(", ")}; n = ${results.num_prompts} per run.`,
    ``,
    ...metaLines(results.meta),
    ``,
    `Latencies follow vllm bench serve: TTFT = first token - send, TPOT = (E2E - TTFT) / (N - 1), ITL = gaps between token chunks, E2E = last token - send. Smaller scale = heavier load.`,
    ``,
    mdTable(headers, body),
    ``,
    `## Invalid runs`,
    ``,
    invalid.length > 0 ? invalid.join("\n") : `None: every run passed the load generator's self-checks.`,
    ``,
    `## Backends or runs that did not happen`,
    ``,
    notRun.length === 0
      ? `None.`
      : (missing.length > 0 ? missing.map((m) => `- ${m.backend}: ${m.status} at every scale: ${m.reason}`) : [])
          .concat(notRun.filter((r) => !missing.some((m) => m.backend === r.backend.label)).map((r) => `- ${r.backend.label} at scale ${r.scale}: ${r.status}: ${r.reason ?? "no reason given"}`))
          .join("\n"),
    ``,
  ].join("\n");
}
