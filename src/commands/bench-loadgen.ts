// `attnbench bench loadgen`: a LOAD-GENERATOR benchmark, not an engine benchmark. Can bench online's
// load generator (load/replay.ts + load/stream-pool.ts) hold a Poisson schedule at high request
// rates while streaming every response? It replays against a stub SSE server (load/stub-sse-server.ts)
// or any --url, and reports dispatch lateness (actual send - scheduled send; the send time is taken
// at the socket write by the thread that sends) p50/p90/p99/max for each worker-thread count and
// way of dispatching, with a verdict against --lateness-target-ms in every row and at the end.
import { Command } from "commander";
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { z } from "zod";
import { action, parseOptions } from "../cli/errors.js";
import { int } from "../cli/schemas.js";
import { replay } from "../load/replay.js";
import { StreamPool } from "../load/stream-pool.js";
import { closeIdleConnections, connectionsOpenedOnDemand, openConnections } from "../load/raw-http.js";
import { watchGc, type ThreadStats } from "../load/thread-stats.js";
import type { RequestRecord } from "../results/schema.js";
import type { StreamRequest } from "../load/http-stream.js";
import { runStubServer, startStubServer } from "../load/stub-sse-server.js";
import { latenessOf, rateOf, scheduleHeld } from "../metrics/online.js";
import { summarize } from "../metrics/percentiles.js";
import { mulberry32 } from "../traces/rng.js";

const Schema = z.object({
  stubServer: z.boolean().default(false),
  procs: int(1, 64).default(2),
  url: z.string().url().optional(),
  rate: z.coerce.number().positive().default(2000),
  durationS: z.coerce.number().positive().max(600).default(5),
  tokens: int(1, 4096).default(32),
  chunkMs: int(1, 1000).default(1),
  promptTokens: int(1, 100_000).default(64),
  workers: z
    .string()
    .default("0,2,4,8")
    .transform((s, ctx) => {
      const list = s.split(",").map((x) => Number(x.trim()));
      if (list.some((n) => !Number.isInteger(n) || n < 0 || n > 64)) {
        ctx.addIssue({ code: "custom", message: `expected worker counts 0..64, got ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return list;
    }),
  dispatch: z
    .string()
    .default("workers")
    .transform((s, ctx) => {
      const list = s.split(",").map((x) => x.trim());
      if (list.length === 0 || list.some((d) => d !== "main" && d !== "workers")) {
        ctx.addIssue({ code: "custom", message: `expected a list of main, workers; got ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return [...new Set(list)] as ("main" | "workers")[];
    }),
  latenessTargetMs: z.coerce.number().positive().default(1),
  json: z.string().min(1).optional(),
});

export const benchLoadgenCommand = new Command("loadgen")
  .description("load-generator benchmark (not an engine one): dispatch lateness at a Poisson rate with streamed responses, against a stub SSE server")
  .option("--rate <req/s>", "Poisson arrival rate", "2000")
  .option("--duration-s <s>", "length of the schedule", "5")
  .option("--tokens <n>", "streamed chunks (tokens) per response", "32")
  .option("--chunk-ms <ms>", "stub server: one chunk per stream every this many ms", "1")
  .option("--prompt-tokens <n>", "token ids per prompt", "64")
  .option("--workers <list>", "worker-thread counts to compare (0: this thread keeps the schedule and streams)", "0,2,4,8")
  .option("--dispatch <list>", "who keeps the schedule with worker threads: workers (each its share; what bench online does) and/or main (this thread, handing each request over)", "workers")
  .option("--lateness-target-ms <ms>", "dispatch lateness p99 to hold; a row above it says SCHEDULE NOT HELD", "1")
  .option("--procs <n>", "stub server processes", "2")
  .option("--url <url>", "a running OpenAI-compatible server instead of the stub (e.g. attnbench serve)")
  .option("--json <file>", "also write the results as JSON here")
  .option("--stub-server", "internal: run the stub server (used by this command)")
  .action(
    action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(Schema, raw);
      if (o.stubServer) return runStubServer(o.procs, o.chunkMs);
      await benchLoadgen(o);
    }),
  );

type Options = z.infer<typeof Schema>;

/** One configuration's result row. */
export interface LoadgenRow {
  dispatch: "main" | "workers";
  workers: number;
  requests: number;
  ok: number;
  chunks: number;
  achieved_req_s: number;
  lateness_ms: { p50: number; p90: number; p99: number; max: number };
  /** Share of sends later than the target. */
  late_fraction: number;
  lateness_target_ms: number;
  schedule_held: boolean;
  /** Per sending thread: sends, connections opened during the run, GC pauses. */
  threads: ThreadStats[];
  generator_cpu_s: number;
  wall_s: number;
}

/** A row from a run's records: lateness = actual send - scheduled send (latenessOf), judged by scheduleHeld. */
export function loadgenRow(
  cfg: { dispatch: "main" | "workers"; workers: number; targetMs: number },
  records: readonly RequestRecord[],
  extra: { threads: ThreadStats[]; generator_cpu_s: number; wall_s: number },
): LoadgenRow {
  const late = records.flatMap((r) => (latenessOf(r) === null ? [] : [latenessOf(r)!]));
  const lat = summarize(late);
  const sends = records.flatMap((r) => (r.sent_ms === null ? [] : [r.sent_ms]));
  return {
    dispatch: cfg.dispatch,
    workers: cfg.workers,
    requests: records.length,
    ok: records.filter((r) => r.ok).length,
    chunks: records.reduce((s, r) => s + r.chunks.length, 0),
    achieved_req_s: rateOf(sends),
    lateness_ms: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
    late_fraction: late.length ? late.filter((l) => l > cfg.targetMs).length / late.length : 0,
    lateness_target_ms: cfg.targetMs,
    schedule_held: scheduleHeld(lat, cfg.targetMs),
    ...extra,
  };
}

/** The printed line of a row; says plainly when the schedule was not held. */
export function rowLine(row: LoadgenRow): string {
  const l = row.lateness_ms;
  const gcMax = Math.max(0, ...row.threads.map((t) => t.gc_ms_max));
  const connects = row.threads.reduce((s, t) => s + t.connects, 0);
  return (
    `${row.dispatch === "workers" ? "workers keep the schedule" : "this thread keeps the schedule"}, ${row.workers} worker(s): ` +
    `${row.ok}/${row.requests} ok, ${row.chunks} chunks, achieved ${row.achieved_req_s.toFixed(0)} req/s, ` +
    `lateness p50 ${l.p50.toFixed(3)} p90 ${l.p90.toFixed(3)} p99 ${l.p99.toFixed(3)} max ${l.max.toFixed(1)} ms ` +
    (row.schedule_held
      ? `(held: p99 <= ${row.lateness_target_ms} ms)`
      : `(SCHEDULE NOT HELD: p99 > ${row.lateness_target_ms} ms; ${(row.late_fraction * 100).toFixed(1)}% of sends later than that)`) +
    `; GC pause max ${gcMax.toFixed(1)} ms, ${connects} connections opened mid-run; generator CPU ${row.generator_cpu_s.toFixed(2)} s over ${row.wall_s.toFixed(1)} s`
  );
}

async function benchLoadgen(o: Options): Promise<void> {
  const n = Math.max(1, Math.round(o.rate * o.durationS));
  const prompt = Array.from({ length: o.promptTokens }, (_, k) => k % 1000);
  const rand = mulberry32(7);
  let t = 0;
  const schedule = Array.from({ length: n }, (_, i) => {
    if (i > 0) t += (-Math.log(1 - rand()) / o.rate) * 1000;
    return i === 0 ? 0 : t;
  });
  const stub = o.url ? null : await startStubServer(o.procs, o.chunkMs);
  const url = (o.url ?? stub!.url).replace(/\/+$/, "");
  const req = (i: number, maxTokens: number, scheduled_ms: number): StreamRequest => ({
    i: Math.max(0, i),
    id: `lg-${i}`,
    url: `${url}/v1/completions`,
    body: { prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } },
    promptTokens: prompt.length,
    maxTokens,
    scheduled_ms,
    timeoutMs: 60_000,
  });
  // Kept-alive connections opened ahead: twice the expected concurrency (rate x a stream's length),
  // so that no send waits for a connection (the stub's streams last tokens x chunk-ms).
  const conns = Math.ceil(2 * o.rate * ((o.tokens * o.chunkMs + 10) / 1000)) + 16;
  process.stderr.write(
    `LOAD-GENERATOR benchmark (not an engine benchmark): ${n} requests, Poisson ${o.rate} req/s, ${o.tokens} streamed chunks each` +
      (stub ? ` every ${o.chunkMs} ms from a stub SSE server (${o.procs} processes)` : ` from ${url}`) +
      `; target: dispatch lateness p99 <= ${o.latenessTargetMs} ms; ${cpus()[0]?.model ?? "?"} x${availableParallelism()}\n`,
  );
  const configs = o.workers.flatMap((w) =>
    w === 0 ? [{ dispatch: "main" as const, workers: 0 }] : o.dispatch.map((d) => ({ dispatch: d, workers: w })),
  );
  const rows: LoadgenRow[] = [];
  try {
    for (const cfg of configs) {
      const pool = new StreamPool(cfg.workers);
      try {
        // Warm the threads' code paths, then open the connections the run will use.
        await Promise.all(Array.from({ length: 50 }, (_, i) => pool.send(req(-1 - i, 2, 0), process.hrtime.bigint())));
        if (cfg.workers > 0) await pool.connect(`${url}/`, conns);
        else await openConnections(`${url}/`, conns);
        const own = { sent: 0, connects: 0, gc_count: 0, gc_ms_total: 0, gc_ms_max: 0 };
        const connects0 = connectionsOpenedOnDemand();
        const stopGc = watchGc(own);
        const cpu0 = process.cpuUsage();
        const w0 = process.hrtime.bigint();
        let records: RequestRecord[];
        let threads: ThreadStats[] = [];
        if (cfg.dispatch === "workers") {
          ({ records, threads } = await pool.replay(schedule.map((at, i) => req(i, o.tokens, at))));
        } else {
          ({ records } = await replay(
            schedule.map((at, i) => ({ scheduled_ms: at, item: i })),
            (i, t0) => pool.send(req(i, o.tokens, schedule[i]), t0),
            { blockingWait: cfg.workers > 0 },
          ));
        }
        const wall_s = Number(process.hrtime.bigint() - w0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        await stopGc();
        // This thread's pauses count when it keeps the schedule (it sends, too, with 0 workers).
        if (cfg.dispatch === "main") threads = [{ ...own, sent: cfg.workers === 0 ? records.length : 0, connects: connectionsOpenedOnDemand() - connects0 }];
        const row = loadgenRow({ ...cfg, targetMs: o.latenessTargetMs }, records, { threads, generator_cpu_s: (cpu.user + cpu.system) / 1e6, wall_s });
        rows.push(row);
        process.stderr.write(rowLine(row) + "\n");
      } finally {
        await pool.close();
      }
    }
  } finally {
    closeIdleConnections();
    await stub?.stop();
  }
  const held = rows.filter((r) => r.schedule_held);
  const verdict = held.length
    ? `schedule held (lateness p99 <= ${o.latenessTargetMs} ms at ${o.rate} req/s) with: ${held.map((r) => `${r.dispatch}/${r.workers}`).join(", ")}`
    : `SCHEDULE NOT HELD in any configuration: lateness p99 > ${o.latenessTargetMs} ms at ${o.rate} req/s (best p99 ${Math.min(...rows.map((r) => r.lateness_ms.p99)).toFixed(2)} ms)`;
  process.stderr.write(verdict + "\n");
  const out = {
    kind: "load-generator benchmark (not an engine benchmark)",
    target: stub ? `stub SSE server, ${o.procs} processes, a chunk every ${o.chunkMs} ms` : url,
    rate: o.rate,
    duration_s: o.durationS,
    tokens: o.tokens,
    prompt_tokens: o.promptTokens,
    lateness_target_ms: o.latenessTargetMs,
    cpu: cpus()[0]?.model ?? null,
    cores: availableParallelism(),
    rows,
    verdict,
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(out, null, 2) + "\n");
  process.stdout.write(JSON.stringify(out) + "\n");
}
