// Bounded soak on loopback: `attnbench serve` (its own process, over the real engine) held at
// saturation by closed-loop clients for a set time, a fraction of them disconnecting at random and
// a few sending bad input on purpose. Afterwards every request must be accounted for, the KV pool
// whole, nothing in flight, the engine's RSS back near its start, and the server's live memory
// (what a full GC cannot free, read through the V8 inspector: scripts/inspector.ts says why not RSS)
// back near its start.
//
//   npx tsx scripts/soak.ts --duration-s 600            (the long one; docs/reliability.md)
//   npx tsx scripts/soak.ts --duration-s 20 --json out.json
//
// Exit 0 when every check holds, 1 otherwise. Traffic goes to 127.0.0.1 only.
import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { spawnServe, waitHealthy, type ServeChild } from "../src/load/serve-process.js";
import { mulberry32 } from "../src/traces/rng.js";
import { descendants, rssKiB } from "./procs.js";
import { Inspector, INSPECTOR_URL_RE, type LiveMemory } from "./inspector.js";

export interface SoakOptions {
  durationS: number;
  concurrency: number;
  disconnectFraction: number;
  badFraction: number;
  seed: number;
  engine: string;
  model: string;
  /** A small pool, so the soak also runs through KV exhaustion and preemption. */
  numKvBlocks: number;
  requestTimeoutMs: number;
  /** Growth allowed in the engine's RSS between after warm-up and after the soak (MiB). */
  maxEngineRssGrowthMiB: number;
  /** Growth allowed in the server's live memory (heap used + external, after a full GC) over the same span (MiB). */
  maxServerLiveGrowthMiB: number;
  /** How long to wait, idle, for the engine's RSS to come back within its bound. */
  rssSettleMs: number;
  /** Load before the "before" RSS is taken, so the server's heap has grown to its working size. */
  warmupS?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  duration_s: number;
  concurrency: number;
  sent: number;
  completed: number;
  rejected_as_intended: number;
  disconnected: number;
  failed: number;
  failed_by_reason: Record<string, number>;
  unaccounted: number;
  engine_preemptions: number;
  kv_blocks_free: number;
  kv_blocks_total: number;
  server_in_flight: number;
  rss_kib: { engine_before: number; engine_after: number; server_before: number; server_after: number };
  /** The server's memory after a forced full GC, before and after the soak. */
  server_live: { before: LiveMemory; after: LiveMemory };
  pids: { server: number | undefined; engine: number | undefined };
  checks: { name: string; ok: boolean; detail: string }[];
  ok: boolean;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const DEFAULT_SOAK: SoakOptions = {
  durationS: 60,
  concurrency: 24,
  disconnectFraction: 0.2,
  badFraction: 0.05,
  seed: 1,
  engine: process.env.ATTNBENCH_ENGINE ?? join(REPO, "native", "build", "attnbench-engine"),
  model: "synthetic:tiny",
  numKvBlocks: 96,
  requestTimeoutMs: 60_000,
  maxEngineRssGrowthMiB: 32,
  // Measured on the 2-core VM (CI's soak: 15 s at concurrency 16 after a 10 s warm-up, two soaks at
  // once for contention): +0.2-0.3 MiB over ~1000 requests; a planted 2 KiB-per-request leak: +3.9 MiB.
  maxServerLiveGrowthMiB: 3,
  rssSettleMs: 20_000,
};

// Resident memory in KiB, 0 when the process is unknown or gone.
const rss = (pid: number | undefined): number => (pid ? rssKiB(pid) ?? 0 : 0);

type Outcome = { kind: "completed" } | { kind: "rejected" } | { kind: "disconnected" } | { kind: "failed"; reason: string };

interface Plan {
  bad: boolean;
  stream: boolean;
  prompt: number[];
  maxTokens: number;
  /** Disconnect after this many SSE events (stream) or this many ms (non-stream); null = stay. */
  disconnectAfter: number | null;
}

function plan(rand: () => number, o: SoakOptions, vocab: number, nCtx: number): Plan {
  const bad = rand() < o.badFraction;
  const promptLen = 1 + Math.floor(rand() * 100);
  const prompt = Array.from({ length: promptLen }, () => Math.floor(rand() * (vocab - 1)));
  const maxTokens = 1 + Math.floor(rand() * Math.min(120, nCtx - promptLen));
  const stream = rand() < 0.8;
  const disconnect = !bad && rand() < o.disconnectFraction;
  if (bad) {
    // Alternate the kinds of bad input: out of vocabulary, beyond the context, wrong type.
    const k = Math.floor(rand() * 3);
    if (k === 0) prompt[0] = vocab + 5;
    return { bad, stream, prompt, maxTokens: k === 1 ? nCtx : k === 2 ? -3 : maxTokens, disconnectAfter: null };
  }
  return { bad, stream, prompt, maxTokens, disconnectAfter: disconnect ? (stream ? Math.floor(rand() * 20) : Math.floor(rand() * 200)) : null };
}

async function oneRequest(url: string, p: Plan, timeoutMs: number): Promise<Outcome> {
  const ctrl = new AbortController();
  let weAborted = false;
  const timer = setTimeout(() => ctrl.abort(new Error("client timeout")), timeoutMs);
  const disconnect = () => {
    weAborted = true;
    ctrl.abort();
  };
  try {
    if (!p.stream && p.disconnectAfter !== null) setTimeout(disconnect, p.disconnectAfter);
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: p.prompt, max_tokens: p.maxTokens, stream: p.stream, ignore_eos: true, temperature: 1 }),
      signal: ctrl.signal,
    });
    if (res.status === 400 && p.bad) {
      await res.text();
      return { kind: "rejected" };
    }
    if (res.status !== 200) {
      const t = await res.text();
      let msg = t;
      try {
        msg = JSON.parse(t).error.message;
      } catch {
        /* raw */
      }
      return { kind: "failed", reason: `HTTP ${res.status}: ${msg.slice(0, 80)}` };
    }
    if (!p.stream) {
      const j = (await res.json()) as any;
      return j?.choices?.[0]?.finish_reason ? { kind: "completed" } : { kind: "failed", reason: "no finish_reason" };
    }
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let events = 0;
    let finished = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        events++;
        if (ev === "data: [DONE]") finished = true;
        else if (ev.startsWith('data: {"error"')) return { kind: "failed", reason: `stream error: ${JSON.parse(ev.slice(6)).error.message.slice(0, 80)}` };
        if (p.disconnectAfter !== null && events >= p.disconnectAfter) {
          disconnect();
          return { kind: "disconnected" };
        }
      }
    }
    return finished ? { kind: "completed" } : { kind: "failed", reason: "stream ended without [DONE]" };
  } catch (err) {
    if (weAborted) return { kind: "disconnected" };
    const e = err as Error & { cause?: Error };
    return { kind: "failed", reason: ctrl.signal.aborted ? "client timeout" : `connection error: ${(e.cause?.message ?? e.message).slice(0, 60)}` };
  } finally {
    clearTimeout(timer);
  }
}

export async function runSoak(opts: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o: SoakOptions = { ...DEFAULT_SOAK, ...opts };
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let inspectorUrl: string | undefined;
  const serve: ServeChild = await spawnServe(["--engine", o.engine, "--model", o.model, "--num-kv-blocks", String(o.numKvBlocks)], {
    startTimeoutMs: 60_000,
    nodeArgs: ["--inspect=127.0.0.1:0"],
    onLog: (l) => (inspectorUrl ??= INSPECTOR_URL_RE.exec(l)?.[1]),
  });
  let inspector: Inspector | undefined;
  try {
    if (!inspectorUrl) throw new Error("soak: the server printed no inspector URL (started without --inspect?)");
    inspector = await Inspector.connect(inspectorUrl);
    const health = await waitHealthy(serve.url, 30_000);
    const vocab: number = health.model.vocab_size;
    const nCtx: number = health.model.n_ctx;
    const enginePid = descendants(serve.pid!, "attnbench-engin")[0];
    const rand = mulberry32(o.seed);
    const counts = { sent: 0, completed: 0, rejected: 0, disconnected: 0, failed: 0 };
    const reasons: Record<string, number> = {};
    const outstanding = new Set<Promise<void>>();
    let stopAt = 0;

    const client = async () => {
      while (Date.now() < stopAt) {
        counts.sent++;
        const out = await oneRequest(serve.url, plan(rand, o, vocab, nCtx), o.requestTimeoutMs);
        if (out.kind === "failed") {
          counts.failed++;
          reasons[out.reason] = (reasons[out.reason] ?? 0) + 1;
        } else counts[out.kind === "rejected" ? "rejected" : out.kind]++;
      }
    };
    const phase = async (seconds: number) => {
      stopAt = Date.now() + seconds * 1000;
      for (let k = 0; k < o.concurrency; k++) {
        const p: Promise<void> = client().finally(() => outstanding.delete(p));
        outstanding.add(p);
      }
      const progress = setInterval(() => log(`soak: ${counts.sent} sent, ${counts.completed} completed, ${counts.disconnected} disconnected, ${counts.failed} failed`), 10_000);
      // Clients stop issuing at stopAt; the last requests get the request timeout plus a grace.
      const grace = new Promise<void>((r) => setTimeout(r, seconds * 1000 + o.requestTimeoutMs + 5000).unref());
      await Promise.race([Promise.all([...outstanding]), grace]);
      clearInterval(progress);
    };
    const settle = async () => {
      for (let k = 0; k < 100; k++) {
        const h = (await (await fetch(`${serve.url}/health`)).json()) as any;
        if (h.in_flight === 0 && h.stats.kv_blocks_free === h.stats.kv_blocks_total && h.stats.running === 0 && h.stats.waiting === 0) return h;
        await new Promise((r) => setTimeout(r, 100));
      }
      return (await (await fetch(`${serve.url}/health`)).json()) as any;
    };

    // Warm-up (default 10% of the time, 2-10 s): the server's V8 heap grows to its working size here
    // (~250 MiB at concurrency 24 on this machine), so growth measured afterwards means a leak.
    const warmS = o.warmupS ?? Math.min(10, Math.max(2, o.durationS / 10));
    log(`soak: serve ${serve.url} (pid ${serve.pid}, engine pid ${enginePid}); warm-up ${warmS} s, then ${o.durationS} s at concurrency ${o.concurrency}`);
    await phase(warmS);
    await settle();
    Object.assign(counts, { sent: 0, completed: 0, rejected: 0, disconnected: 0, failed: 0 });
    for (const k of Object.keys(reasons)) delete reasons[k];
    const statsBefore = (await settle()).stats;
    const before = { engine: rss(enginePid), server: rss(serve.pid) };
    const liveBefore = await inspector.liveMemory();

    await phase(o.durationS);
    const unaccounted = counts.sent - (counts.completed + counts.rejected + counts.disconnected + counts.failed);
    const h = await settle();
    // The engine (C++) frees on the spot, but glibc may hold freed arenas a moment: sample its RSS
    // for up to rssSettleMs and keep the first reading within the bound.
    const within = (a: { engine: number }) => a.engine - before.engine < o.maxEngineRssGrowthMiB * 1024;
    let after = { engine: rss(enginePid), server: rss(serve.pid) };
    for (const until = Date.now() + o.rssSettleMs; !within(after) && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 500));
      after = { engine: rss(enginePid), server: rss(serve.pid) };
    }
    const liveAfter = await inspector.liveMemory();
    const live = (m: LiveMemory) => m.heap_used_bytes + m.external_bytes;
    const liveGrowth = live(liveAfter) - live(liveBefore);
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
    const checks = [
      { name: "every request accounted for", ok: unaccounted === 0 && outstanding.size === 0, detail: `${unaccounted} unaccounted, ${outstanding.size} clients still waiting` },
      { name: "no failures", ok: counts.failed === 0, detail: JSON.stringify(reasons) },
      { name: "KV pool fully free", ok: h.stats.kv_blocks_free === h.stats.kv_blocks_total, detail: `${h.stats.kv_blocks_free}/${h.stats.kv_blocks_total}` },
      { name: "nothing in flight", ok: h.in_flight === 0 && h.stats.running === 0 && h.stats.waiting === 0, detail: `in_flight ${h.in_flight}, running ${h.stats.running}, waiting ${h.stats.waiting}` },
      { name: "engine alive", ok: serve.exited() === null && h.status === "ok", detail: serve.exited() ?? h.status },
      { name: "engine RSS back near its start", ok: within(after), detail: `${before.engine} -> ${after.engine} KiB (bound +${o.maxEngineRssGrowthMiB} MiB)` },
      {
        name: "server live memory (after a full GC) back near its start",
        ok: liveGrowth < o.maxServerLiveGrowthMiB * 2 ** 20,
        detail: `${mib(live(liveBefore))} -> ${mib(live(liveAfter))}, ${liveGrowth >= 0 ? "+" : ""}${(liveGrowth / Math.max(1, counts.sent)).toFixed(0)} B per request (bound +${o.maxServerLiveGrowthMiB} MiB)`,
      },
    ];
    return {
      duration_s: o.durationS,
      concurrency: o.concurrency,
      sent: counts.sent,
      completed: counts.completed,
      rejected_as_intended: counts.rejected,
      disconnected: counts.disconnected,
      failed: counts.failed,
      failed_by_reason: { ...reasons },
      unaccounted,
      engine_preemptions: h.stats.preemptions - statsBefore.preemptions,
      kv_blocks_free: h.stats.kv_blocks_free,
      kv_blocks_total: h.stats.kv_blocks_total,
      server_in_flight: h.in_flight,
      rss_kib: { engine_before: before.engine, engine_after: after.engine, server_before: before.server, server_after: after.server },
      server_live: { before: liveBefore, after: liveAfter },
      pids: { server: serve.pid, engine: enginePid },
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    inspector?.close();
    await serve.stop(5000);
  }
}

export function formatSoak(r: SoakReport): string {
  const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
  const reasons = Object.entries(r.failed_by_reason).map(([k, v]) => `    ${v}x ${k}`);
  return [
    `soak: ${r.duration_s} s at concurrency ${r.concurrency}`,
    `  requests sent        ${r.sent}`,
    `  completed            ${r.completed}`,
    `  rejected (bad input, 4xx as intended) ${r.rejected_as_intended}`,
    `  disconnected         ${r.disconnected}`,
    `  failed               ${r.failed}${reasons.length ? "\n" + reasons.join("\n") : ""}`,
    `  unaccounted          ${r.unaccounted}`,
    `  engine preemptions   ${r.engine_preemptions}`,
    `  KV free/total        ${r.kv_blocks_free}/${r.kv_blocks_total}`,
    `  RSS engine           ${mib(r.rss_kib.engine_before)} -> ${mib(r.rss_kib.engine_after)}`,
    `  RSS server           ${mib(r.rss_kib.server_before)} -> ${mib(r.rss_kib.server_after)} (not checked: V8 returns pages lazily)`,
    `  server live after GC ${mib((r.server_live.before.heap_used_bytes + r.server_live.before.external_bytes) / 1024)} -> ${mib((r.server_live.after.heap_used_bytes + r.server_live.after.external_bytes) / 1024)}`,
    ...r.checks.map((c) => `  [${c.ok ? "ok" : "FAIL"}] ${c.name}: ${c.detail}`),
    r.ok ? "soak: PASS" : "soak: FAIL",
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "duration-s": { type: "string", default: "60" },
      concurrency: { type: "string", default: String(DEFAULT_SOAK.concurrency) },
      "disconnect-fraction": { type: "string", default: String(DEFAULT_SOAK.disconnectFraction) },
      "bad-fraction": { type: "string", default: String(DEFAULT_SOAK.badFraction) },
      "num-kv-blocks": { type: "string", default: String(DEFAULT_SOAK.numKvBlocks) },
      seed: { type: "string", default: "1" },
      engine: { type: "string", default: DEFAULT_SOAK.engine },
      model: { type: "string", default: DEFAULT_SOAK.model },
      json: { type: "string" },
    },
  });
  const problems: string[] = [];
  const num = (flag: string, v: string | undefined, min: number, max = Infinity, int = false) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) problems.push(`--${flag}: must be ${int ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return n;
  };
  const o: Partial<SoakOptions> = {
    durationS: num("duration-s", values["duration-s"], 1, 86_400),
    concurrency: num("concurrency", values.concurrency, 1, 1024, true),
    disconnectFraction: num("disconnect-fraction", values["disconnect-fraction"], 0, 1),
    badFraction: num("bad-fraction", values["bad-fraction"], 0, 1),
    numKvBlocks: num("num-kv-blocks", values["num-kv-blocks"], 16, 1 << 24, true),
    seed: num("seed", values.seed, 0, 2 ** 32, true),
    engine: values.engine,
    model: values.model,
  };
  if (problems.length) {
    for (const p of problems) process.stderr.write(`soak: ${p}\n`);
    process.exit(2);
  }
  const report = await runSoak(o);
  process.stdout.write(formatSoak(report) + "\n");
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n");
  process.exitCode = report.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
