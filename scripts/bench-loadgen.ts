// LOAD-GENERATOR benchmark, not an engine benchmark: can `bench online`'s load generator
// (src/load/replay.ts + stream-pool.ts) hold a Poisson schedule at high request rates while it
// streams every response? It replays against a stub SSE server (this file, --stub-server: node:cluster
// processes answering POST /v1/completions with one token-bearing chunk every --chunk-ms, our serve's
// chunk format) or against any URL (--url, e.g. a running `attnbench serve`), and prints dispatch
// lateness (actual send - scheduled send) p50/p90/p99/max per worker-thread count.
//
//   node --import tsx scripts/bench-loadgen.ts --rate 2000 --duration-s 5 --tokens 32 --workers 0,1,2,4
import { fork, type ChildProcess } from "node:child_process";
import cluster from "node:cluster";
import http from "node:http";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { replay } from "../src/load/replay.js";
import { StreamPool } from "../src/load/stream-pool.js";
import { latenessOf } from "../src/metrics/online.js";
import { summarize } from "../src/metrics/percentiles.js";
import { mulberry32 } from "../src/traces/rng.js";

const { values: a } = parseArgs({
  options: {
    "stub-server": { type: "boolean", default: false },
    procs: { type: "string", default: "2" },
    url: { type: "string" },
    rate: { type: "string", default: "2000" },
    "duration-s": { type: "string", default: "5" },
    tokens: { type: "string", default: "32" },
    "chunk-ms": { type: "string", default: "1" },
    "prompt-tokens": { type: "string", default: "64" },
    workers: { type: "string", default: "0,1,2,4" },
    json: { type: "string" },
  },
});

// ---- the stub server ------------------------------------------------------------------------
if (a["stub-server"]) {
  if (cluster.isPrimary) {
    const procs = Number(a.procs);
    let listening = 0;
    for (let i = 0; i < procs; i++) cluster.fork();
    cluster.on("listening", (_w, addr) => {
      if (++listening === procs) process.send?.({ port: addr.port });
    });
    process.on("disconnect", () => process.exit(0));
  } else {
    const chunkMs = Number(a["chunk-ms"]);
    type Stream = { res: http.ServerResponse; left: number; n: number };
    const live = new Set<Stream>();
    // One timer writes the next chunk of every open stream: cheap at thousands of streams.
    setInterval(() => {
      const t = Number(process.hrtime.bigint());
      for (const s of live) {
        if (s.left > 0) {
          s.left--;
          s.res.write(`data: {"id":"x","object":"text_completion","choices":[{"index":0,"text":"a","token_ids":[${s.n - s.left}],"logprobs":null,"finish_reason":null}],"engine_t_ns":${t}}\n\n`);
        } else {
          s.res.write(`data: {"id":"x","object":"text_completion","choices":[{"index":0,"text":"","token_ids":[],"logprobs":null,"finish_reason":"length"}],"engine_t_ns":${t}}\n\n`);
          s.res.write(`data: {"id":"x","object":"text_completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${s.n},"total_tokens":${s.n + 1}}}\n\n`);
          s.res.end("data: [DONE]\n\n");
          live.delete(s);
        }
      }
    }, chunkMs).unref();
    const server = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d: string) => (body += d));
      req.on("end", () => {
        const n = (JSON.parse(body) as { max_tokens: number }).max_tokens;
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.flushHeaders();
        live.add({ res, left: n, n });
      });
    });
    server.keepAliveTimeout = 65_000;
    server.listen(0, "127.0.0.1");
  }
} else {
  await main();
}

async function startStub(): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), ["--stub-server", "--procs", a.procs!, "--chunk-ms", a["chunk-ms"]!], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve(m.port));
    child.once("exit", (c) => reject(new Error(`stub server exited (${c})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function main(): Promise<void> {
  const rate = Number(a.rate);
  const n = Math.round(rate * Number(a["duration-s"]));
  const tokens = Number(a.tokens);
  const prompt = Array.from({ length: Number(a["prompt-tokens"]) }, (_, k) => k % 1000);
  const rand = mulberry32(7);
  let t = 0;
  const schedule = Array.from({ length: n }, (_, i) => {
    if (i > 0) t += (-Math.log(1 - rand()) / rate) * 1000;
    return { scheduled_ms: t, item: i };
  });
  const stub = a.url ? null : await startStub();
  const url = a.url ?? stub!.url;
  process.stderr.write(
    `LOAD-GENERATOR benchmark (not an engine benchmark): ${n} requests, Poisson ${rate} req/s, ${tokens} streamed chunks each` +
      (stub ? ` every ${a["chunk-ms"]} ms from a stub SSE server (${a.procs} processes)` : ` from ${url}`) +
      `; host ${cpus()[0]?.model ?? "?"} x${availableParallelism()}\n`,
  );
  const rows: Record<string, unknown>[] = [];
  for (const workers of a.workers!.split(",").map(Number)) {
    const pool = new StreamPool(workers);
    // Warm the connections and the workers' code paths first.
    await Promise.all(Array.from({ length: 50 }, (_, i) => pool.send(req(url, -1 - i, prompt, 2, 0), process.hrtime.bigint())));
    const cpu0 = process.cpuUsage();
    const w0 = process.hrtime.bigint();
    const { records } = await replay(schedule, (i, t0) => pool.send(req(url, i, prompt, tokens, schedule[i].scheduled_ms), t0), { blockingWait: workers > 0 });
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
      achieved_req_s: (sends.length - 1) / ((Math.max(...sends) - Math.min(...sends)) / 1000),
      lateness_p50_ms: lat.p50,
      lateness_p90_ms: lat.p90,
      lateness_p99_ms: lat.p99,
      lateness_max_ms: lat.max,
      held_1ms: lat.p99 <= 1,
      generator_cpu_s: (cpu.user + cpu.system) / 1e6,
      wall_s,
    };
    rows.push(row);
    process.stderr.write(
      `workers ${workers}: ${row.ok}/${n} ok, ${row.chunks} chunks, achieved ${row.achieved_req_s.toFixed(0)} req/s, ` +
        `lateness p50 ${lat.p50.toFixed(3)} p90 ${lat.p90.toFixed(3)} p99 ${lat.p99.toFixed(3)} max ${lat.max.toFixed(1)} ms` +
        `${row.held_1ms ? "" : "  (p99 > 1 ms: schedule NOT held)"}; dispatch-thread CPU ${row.generator_cpu_s.toFixed(2)} s over ${wall_s.toFixed(1)} s\n`,
    );
  }
  stub?.child.kill();
  const out = { kind: "load-generator benchmark (stub SSE server, no engine)", rate, tokens, chunk_ms: Number(a["chunk-ms"]), stub_procs: stub ? Number(a.procs) : null, url: a.url ?? null, cpus: availableParallelism(), rows };
  if (a.json) (await import("node:fs")).writeFileSync(a.json, JSON.stringify(out, null, 2) + "\n");
  process.stdout.write(JSON.stringify(out) + "\n");
}

function req(url: string, i: number, prompt: number[], maxTokens: number, scheduled_ms: number) {
  return {
    i: Math.max(0, i),
    id: `lg-${i}`,
    url: `${url}/v1/completions`,
    body: { model: "stub", prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } },
    promptTokens: prompt.length,
    maxTokens,
    scheduled_ms,
    timeoutMs: 60_000,
  };
}
