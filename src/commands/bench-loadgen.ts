// `attnbench bench loadgen`: a LOAD-GENERATOR benchmark, not an engine benchmark. Can bench online's
// load generator (load/replay.ts + load/stream-pool.ts) hold a Poisson schedule at high request
// rates while streaming every response? It replays against a stub SSE server (load/stub-sse-server.ts)
// or any --url, and reports dispatch lateness (actual send - scheduled send) p50/p90/p99/max for
// each worker-thread count.
import { Command } from "commander";
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { z } from "zod";
import { action, parseOptions } from "../cli/errors.js";
import { int } from "../cli/schemas.js";
import { replay } from "../load/replay.js";
import { StreamPool } from "../load/stream-pool.js";
import type { StreamRequest } from "../load/http-stream.js";
import { runStubServer, startStubServer } from "../load/stub-sse-server.js";
import { latenessOf } from "../metrics/online.js";
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
    .default("0,1,2,4")
    .transform((s, ctx) => {
      const list = s.split(",").map((x) => Number(x.trim()));
      if (list.some((n) => !Number.isInteger(n) || n < 0 || n > 64)) {
        ctx.addIssue({ code: "custom", message: `expected worker counts 0..64, got ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return list;
    }),
  json: z.string().min(1).optional(),
});

export const benchLoadgenCommand = new Command("loadgen")
  .description("load-generator benchmark (not an engine one): dispatch lateness at a Poisson rate with streamed responses, against a stub SSE server")
  .option("--rate <req/s>", "Poisson arrival rate", "2000")
  .option("--duration-s <s>", "length of the schedule", "5")
  .option("--tokens <n>", "streamed chunks (tokens) per response", "32")
  .option("--chunk-ms <ms>", "stub server: one chunk per stream every this many ms", "1")
  .option("--prompt-tokens <n>", "token ids per prompt", "64")
  .option("--workers <list>", "worker-thread counts to compare (0: stream on the dispatch thread)", "0,1,2,4")
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

async function benchLoadgen(o: z.infer<typeof Schema>): Promise<void> {
  const n = Math.max(1, Math.round(o.rate * o.durationS));
  const prompt = Array.from({ length: o.promptTokens }, (_, k) => k % 1000);
  const rand = mulberry32(7);
  let t = 0;
  const schedule = Array.from({ length: n }, (_, i) => {
    if (i > 0) t += (-Math.log(1 - rand()) / o.rate) * 1000;
    return { scheduled_ms: t, item: i };
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
  process.stderr.write(
    `LOAD-GENERATOR benchmark (not an engine benchmark): ${n} requests, Poisson ${o.rate} req/s, ${o.tokens} streamed chunks each` +
      (stub ? ` every ${o.chunkMs} ms from a stub SSE server (${o.procs} processes)` : ` from ${url}`) +
      `; ${cpus()[0]?.model ?? "?"} x${availableParallelism()}\n`,
  );
  const rows: Record<string, unknown>[] = [];
  try {
    for (const workers of o.workers) {
      const pool = new StreamPool(workers);
      // Warm the connections and the threads' code paths first.
      await Promise.all(Array.from({ length: 50 }, (_, i) => pool.send(req(-1 - i, 2, 0), process.hrtime.bigint())));
      const cpu0 = process.cpuUsage();
      const w0 = process.hrtime.bigint();
      const { records } = await replay(schedule, (i, t0) => pool.send(req(i, o.tokens, schedule[i].scheduled_ms), t0), { blockingWait: workers > 0 });
      const wall_s = Number(process.hrtime.bigint() - w0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      await pool.close();
      const lat = summarize(records.flatMap((r) => (latenessOf(r) === null ? [] : [latenessOf(r)!])));
      const sends = records.flatMap((r) => (r.sent_ms === null ? [] : [r.sent_ms]));
      const row = {
        workers,
        requests: n,
        ok: records.filter((r) => r.ok).length,
        chunks: records.reduce((s, r) => s + r.chunks.length, 0),
        achieved_req_s: sends.length > 1 ? (sends.length - 1) / ((Math.max(...sends) - Math.min(...sends)) / 1000) : 0,
        lateness_ms: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
        schedule_held_1ms: lat.p99 <= 1,
        generator_cpu_s: (cpu.user + cpu.system) / 1e6,
        wall_s,
      };
      rows.push(row);
      process.stderr.write(
        `workers ${workers}: ${row.ok}/${n} ok, ${row.chunks} chunks, achieved ${row.achieved_req_s.toFixed(0)} req/s, ` +
          `lateness p50 ${lat.p50.toFixed(3)} p90 ${lat.p90.toFixed(3)} p99 ${lat.p99.toFixed(3)} max ${lat.max.toFixed(1)} ms` +
          `${row.schedule_held_1ms ? "" : " (p99 > 1 ms: schedule NOT held)"}; generator CPU ${row.generator_cpu_s.toFixed(2)} s over ${wall_s.toFixed(1)} s\n`,
      );
    }
  } finally {
    await stub?.stop();
  }
  const out = {
    kind: "load-generator benchmark (not an engine benchmark)",
    target: stub ? `stub SSE server, ${o.procs} processes, a chunk every ${o.chunkMs} ms` : url,
    rate: o.rate,
    duration_s: o.durationS,
    tokens: o.tokens,
    prompt_tokens: o.promptTokens,
    cpu: cpus()[0]?.model ?? null,
    cores: availableParallelism(),
    rows,
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(out, null, 2) + "\n");
  process.stdout.write(JSON.stringify(out) + "\n");
}
