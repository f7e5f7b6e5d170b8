// online_summary.md: one row per (scale, backend) with the offered load, latency percentiles,
// throughput, goodput, the load generator's lateness and failures; then capacity (--scales auto),
// prefix sharing and caching, invalid runs and what did not run.
import type { OnlineResults, OnlineRun } from "../results/schema.js";
import { LATENCY_METRICS } from "../metrics/request-metrics.js";
import { latencyRows, missingBackends, METRIC_TITLES, offeredOf } from "../metrics/online-data.js";
import { basename, fmt, metaLines } from "./describe.js";
import { mdTable } from "./markdown.js";

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(1)}%`);

export function onlineSummaryMarkdown(results: OnlineResults, sourceFile: string): string {
  const rows = latencyRows(results);
  const auto = results.scale_mode === "auto";
  const anyQueue = results.runs.some((r) => (r.summary?.queue_ms?.max ?? 0) > 0);
  const anyGoodput = results.runs.some((r) => r.summary?.goodput);
  const anyCache = results.runs.some((r) => r.summary?.prefix_cache);
  const headers = ["scale", "offered req/s", ...(auto ? ["load"] : []), "backend"];
  for (const m of LATENCY_METRICS) for (const p of ["p50", "p90", "p99"]) headers.push(`${METRIC_TITLES[m].short} ${p} (ms)`);
  headers.push("req/s", "output tok/s");
  if (anyGoodput) headers.push("goodput req/s");
  if (anyQueue) headers.push("queue p50 / p99 (ms)");
  if (anyCache) headers.push("prefix hit");
  headers.push("lateness p99 (ms)", "failures");

  const order = [...new Set(results.runs.map((r) => r.backend.label))];
  const okRuns = results.runs
    .filter((r) => r.status === "ok")
    .sort((a, b) => (auto ? order.indexOf(a.backend.label) - order.indexOf(b.backend.label) || b.scale - a.scale : a.scale - b.scale || order.indexOf(a.backend.label) - order.indexOf(b.backend.label)));
  const body = okRuns.map((run) => {
    const cells = [String(run.scale), fmt(offeredOf(results, run)), ...(auto ? [pct(run.load_fraction)] : []), run.backend.label];
    for (const m of LATENCY_METRICS) {
      const row = rows.find((r) => r.backend === run.backend.label && r.scale === run.scale && r.metric === m);
      cells.push(fmt(row?.p50), fmt(row?.p90), fmt(row?.p99));
    }
    const s = run.summary;
    cells.push(fmt(s?.request_throughput), fmt(s?.output_throughput));
    if (anyGoodput) cells.push(s?.goodput ? `${fmt(s.goodput.req_s)} (${pct(s.goodput.fraction)})` : "–");
    if (anyQueue) cells.push(s?.queue_ms ? `${fmt(s.queue_ms.p50)} / ${fmt(s.queue_ms.p99)}` : "–");
    if (anyCache) cells.push(pct(s?.prefix_cache?.hit_rate ?? s?.prefix_cache?.engine?.hit_rate));
    cells.push(s ? `${fmt(s.lateness_ms.p99)}${s.load_generator && !s.load_generator.schedule_held ? " (behind)" : ""}` : "–");
    const failures = s
      ? s.failed === 0
        ? "0"
        : `${s.failed} (${Object.entries(s.failures).map(([why, k]) => `${k}x ${why}`).join("; ")})`
      : String(run.records.filter((r) => !r.ok).length);
    cells.push(failures);
    return cells;
  });

  const notRun = results.runs.filter((r) => r.status !== "ok");
  const invalid = okRuns.flatMap((r) => (r.summary?.invalid ?? []).map((why) => `- scale ${r.scale}, ${r.backend.label}: ${why}`));
  const missing = missingBackends(results);
  const t = results.trace;
  const slo = results.runs.find((r) => r.summary?.goodput)?.summary?.goodput?.slo;
  return [
    `# Online latency summary`,
    ``,
    `Source: \`${basename(sourceFile)}\` (${results.schema}). Trace \`${t.path}\` (${t.format}, sha256 ${t.sha256.slice(0, 12)}), ` +
      `${t.requests_used} requests used${t.rate_req_s ? ` (${fmt(t.rate_req_s)} req/s at scale 1)` : ""}, ${t.clamped} clamped to the context; ` +
      `${auto ? "scales chosen per backend from its capacity (--scales auto)" : `scales ${results.scales.join(", ")}`}; n = ${results.num_prompts} per run` +
      `${results.max_concurrency ? `; at most ${results.max_concurrency} requests in flight (--max-concurrency)` : ""}.`,
    ``,
    ...metaLines(results.meta),
    ``,
    `Latencies follow vllm bench serve: TTFT = first token - send, TPOT = (E2E - TTFT) / (N - 1), ITL = gaps between token chunks, E2E = last token - send. ` +
      `Smaller scale = heavier load; offered req/s = the trace's mean rate / scale. ` +
      (results.max_concurrency ? `Time waiting for a concurrency slot is not in TTFT/E2E: it is the queue column, and goodput counts it. ` : "") +
      (slo ? `Goodput: requests/s meeting ${Object.entries(slo).map(([k, v]) => `${k} <= ${v}`).join(", ")} (from arrival, client queue included). ` : "") +
      `Lateness: actual - scheduled send, minus any queue wait.`,
    ``,
    mdTable(headers, body),
    ``,
    ...capacitySection(results),
    ...prefixSection(results),
    `## Invalid runs`,
    ``,
    invalid.length > 0 ? invalid.join("\n") : `None: every run passed the load generator's self-checks.`,
    ``,
    ...loadGeneratorSection(results.runs),
    `## Backends or runs that did not happen`,
    ``,
    notRun.length === 0 && missing.length === 0
      ? `None.`
      : missing
          .map((m) => `- ${m.backend}: ${m.status}${results.runs.some((r) => r.backend.label === m.backend) ? " at every scale" : ""}: ${m.reason}`)
          .concat(notRun.filter((r) => !missing.some((m) => m.backend === r.backend.label)).map((r) => `- ${r.backend.label} at scale ${r.scale}: ${r.status}: ${r.reason ?? "no reason given"}`))
          .join("\n"),
    ``,
  ].join("\n");
}

function capacitySection(results: OnlineResults): string[] {
  const caps = results.capacity ?? [];
  if (caps.length === 0) return [];
  const rows = caps.map((c) => [
    c.backend.label,
    (c.status === "ok" ? fmt(c.req_s) : `${c.status}: ${c.reason ?? ""}`) + (c.from_file ? ` (read from ${c.from_file})` : ""),
    fmt(c.output_tok_s),
    `${c.completed}/${c.requests}`,
    fmt(c.duration_s),
    c.scales.map((s, k) => `${s} (${fmt(c.offered_req_s[k])}/s, ${pct(c.fractions[k])})`).join(", ") || "–",
  ]);
  return [
    `## Capacity (--scales auto)`,
    ``,
    `Each backend's capacity on this trace's request mix: a saturating run (every request sent at once${results.max_concurrency ? `, at most ${results.max_concurrency} in flight` : ""}), ` +
      `the first 90 % of completions over the time from the first send to the last of them. Its scales offer 10 % to 110 % of it.`,
    ``,
    mdTable(["backend", "capacity req/s", "output tok/s", "completed", "duration (s)", "scales (offered, share of capacity)"], rows),
    ``,
  ];
}

function prefixSection(results: OnlineResults): string[] {
  const p = results.prefix;
  const cacheRuns = results.runs.filter((r) => r.status === "ok" && r.summary?.prefix_cache);
  if (!p?.replay && cacheRuns.length === 0) return [];
  const lines = [`## Prefix sharing and caching`, ``];
  if (p)
    lines.push(
      p.replay
        ? `Prompts built from the trace's hash_ids (${p.trace_block_size} tokens per id, ${p.block_size_source}${p.mismatched_lines ? `; ${p.mismatched_lines} lines disagree with it` : ""}). ` +
            `Sharing ratio of the prompts sent (longest common prefix with an earlier prompt, over all prompt tokens, from the token ids): ${pct(p.sharing_ratio)}; ` +
            `from the hash_ids: ${pct(p.trace_sharing_ratio)} (block level ${pct(p.trace_block_sharing_ratio)}). ` +
            `Ideal engine hit rate (${p.engine_block_size ?? "?"}-token blocks, unbounded cache): ${pct(p.ideal_hit_rate)}.`
        : `Prompts share ${pct(p.sharing_ratio)} of their tokens (no hash_ids replayed).`,
      ``,
    );
  if (cacheRuns.length) {
    lines.push(
      mdTable(
        ["scale", "backend", "hit rate (cached_tokens)", "engine hit rate", "engine hit / computed tokens", "evicted blocks"],
        cacheRuns.map((r) => {
          const c = r.summary!.prefix_cache!;
          return [String(r.scale), r.backend.label, pct(c.hit_rate), pct(c.engine?.hit_rate), c.engine ? `${c.engine.hit_tokens} / ${c.engine.miss_tokens}` : "–", c.engine ? String(c.engine.evicted_blocks) : "–"];
        }),
      ),
      ``,
    );
  }
  return lines;
}

function loadGeneratorSection(runs: readonly OnlineRun[]): string[] {
  const behind = runs.filter((r) => r.summary?.load_generator && !r.summary.load_generator.schedule_held);
  if (behind.length === 0) return [];
  const lg = behind[0].summary!.load_generator!;
  return [
    `## Load generator behind schedule`,
    ``,
    `Dispatch lateness p99 above the ${lg.lateness_target_ms} ms target (${lg.workers} worker thread(s)): ` +
      behind.map((r) => `${r.backend.label} x${r.scale} ${fmt(r.summary!.lateness_ms.p99)} ms`).join(", ") +
      `. Arrivals came later than the trace says, so these runs offered less load than intended.`,
    ``,
  ];
}
