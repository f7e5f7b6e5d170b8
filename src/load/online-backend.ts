// One online run against one backend: open the target (a fresh `attnbench serve` child, or the
// --endpoint), replay a scaled schedule or a saturating capacity run through it, check the engine
// survived, close it. bench online (commands/bench-online.ts) sequences these per backend and scale.
import type { Backend, OnlineRun, RequestRecord } from "../results/schema.js";
import type { ReadyEvent } from "../engine/events.js";
import { engineCliArgs, type EngineOptions } from "../cli/engine-options.js";
import { summarizeOnline, type OnlineSummaryOptions } from "../metrics/online.js";
import type { Progress } from "../progress/progress.js";
import type { OnlineItem } from "./online-run.js";
import { runOnlineScale } from "./online-run.js";
import { spawnServe, waitHealthy, type ServeChild } from "./serve-process.js";
import type { StreamPool } from "./stream-pool.js";
import { capacityFromRecords, type CapacityEstimate } from "./capacity.js";
import type { EndpointInfo } from "./endpoint-info.js";
import { isBackendRefusal, unavailableReason } from "../engine/args.js";

export interface TargetOptions extends EngineOptions {
  endpoint?: string;
  endpointType: "completions" | "chat";
  apiKey?: string;
  servedModelName?: string;
  /** A tokenizer directory for serve (text prompts and chat on a model without its own). */
  tokenizer?: string;
  verbose: boolean;
}

export interface ModelInfo {
  model: ReadyEvent["model"];
  device: ReadyEvent["device"];
  /** The engine's ready config (our serve only): block_size, enable_prefix_caching, ... */
  config: Record<string, unknown> | null;
}

interface Target {
  url: string;
  model: string;
  child: ServeChild | null;
}

export interface RunHooks {
  /** --endpoint: what the server says about itself (asked once, flags override it). */
  endpointInfo: (url: string) => Promise<EndpointInfo>;
  setChild: (c: ServeChild | null) => void;
  onRecord: (r: RequestRecord, done: number, total: number) => void;
  /** The first target that answers sets the workload (same prompts for every backend and scale). */
  onModel: (h: ModelInfo) => { items: OnlineItem[] };
  progress: Progress;
  stopped: () => boolean;
}

export interface LoadOptions {
  ignoreEos: boolean;
  warmupRequests: number;
  requestTimeoutS: number;
  maxConcurrency?: number;
  pool: StreamPool;
}

type Failure = { status: "unavailable" | "failed"; reason: string };

async function openTarget(o: TargetOptions, backend: Backend, label: string, hooks: RunHooks): Promise<{ target: Target; items: OnlineItem[] } | Failure> {
  if (o.endpoint) {
    const url = o.endpoint.replace(/\/+$/, "").replace(/\/v1$/, "");
    const info = await hooks.endpointInfo(url);
    const items = hooks.onModel({
      model: { name: info.modelId, n_ctx: info.maxModelLen ?? Number.MAX_SAFE_INTEGER, vocab_size: info.vocabSize, eos_token_id: info.eosTokenId },
      device: info.device,
      config: null,
    }).items;
    return { target: { url, model: info.modelId, child: null }, items };
  }
  hooks.progress.log(`${label}: starting serve`);
  let child: ServeChild;
  try {
    child = await spawnServe([...engineCliArgs(o, backend), ...(o.tokenizer ? ["--tokenizer", o.tokenizer] : []), ...(o.verbose ? ["--engine-logs"] : [])], {
      startTimeoutMs: o.readyTimeoutS * 1000 + 30_000,
      onLog: o.verbose ? (l) => process.stderr.write(`serve: ${l}\n`) : undefined,
    });
  } catch (err) {
    const e = err as Error & { engineRefused?: boolean };
    return { status: e.engineRefused && isBackendRefusal(e.message) ? "unavailable" : "failed", reason: e.message };
  }
  hooks.setChild(child);
  const target = { url: child.url, model: o.servedModelName ?? "", child };
  try {
    const health = await waitHealthy(child.url, 30_000, () => child.exited() === null);
    const why = unavailableReason(health.backends, backend);
    if (why) {
      await closeTarget(target, hooks);
      return { status: "unavailable", reason: why };
    }
    target.model ||= health.model.name;
    const items = hooks.onModel({ model: health.model, device: health.device, config: health.config ?? null }).items;
    return { target, items };
  } catch (err) {
    await closeTarget(target, hooks);
    return { status: "failed", reason: (err as Error).message };
  }
}

async function closeTarget(t: Target, hooks: RunHooks): Promise<void> {
  await t.child?.stop(5000);
  hooks.setChild(null);
}

/** Did the engine survive? null when it did, else why not. */
async function deathOf(t: Target): Promise<string | null> {
  if (!t.child) return null;
  if (t.child.exited() !== null) return `serve exited (${t.child.exited()}): ${t.child.stderrTail().split("\n").slice(-2).join(" | ")}`;
  const h = await fetch(`${t.url}/health`).then((r) => (r.status === 200 ? null : r.json()), (e: Error) => ({ reason: e.message }));
  return h ? String((h as { reason?: string }).reason ?? "unhealthy") : null;
}

/** The engine's prefix-cache counters (our serve with --enable-prefix-caching only). */
async function cacheCounters(t: Target, caching: boolean): Promise<{ hit_tokens: number; miss_tokens: number; evicted_blocks: number } | null> {
  if (!t.child || !caching) return null;
  try {
    const h = (await (await fetch(`${t.url}/health`)).json()) as { stats?: Record<string, number> };
    const s = h.stats;
    if (!s || typeof s.prefix_cache_hit_tokens !== "number") return null;
    return { hit_tokens: s.prefix_cache_hit_tokens, miss_tokens: s.prefix_cache_miss_tokens, evicted_blocks: s.prefix_cache_evicted_blocks };
  } catch {
    return null;
  }
}

export interface ScaleRun {
  scale: number;
  offered_req_s?: number;
  load_fraction?: number | null;
}

/** One backend at one scale, on a fresh target. */
export async function runScale(o: TargetOptions, l: LoadOptions, backend: Backend, run: ScaleRun, summaryOpts: OnlineSummaryOptions, hooks: RunHooks): Promise<OnlineRun> {
  const base = { backend, scale: run.scale, ...(run.offered_req_s !== undefined ? { offered_req_s: run.offered_req_s, load_fraction: run.load_fraction ?? null } : {}) };
  const label = `${backend.label} x${run.scale}`;
  const opened = await openTarget(o, backend, label, hooks).catch((e: Error): Failure => ({ status: "failed", reason: e.message }));
  if ("status" in opened) return { ...base, status: opened.status, reason: opened.reason, summary: null, records: [] };
  const { target, items } = opened;
  try {
    const cacheBefore = await cacheCounters(target, o.enablePrefixCaching);
    const { records, warmupError, cacheWarm } = await runOnlineScale({
      endpointType: o.endpointType,
      url: target.url,
      model: target.model,
      items,
      scale: run.scale,
      ignoreEos: l.ignoreEos,
      apiKey: o.apiKey,
      warmupRequests: l.warmupRequests,
      requestTimeoutMs: l.requestTimeoutS * 1000,
      tag: `${backend.label}-x${run.scale}`,
      pool: l.pool,
      maxConcurrency: l.maxConcurrency,
      onRecord: (r, done) => hooks.onRecord(r, done, items.length),
      stopped: hooks.stopped,
      beforeReplay: () => cacheCounters(target, o.enablePrefixCaching),
    });
    hooks.progress.endLine();
    const cacheAfter = await cacheCounters(target, o.enablePrefixCaching);
    const start = cacheWarm ?? cacheBefore;
    const engineCache =
      start && cacheAfter
        ? { hit_tokens: cacheAfter.hit_tokens - start.hit_tokens, miss_tokens: cacheAfter.miss_tokens - start.miss_tokens, evicted_blocks: cacheAfter.evicted_blocks - start.evicted_blocks }
        : null;
    const summary = summarizeOnline(records, { ...summaryOpts, engineCache });
    if (warmupError) summary.invalid.push(`warm-up failed: ${warmupError}`);
    const died = await deathOf(target);
    return { ...base, status: died ? "failed" : "ok", reason: died, summary, records };
  } catch (err) {
    return { ...base, status: "failed", reason: (err as Error).message, summary: null, records: [] };
  } finally {
    await closeTarget(target, hooks);
  }
}

export type CapacityRun = ({ status: "ok"; reason: null } | Failure) & { estimate: CapacityEstimate | null; requests: number; records: RequestRecord[] };

/**
 * A backend's capacity on the workload's own request mix: `requests` requests (the workload's,
 * cycled) all sent at t = 0 (under --max-concurrency when given) to a fresh target.
 */
export async function runCapacity(o: TargetOptions, l: LoadOptions, backend: Backend, requests: number, hooks: RunHooks): Promise<CapacityRun> {
  const label = `${backend.label} capacity`;
  const opened = await openTarget(o, backend, label, hooks).catch((e: Error): Failure => ({ status: "failed", reason: e.message }));
  if ("status" in opened) return { ...opened, estimate: null, requests, records: [] };
  const { target, items } = opened;
  try {
    // All at t = 0: the cycled items keep their own lengths; their arrival times are not used.
    const saturating = Array.from({ length: requests }, (_, k) => ({ ...items[k % items.length], i: k, t_s: 0 }));
    const { records, warmupError } = await runOnlineScale({
      endpointType: o.endpointType,
      url: target.url,
      model: target.model,
      items: saturating,
      scale: 1,
      ignoreEos: l.ignoreEos,
      apiKey: o.apiKey,
      warmupRequests: l.warmupRequests,
      requestTimeoutMs: l.requestTimeoutS * 1000,
      tag: `${backend.label}-capacity`,
      pool: l.pool,
      maxConcurrency: l.maxConcurrency,
      onRecord: (r, done) => hooks.onRecord(r, done, requests),
      stopped: hooks.stopped,
    });
    hooks.progress.endLine();
    const died = await deathOf(target);
    const estimate = capacityFromRecords(records);
    const failed = records.filter((r) => !r.ok).length;
    if (died) return { status: "failed", reason: died, estimate, requests, records };
    if (warmupError) return { status: "failed", reason: `warm-up failed: ${warmupError}`, estimate, requests, records };
    if (estimate.req_s === null) return { status: "failed", reason: `no request completed (${failed} failed: ${records.find((r) => !r.ok)?.error ?? "?"})`, estimate, requests, records };
    if (failed > requests / 10) return { status: "failed", reason: `${failed} of ${requests} capacity requests failed (first: ${records.find((r) => !r.ok)?.error ?? "?"})`, estimate, requests, records };
    return { status: "ok", reason: null, estimate, requests, records };
  } catch (err) {
    return { status: "failed", reason: (err as Error).message, estimate: null, requests, records: [] };
  } finally {
    await closeTarget(target, hooks);
  }
}

