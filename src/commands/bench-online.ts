// `attnbench bench online`: replay a trace at several arrival-time scales, per backend, through
// our OpenAI-compatible server (one `serve` child per backend x scale) or a given --endpoint.
import { Command } from "commander";
import { join } from "node:path";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { addEngineOptions, engineCliArgs, sharedEngineFlags } from "../cli/engine-options.js";
import { addBenchOptions, resolveBackends } from "../cli/bench-options.js";
import { addOnlineOptions, OnlineSchema, promptFormatOf, type OnlineOptions } from "../cli/online-options.js";
import { loadHfTokenizer } from "../tokenizer/hf.js";
import { r50kTokenizer, R50K_VOCAB } from "../tokenizer/gpt2.js";
import { resolveTokenizer } from "../tokenizer/resolve.js";
import type { TextTokenizer } from "../tokenizer/types.js";
import { onTerminate, isStopping } from "../cli/signals.js";
import { loadSynthetic, loadTraceFile, type LoadedTrace } from "../traces/load.js";
import { ONLINE_SCHEMA, OnlineResultsSchema, type Backend, type Meta, type OnlineResults, type OnlineRun, type RequestRecord } from "../results/schema.js";
import { buildMeta, finishMeta } from "../results/meta.js";
import { runDirName, writeResults } from "../results/writer.js";
import { writeVllmResults } from "../results/vllm-file.js";
import { plotAfterBench } from "../results/plot-hook.js";
import { summarizeOnline } from "../metrics/online.js";
import { buildOnlineItems, type ModelLimits } from "../load/online-workload.js";
import { runOnlineScale, type OnlineItem } from "../load/online-run.js";
import { spawnServe, waitHealthy, type ServeChild } from "../load/serve-process.js";
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
  return loadTraceFile(o.trace, o.traceFormat, { timestampUnit: o.timestampUnit });
}

const REFUSAL = /unavailable|unknown|not built|not available|unsupported/i;

async function benchOnline(o: OnlineOptions): Promise<void> {
  const startedAt = new Date();
  const stamp = runDirName("online", startedAt);
  const resultsPath = join(o.out, stamp, "online_results.json");
  const trace = readTrace(o);
  const backends = o.endpoint ? (o.backends ?? [{ label: "endpoint", prefill: "endpoint", decode: "endpoint" }]) : resolveBackends(o);
  const progress = new Progress();
  const runs: OnlineRun[] = [];
  let ready: Pick<ReadyEvent, "model" | "device"> | null = null;
  let workload: { items: OnlineItem[]; clamped: number } | null = null;
  let child: ServeChild | null = null;
  let interrupted = false;
  // The run in progress and what it has measured so far, so Ctrl-C loses nothing measured.
  let live: { backend: Backend; scale: number; records: RequestRecord[] } | null = null;

  const results = (): OnlineResults => {
    const meta = buildMeta({
      startedAt,
      ready: ready as ReadyEvent | null,
      fallbackDevice: o.endpoint ? { kind: "remote", name: o.endpoint, dtype: "unknown", driver: null, cuda: null } : undefined,
      engineFlags: o.endpoint ? [] : sharedEngineFlags(o),
      workload: {
        trace_sha256: trace.sha256,
        num_prompts: o.numPrompts,
        workload: `online max_input_len=${o.maxInputLen ?? "-"} max_output_len=${o.maxOutputLen ?? "-"} ignore_eos=${o.ignoreEos} seed=${o.seed} prompts=${promptFormatOf(o)}${o.endpointType === "chat" ? " endpoint=chat" : ""}${o.tokenizer ? ` tokenizer=${o.tokenizer}` : ""}`,
      },
    });
    return {
      schema: ONLINE_SCHEMA,
      meta: finishMeta(meta, startedAt) as Meta,
      trace: { path: trace.path, format: trace.format, sha256: trace.sha256, requests_used: Math.min(o.numPrompts, trace.requests.length), clamped: workload?.clamped ?? 0 },
      scales: o.scales,
      num_prompts: o.numPrompts,
      runs,
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
    if (live) {
      const records = finished.sort((a, b) => a.i - b.i);
      const summary = summarizeOnline(records, { itlMode: o.itlMode, slo: o.slo ?? null, maxLatenessMs: o.maxLatenessMs });
      summary.invalid.push("interrupted: only the requests that finished before the signal are here");
      runs.push({ backend: live.backend, scale: live.scale, status: "failed", reason: "interrupted (signal)", summary, records });
    }
    flush();
    progress.log(`partial results: ${resultsPath}`);
  });
  const prepare = (m: ModelLimits) => {
    if (workload) return workload;
    const promptFormat = promptFormatOf(o);
    const tokenizer = promptFormat === "text" ? promptTokenizer(o, m.vocab) : undefined;
    workload = buildOnlineItems(trace, m, { numPrompts: o.numPrompts, maxInputLen: o.maxInputLen, maxOutputLen: o.maxOutputLen, seed: o.seed, promptFormat, tokenizer });
    if (workload.clamped) progress.log(`${workload.clamped} of ${workload.items.length} requests clamped (context ${m.nCtx}, --max-input-len/--max-output-len)`);
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
  progress.log(`trace ${trace.path} (${trace.format}): ${Math.min(o.numPrompts, trace.requests.length)} of ${trace.requests.length} requests; scales ${o.scales.join(", ")}`);

  for (const backend of backends) {
    let skip: { status: "unavailable" | "failed"; reason: string } | null = null;
    for (const scale of o.scales) {
      if (isStopping() || interrupted) return;
      if (skip) {
        runs.push({ backend, scale, status: skip.status, reason: skip.reason, summary: null, records: [] });
        flush();
        continue;
      }
      live = { backend, scale, records: [] };
      const r = await oneRun(o, backend, scale, {
        endpointInfo,
        setChild: (c) => (child = c),
        onRecord: (rec) => live?.records.push(rec),
        onModel: (h) => {
          ready ??= h;
          return prepare({ nCtx: h.model.n_ctx, vocab: h.model.vocab_size, eos: h.model.eos_token_id });
        },
        progress,
        stopped: () => interrupted,
      });
      child = null;
      if (interrupted) return;
      live = null;
      runs.push(r);
      flush();
      if (r.status !== "ok") skip = { status: r.status, reason: `${r.status} at scale ${scale}: ${r.reason}` };
      progress.log(onlineRunLine(r));
    }
  }
  flush();
  process.stdout.write(`${resultsPath}\n`);
  if (o.plot) await plotAfterBench(resultsPath, o.out, stamp, (s) => progress.log(s));
  const verdict = onlineVerdict(results());
  for (const line of verdictLines(verdict)) progress.log(line);
  process.exitCode = verdict.exitCode;
}

interface RunHooks {
  endpointInfo: (url: string) => Promise<EndpointInfo>;
  setChild: (c: ServeChild | null) => void;
  onRecord: (r: RequestRecord) => void;
  onModel: (h: { model: ReadyEvent["model"]; device: ReadyEvent["device"] }) => { items: OnlineItem[] };
  progress: Progress;
  stopped: () => boolean;
}

async function oneRun(o: OnlineOptions, backend: Backend, scale: number, hooks: RunHooks): Promise<OnlineRun> {
  const base = { backend, scale };
  let url = o.endpoint?.replace(/\/+$/, "").replace(/\/v1$/, "");
  let child: ServeChild | null = null;
  let model: string | undefined;
  let items: OnlineItem[];
  try {
    if (!url) {
      hooks.progress.log(`${backend.label} x${scale}: starting serve`);
      try {
        child = await spawnServe([...engineCliArgs(o, backend), ...(o.tokenizer ? ["--tokenizer", o.tokenizer] : []), ...(o.verbose ? ["--engine-logs"] : [])], {
          startTimeoutMs: o.readyTimeoutS * 1000 + 30_000,
          onLog: o.verbose ? (l) => process.stderr.write(`serve: ${l}\n`) : undefined,
        });
      } catch (err) {
        const e = err as Error & { engineRefused?: boolean };
        const status = e.engineRefused && REFUSAL.test(e.message) ? "unavailable" : "failed";
        return { ...base, status, reason: e.message, summary: null, records: [] };
      }
      hooks.setChild(child);
      url = child.url;
      const health = await waitHealthy(url, 30_000, () => child!.exited() === null);
      const why = unavailableIn(health.backends, backend);
      if (why) return { ...base, status: "unavailable", reason: why, summary: null, records: [] };
      items = hooks.onModel({ model: health.model, device: health.device }).items;
    } else {
      const info = await hooks.endpointInfo(url);
      model = info.modelId;
      items = hooks.onModel({
        model: { name: info.modelId, n_ctx: info.maxModelLen ?? Number.MAX_SAFE_INTEGER, vocab_size: info.vocabSize, eos_token_id: info.eosTokenId },
        device: info.device,
      }).items;
    }
    const { records, warmupError } = await runOnlineScale({
      endpointType: o.endpointType,
      url,
      model: model!,
      items,
      scale,
      ignoreEos: o.ignoreEos,
      apiKey: o.apiKey,
      warmupRequests: o.warmupRequests,
      requestTimeoutMs: o.requestTimeoutS * 1000,
      tag: `${backend.label}-x${scale}`,
      onRecord: (r, done) => {
        hooks.onRecord(r);
        hooks.progress.update({ phase: `online ${backend.label} x${scale}`, done, total: items.length });
      },
      stopped: hooks.stopped,
    });
    hooks.progress.endLine();
    const summary = summarizeOnline(records, { itlMode: o.itlMode, slo: o.slo ?? null, maxLatenessMs: o.maxLatenessMs });
    if (warmupError) summary.invalid.push(`warm-up failed: ${warmupError}`);
    // Did the engine survive? A dead engine means this backend failed, whatever was measured.
    let died: string | null = null;
    if (child) {
      if (child.exited() !== null) died = `serve exited (${child.exited()}): ${child.stderrTail().split("\n").slice(-2).join(" | ")}`;
      else {
        const h = await fetch(`${url}/health`).then((r) => (r.status === 200 ? null : r.json()), (e: Error) => ({ reason: e.message }));
        if (h) died = String((h as { reason?: string }).reason ?? "unhealthy");
      }
    }
    return { ...base, status: died ? "failed" : "ok", reason: died, summary, records };
  } catch (err) {
    return { ...base, status: "failed", reason: (err as Error).message, summary: null, records: [] };
  } finally {
    await child?.stop(5000);
    hooks.setChild(null);
  }
}

function unavailableIn(backends: unknown, b: Backend): string | null {
  const m = backends as { prefill?: Record<string, string>; decode?: Record<string, string> } | undefined;
  const p = m?.prefill?.[b.prefill];
  const d = m?.decode?.[b.decode];
  if (p !== undefined && p !== "ok") return `prefill ${b.prefill}: ${p}`;
  if (d !== undefined && d !== "ok") return `decode ${b.decode}: ${d}`;
  return null;
}

/** The tokenizer text prompts are measured in: --tokenizer, else r50k for a foreign endpoint, else the model's. */
function promptTokenizer(o: OnlineOptions, vocab: number): TextTokenizer {
  if (o.tokenizer) return loadHfTokenizer(o.tokenizer);
  if (o.endpoint) return r50kTokenizer(R50K_VOCAB);
  const choice = resolveTokenizer(o.model, vocab);
  if (!choice.tokenizer) throw new UsageError([`--prompt-format text: ${choice.why}`]);
  return choice.tokenizer;
}
