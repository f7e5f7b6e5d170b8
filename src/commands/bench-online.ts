// `attnbench bench online`: replay a trace at several arrival-time scales, per backend, through our
// OpenAI-compatible server (one `serve` child per backend x scale) or a given --endpoint. With
// --scales auto[:N] each backend's capacity is measured first and its scales chosen from it.
import { Command } from "commander";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { TRACES_DIR } from "../core/paths.js";
import { addEngineOptions, sharedEngineFlags } from "../cli/engine-options.js";
import { addBenchOptions, resolveBackends } from "../cli/bench-options.js";
import { addOnlineOptions, OnlineSchema, promptFormatOf, type OnlineOptions } from "../cli/online-options.js";
import { loadHfTokenizer } from "../tokenizer/hf.js";
import { r50kTokenizer, R50K_VOCAB } from "../tokenizer/gpt2.js";
import { resolveTokenizer } from "../tokenizer/resolve.js";
import type { TextTokenizer } from "../tokenizer/types.js";
import { onTerminate, isStopping } from "../cli/signals.js";
import { loadSynthetic, loadTraceFile, type LoadedTrace } from "../traces/load.js";
import { ONLINE_SCHEMA, OnlineResultsSchema, type Backend, type Capacity, type Meta, type OnlineResults, type OnlineRun, type RequestRecord } from "../results/schema.js";
import { buildMeta, finishMeta } from "../results/meta.js";
import { runDirName, writeResults } from "../results/writer.js";
import { writeVllmResults } from "../report/vllm-file.js";
import { plotAfterBench } from "../results/plot-hook.js";
import { summarizeOnline, type OnlineSummaryOptions } from "../metrics/online.js";
import { buildOnlineItems, type OnlineWorkload } from "../load/online-workload.js";
import { runCapacity, runScale, type CapacityRun, type ModelInfo, type RunHooks, type ScaleRun } from "../load/online-backend.js";
import { scalesForCapacity, traceRate } from "../load/capacity.js";
import { readCapacityFrom, recordedEstimate } from "../load/capacity-from.js";
import { ResultsFileError } from "../results/load-results.js";
import { defaultLoadWorkers, StreamPool } from "../load/stream-pool.js";
import type { ServeChild } from "../load/serve-process.js";
import { Progress } from "../progress/progress.js";
import { learnEndpoint, type EndpointInfo } from "../load/endpoint-info.js";
import { onlineRunLine, onlineVerdict, verdictLines } from "../report/run-verdict.js";
import type { ReadyEvent } from "../engine/events.js";

export const benchOnlineCommand = addOnlineOptions(
  addBenchOptions(addEngineOptions(new Command("online").description("online latency: replay a trace at several arrival-time scales over HTTP/SSE, per backend"))),
).action(action(async (raw: Record<string, unknown>) => benchOnline(parseOptions(OnlineSchema, raw))));

function readTrace(o: OnlineOptions): LoadedTrace {
  if (o.trace === "synthetic:poisson" || o.trace === "synthetic:gamma")
    return loadSynthetic({
      kind: o.trace === "synthetic:poisson" ? "poisson" : "gamma",
      numPrompts: o.numPrompts,
      requestRate: o.requestRate ?? 10,
      burstiness: o.burstiness ?? 1,
      inputLen: o.inputLen ?? 64,
      outputLen: o.outputLen ?? 32,
      seed: o.seed,
    });
  if (!existsSync(o.trace)) throw new UsageError([missingTrace(o.trace)]);
  return loadTraceFile(o.trace, o.traceFormat, { timestampUnit: o.timestampUnit, blockSize: o.traceBlockSize });
}

/** A --trace that is not there: say where the shipped traces are and how to use a synthetic one. */
function missingTrace(path: string): string {
  let shipped: string[] = [];
  try {
    shipped = readdirSync(TRACES_DIR).filter((f) => /\.(csv|jsonl)$/.test(f));
  } catch {
    /* a checkout without traces/ */
  }
  return (
    `--trace ${path}: no such file. ` +
    (shipped.length ? `The traces shipped with attnbench are in ${TRACES_DIR}: ${shipped.join(", ")} (see its README.md). ` : `attnbench ships its traces in ${TRACES_DIR}, which is missing here. `) +
    `For a synthetic trace: --trace synthetic:poisson --request-rate 10 (or synthetic:gamma --burstiness K).`
  );
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

async function benchOnline(o: OnlineOptions): Promise<void> {
  const startedAt = new Date();
  const stamp = runDirName("online", startedAt);
  const resultsPath = join(o.out, stamp, "online_results.json");
  const trace = readTrace(o);
  const used = trace.requests.slice(0, o.numPrompts);
  const rate = traceRate(used.map((r) => r.t_s));
  if (o.scales.mode === "auto" && !(rate > 0))
    throw new UsageError([`--scales auto: the first ${used.length} requests of ${trace.path} arrive at one instant, so no scale changes the load; give --scales or a trace with arrival times`]);
  const backends = o.endpoint ? (o.backends ?? [{ label: "endpoint", prefill: "endpoint", decode: "endpoint" }]) : resolveBackends(o);
  // Read (and checked) before anything runs: a file that does not fit is a usage error, exit 2.
  let knownCapacity: Awaited<ReturnType<typeof readCapacityFrom>> | null = null;
  if (o.capacityFrom)
    try {
      knownCapacity = await readCapacityFrom(o.capacityFrom, trace.sha256, o.numPrompts, backends.map((b) => b.label));
    } catch (err) {
      if (err instanceof ResultsFileError) throw new UsageError([`--capacity-from ${err.message}`]);
      throw err;
    }
  const progress = new Progress();
  const pool = new StreamPool(o.loadWorkers ?? defaultLoadWorkers());
  const runs: OnlineRun[] = [];
  const capacity: Capacity[] = [];
  // What the engine said about itself (through our serve's health answer; its config carries the
  // experiment switches that go into meta.engine_env).
  let ready: (Pick<ReadyEvent, "model" | "device"> & { config?: Record<string, unknown> }) | null = null;
  let workload: OnlineWorkload | null = null;
  let child: ServeChild | null = null;
  let interrupted = false;
  // The run in progress and what it has measured so far, so Ctrl-C loses nothing measured.
  let live: { run: Omit<OnlineRun, "status" | "reason" | "summary" | "records">; records: RequestRecord[] } | null = null;
  const summaryOpts: OnlineSummaryOptions = {
    itlMode: o.itlMode,
    slo: o.slo ?? null,
    maxLatenessMs: o.maxLatenessMs,
    latenessTargetMs: o.latenessTargetMs,
    workers: pool.workers,
    maxConcurrency: o.maxConcurrency ?? null,
  };
  const workloadTag =
    `online max_input_len=${o.maxInputLen ?? "-"} max_output_len=${o.maxOutputLen ?? "-"} ignore_eos=${o.ignoreEos} seed=${o.seed} prompts=${promptFormatOf(o)}` +
    (o.endpointType === "chat" ? " endpoint=chat" : "") +
    (o.tokenizer ? ` tokenizer=${o.tokenizer}` : "") +
    (o.maxConcurrency ? ` max_concurrency=${o.maxConcurrency}` : "") +
    (trace.hashBlocks && o.prefixReplay && promptFormatOf(o) === "ids" ? ` prefix_replay=${trace.hashBlocks.blockSize}` : "");

  const results = (): OnlineResults => {
    const meta = buildMeta({
      startedAt,
      ready: ready as ReadyEvent | null,
      fallbackDevice: o.endpoint ? { kind: "remote", name: o.endpoint, dtype: "unknown", driver: null, cuda: null } : undefined,
      engineFlags: o.endpoint ? [] : sharedEngineFlags(o),
      workload: { trace_sha256: trace.sha256, num_prompts: o.numPrompts, workload: workloadTag },
    });
    const allScales = o.scales.mode === "fixed" ? o.scales.scales : [...new Set(runs.map((r) => r.scale))];
    return {
      schema: ONLINE_SCHEMA,
      meta: finishMeta(meta, startedAt) as Meta,
      trace: { path: trace.path, format: trace.format, sha256: trace.sha256, requests_used: used.length, clamped: workload?.clamped ?? 0, rate_req_s: rate },
      scales: allScales.length ? allScales : o.scales.mode === "fixed" ? o.scales.scales : [1],
      num_prompts: o.numPrompts,
      runs,
      scale_mode: o.scales.mode,
      ...(o.scales.mode === "auto" ? { capacity } : {}),
      max_concurrency: o.maxConcurrency ?? null,
      prefix: workload?.prefix ?? null,
    };
  };
  // Beside our file, the same runs as `vllm bench serve --save-result --append-result` writes them.
  const vllmPath = join(o.out, stamp, "vllm_bench_serve.jsonl");
  const flush = () => {
    const r = results();
    writeResults(resultsPath, OnlineResultsSchema, r);
    writeVllmResults(vllmPath, r, {
      date: startedAt,
      endpointType: o.endpointType === "chat" ? "openai-chat" : "openai",
      modelId: o.servedModelName ?? String(r.meta.model.name ?? "unknown"),
      tokenizerId: o.tokenizer ?? null,
      burstiness: o.trace === "synthetic:gamma" ? (o.burstiness ?? 1) : o.trace === "synthetic:poisson" ? 1 : null,
      slo: o.slo ?? null,
    });
  };
  onTerminate(async () => {
    interrupted = true;
    // Snapshot before stopping serve: stopping it fails the requests still in flight, and those
    // (and any dispatched meanwhile) must not land in the run as if they had been measured.
    const finished = live ? [...live.records] : [];
    await child?.stop(3000);
    await pool.close();
    if (live) {
      const records = finished.sort((a, b) => a.i - b.i);
      const summary = summarizeOnline(records, summaryOpts);
      summary.invalid.push("interrupted: only the requests that finished before the signal are here");
      runs.push({ ...live.run, status: "failed", reason: "interrupted (signal)", summary, records });
    }
    flush();
    progress.log(`partial results: ${resultsPath}`);
  });
  const prepare = (m: ModelInfo) => {
    ready ??= { model: m.model, device: m.device, ...(m.config ? { config: m.config } : {}) };
    if (workload) return workload;
    const blockSize = typeof m.config?.block_size === "number" ? m.config.block_size : null;
    const promptFormat = promptFormatOf(o);
    const tokenizer = promptFormat === "text" ? promptTokenizer(o, m.model.vocab_size) : undefined;
    workload = buildOnlineItems(trace, { nCtx: m.model.n_ctx, vocab: m.model.vocab_size, eos: m.model.eos_token_id ?? null, blockSize }, {
      numPrompts: o.numPrompts,
      maxInputLen: o.maxInputLen,
      maxOutputLen: o.maxOutputLen,
      seed: o.seed,
      promptFormat,
      prefixReplay: o.prefixReplay,
      tokenizer,
    });
    if (workload.clamped) progress.log(`${workload.clamped} of ${workload.items.length} requests clamped (context ${m.model.n_ctx}, --max-input-len/--max-output-len)`);
    if (workload.prefixNote) progress.log(workload.prefixNote);
    const p = workload.prefix;
    if (p?.replay)
      progress.log(
        `prefix replay: ${p.trace_block_size} tokens per hash id (${p.block_size_source}${p.mismatched_lines ? `; ${p.mismatched_lines} lines disagree with it` : ""}); ` +
          `prompts share ${pct(p.sharing_ratio)} of their tokens (hash_ids say ${pct(p.trace_sharing_ratio ?? 0)})${p.ideal_hit_rate !== null ? `, ideal cache hit rate ${pct(p.ideal_hit_rate)}` : ""}`,
      );
    return workload;
  };
  // --endpoint: what the server says about itself, asked once (flags override it).
  let endpoint: Promise<EndpointInfo> | null = null;
  const endpointInfo = (url: string) =>
    (endpoint ??= learnEndpoint(url, { servedModelName: o.servedModelName, vocabSize: o.vocabSize, maxModelLen: o.maxModelLen, apiKey: o.apiKey }).then((info) => {
      progress.log(`endpoint ${url}: model ${info.modelId}; ${info.sources.join(", ") || "nothing else reported"}`);
      for (const w of info.warnings) progress.log(`warning: ${w}`);
      return info;
    }));
  const hooks = (phase: string): RunHooks => ({
    endpointInfo,
    setChild: (c) => (child = c),
    onRecord: (rec, done, total) => {
      live?.records.push(rec);
      progress.update({ phase, done, total });
    },
    onModel: prepare,
    progress,
    stopped: () => interrupted,
  });
  const load = { ignoreEos: o.ignoreEos, warmupRequests: o.warmupRequests, requestTimeoutS: o.requestTimeoutS, maxConcurrency: o.maxConcurrency, pool };
  progress.log(
    `trace ${trace.path} (${trace.format}): ${used.length} of ${trace.requests.length} requests, ${rate.toFixed(2)} req/s at scale 1; ` +
      (o.scales.mode === "fixed" ? `scales ${o.scales.scales.join(", ")}` : `scales auto: ${o.scales.points} per backend from its capacity`) +
      (o.maxConcurrency ? `; at most ${o.maxConcurrency} in flight` : "") +
      `; ${pool.workers} load-generator worker thread(s)`,
  );

  try {
    for (const backend of backends) {
      if (isStopping() || interrupted) return;
      const plan = await planScales(o, backend, rate, capacity, load, hooks(`capacity ${backend.label}`), progress, flush, knownCapacity?.get(backend.label));
      if (interrupted) return;
      let skip: { status: "unavailable" | "failed"; reason: string } | null = null;
      for (const step of plan) {
        if (isStopping() || interrupted) return;
        const base = { backend, scale: step.scale, offered_req_s: step.offered_req_s, load_fraction: step.load_fraction ?? null };
        if (skip) {
          runs.push({ ...base, status: skip.status, reason: skip.reason, summary: null, records: [] });
          flush();
          continue;
        }
        live = { run: base, records: [] };
        const r = await runScale(o, load, backend, step, summaryOpts, hooks(`online ${backend.label} x${step.scale}`));
        if (interrupted) return;
        live = null;
        runs.push(r);
        flush();
        if (r.status !== "ok") skip = { status: r.status, reason: `${r.status} at scale ${step.scale}: ${r.reason}` };
        progress.log(onlineRunLine(r));
      }
    }
  } finally {
    if (!interrupted) await pool.close();
  }
  flush();
  process.stdout.write(`${resultsPath}\n`);
  if (o.plot) await plotAfterBench(resultsPath, o.out, stamp, (s) => progress.log(s));
  const verdict = onlineVerdict(results());
  for (const line of verdictLines(verdict)) progress.log(line);
  process.exitCode = verdict.exitCode;
}

/** The scales to run for one backend: the fixed list, or (auto) chosen from its measured capacity. */
async function planScales(
  o: OnlineOptions,
  backend: Backend,
  rate: number,
  capacity: Capacity[],
  load: Parameters<typeof runCapacity>[1],
  hooks: RunHooks,
  progress: Progress,
  flush: () => void,
  known?: Capacity,
): Promise<ScaleRun[]> {
  if (o.scales.mode === "fixed") return o.scales.scales.map((scale) => ({ scale, offered_req_s: rate / scale }));
  const requests = known?.requests ?? o.capacityRequests ?? o.numPrompts;
  // Measured here, or read from --capacity-from (an ok measurement of an earlier run).
  const c: Pick<CapacityRun, "status" | "reason" | "estimate"> = known
    ? { status: "ok", reason: null, estimate: recordedEstimate(known) }
    : await runCapacity(o, load, backend, requests, hooks);
  const est = c.estimate;
  const all = c.status === "ok" && est?.req_s ? scalesForCapacity(rate, est.req_s, o.scales.points) : { fractions: [], scales: [], offered_req_s: [] };
  // --auto-points: only these of the N points (1 = the lightest load) run here.
  const keep = (_: number, k: number) => !o.autoPoints || o.autoPoints.includes(k + 1);
  const chosen = { fractions: all.fractions.filter(keep), scales: all.scales.filter(keep), offered_req_s: all.offered_req_s.filter(keep) };
  capacity.push({
    backend,
    status: c.status,
    reason: c.reason,
    req_s: est?.req_s ?? null,
    output_tok_s: est?.output_tok_s ?? null,
    requests,
    completed: est?.completed ?? 0,
    duration_s: est?.duration_s ?? 0,
    ...(known ? { from_file: o.capacityFrom } : {}),
    ...chosen,
  });
  flush();
  if (c.status !== "ok" || !est?.req_s) {
    progress.log(`${backend.label}: capacity run ${c.status}: ${c.reason}; no scales for this backend`);
    return [];
  }
  progress.log(
    `${backend.label}: capacity ${est.req_s.toFixed(1)} req/s (${(est.output_tok_s ?? 0).toFixed(0)} output tok/s) over ${requests} requests${known ? ` (from ${o.capacityFrom})` : ""}; ` +
      `scales ${chosen.scales.join(", ")} = ${chosen.offered_req_s.map((r) => r.toFixed(1)).join(", ")} req/s offered (${chosen.fractions.map(pct).join(", ")} of capacity)`,
  );
  return chosen.scales.map((scale, k) => ({ scale, offered_req_s: chosen.offered_req_s[k], load_fraction: chosen.fractions[k] }));
}

/** The tokenizer text prompts are measured in: --tokenizer, else r50k for a foreign endpoint, else the model's. */
function promptTokenizer(o: OnlineOptions, vocab: number): TextTokenizer {
  if (o.tokenizer) return loadHfTokenizer(o.tokenizer);
  if (o.endpoint) return r50kTokenizer(R50K_VOCAB);
  const choice = resolveTokenizer(o.model, vocab);
  if (!choice.tokenizer) throw new UsageError([`--prompt-format text: ${choice.why}`]);
  return choice.tokenizer;
}
