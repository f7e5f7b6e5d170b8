// The load generator: --max-concurrency queues arrivals and records the wait per request (never
// hidden: lateness excludes it, goodput counts it), the schedule verdict, and the worker-thread pool
// that streams responses off the dispatch thread (same records as streaming on it).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { replay } from "../src/load/replay.js";
import { defaultLoadWorkers, StreamPool } from "../src/load/stream-pool.js";
import { streamCompletion, type StreamRequest } from "../src/load/http-stream.js";
import { SseParser } from "../src/load/sse-parser.js";
import { latenessOf, summarizeOnline } from "../src/metrics/online.js";
import { meetsSlo } from "../src/metrics/goodput.js";
import { rec } from "./helpers/records.js";
import { cli } from "./helpers/cli.js";

test("max concurrency: arrivals beyond the cap wait in FIFO order, and the wait is their queue_ms", async () => {
  const sends: { i: number; at: number }[] = [];
  const { records } = await replay(
    [0, 0, 0, 0, 5].map((ms, i) => ({ scheduled_ms: ms, item: i })),
    async (i, t0) => {
      const sent = Number(process.hrtime.bigint() - t0) / 1e6;
      sends.push({ i, at: sent });
      await new Promise((r) => setTimeout(r, 300));
      return rec({ i, scheduled_ms: [0, 0, 0, 0, 5][i], sent_ms: sent, chunks: [{ t_ms: sent + 1, n: 1 }] });
    },
    { leadMs: 5, maxConcurrency: 2 },
  );
  assert.deepEqual(sends.map((s) => s.i), [0, 1, 2, 3, 4], "FIFO");
  assert.deepEqual(records.map((r) => r.i), [0, 1, 2, 3, 4], "records in schedule order");
  assert.equal(records[0].queue_ms, 0);
  assert.equal(records[1].queue_ms, 0);
  // Margins for a loaded 2-core machine: timers may fire ~100 ms late there.
  for (const k of [2, 3]) assert.ok(records[k].queue_ms! >= 290 && records[k].queue_ms! < 1000, `queue ${records[k].queue_ms}`);
  assert.ok(records[4].queue_ms! >= 580, `the fifth waits for two turns: ${records[4].queue_ms}`);
  // The queue wait is not lateness: each request left the generator on time.
  for (const r of records) assert.ok(latenessOf(r)! < 200, `lateness ${latenessOf(r)}`);
});

test("summary: lateness excludes the queue, queue_ms stats, the schedule verdict, goodput counts the queue", () => {
  const records = [
    rec({ i: 0, scheduled_ms: 0, sent_ms: 0.2, queue_ms: 0, chunks: [{ t_ms: 10, n: 1 }, { t_ms: 20, n: 1 }] }),
    rec({ i: 1, scheduled_ms: 0, sent_ms: 300.4, queue_ms: 300, chunks: [{ t_ms: 310, n: 1 }, { t_ms: 320, n: 1 }] }),
  ];
  const s = summarizeOnline(records, { slo: { ttft_ms: 100 }, latenessTargetMs: 1, workers: 2, maxConcurrency: 1 });
  assert.ok(Math.abs(s.lateness_ms.max - 0.4) < 1e-9, `lateness max ${s.lateness_ms.max}`);
  assert.equal(s.queue_ms!.max, 300);
  assert.deepEqual(s.load_generator, { lateness_target_ms: 1, schedule_held: true, workers: 2, max_concurrency: 1 });
  assert.ok(Math.abs(s.ttft_ms.min - 9.6) < 1e-9, "TTFT from the send, as vLLM (the queue is not in it)");
  assert.equal(s.goodput!.fraction, 0.5, "the queued request's 309.6 ms from arrival misses a 100 ms TTFT SLO");
  assert.ok(meetsSlo(records[1], { ttft_ms: 310 }));
  const late = summarizeOnline([rec({ scheduled_ms: 0, sent_ms: 3, chunks: [{ t_ms: 9, n: 1 }] })], { latenessTargetMs: 1 });
  assert.equal(late.load_generator!.schedule_held, false);
  assert.deepEqual(late.invalid, [], "late but within --max-lateness-ms: flagged, not invalid");
});

test("default worker threads: none below 4 cores, then cores - 2 up to 4", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 8, 16, 128].map((c) => defaultLoadWorkers(c)), [0, 0, 0, 2, 3, 4, 4, 4]);
});

test("SSE parser: many events in one read, split events, the fast path and the general one agree", () => {
  const events = Array.from({ length: 50 }, (_, k) => `data: {"k":${k}}\n\n`).join("");
  assert.equal(new SseParser().push(events).length, 50);
  const p = new SseParser();
  const out = [...p.push(events.slice(0, 17)), ...p.push(events.slice(17, 400)), ...p.push(events.slice(400))];
  assert.deepEqual(out, Array.from({ length: 50 }, (_, k) => `{"k":${k}}`));
  assert.deepEqual(new SseParser().push("data:x\n\ndata: \n\nevent: e\ndata: y\n\n"), ["x", "y"]);
});

/** A small SSE server in this process: n token chunks 2 ms apart, usage with cached_tokens. */
async function sseServer(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const n = JSON.parse(body).max_tokens as number;
      res.writeHead(200, { "content-type": "text/event-stream" });
      let k = 0;
      const timer = setInterval(() => {
        if (k < n) {
          res.write(`data: {"choices":[{"index":0,"text":"a","token_ids":[${k}],"finish_reason":null}],"engine_t_ns":1}\n\n`);
          k++;
          return;
        }
        clearInterval(timer);
        res.write(`data: {"choices":[{"index":0,"text":"","token_ids":[],"finish_reason":"length"}]}\n\n`);
        res.write(`data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":${n},"total_tokens":${n + 5},"prompt_tokens_details":{"cached_tokens":3}}}\n\n`);
        res.end("data: [DONE]\n\n");
      }, 2);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test("worker-thread pool: the same records as streaming on this thread, cached_tokens from usage", { timeout: 60_000 }, async () => {
  const srv = await sseServer();
  const req = (i: number): StreamRequest => ({
    i,
    id: `w${i}`,
    url: `${srv.url}/v1/completions`,
    body: { prompt: [1, 2, 3, 4, 5], max_tokens: 6, stream: true },
    promptTokens: 5,
    maxTokens: 6,
    scheduled_ms: 0,
    timeoutMs: 20_000,
  });
  const pool = new StreamPool(2);
  try {
    const t0 = process.hrtime.bigint();
    const viaPool = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.send(req(i), t0)));
    const direct = await streamCompletion(req(99), t0);
    for (const r of [...viaPool, direct]) {
      assert.ok(r.ok, r.error ?? "");
      assert.equal(r.output_tokens, 6);
      assert.equal(r.chunks.length, 6);
      assert.equal(r.cached_tokens, 3);
      assert.equal(r.finish, "length");
      assert.ok(r.sent_ms !== null && r.sent_ms >= 0 && r.end_ms! > r.chunks[5].t_ms - 1e-9);
    }
    assert.deepEqual(viaPool.map((r) => r.i), Array.from({ length: 12 }, (_, i) => i));
  } finally {
    await pool.close();
    srv.close();
  }
});

test("worker-thread pool: a refused connection is a failed record, not a crash", { timeout: 30_000 }, async () => {
  const pool = new StreamPool(1);
  try {
    const r = await pool.send({ i: 0, id: "x", url: "http://127.0.0.1:9/v1/completions", body: {}, promptTokens: 1, maxTokens: 1, scheduled_ms: 0, timeoutMs: 5000 }, process.hrtime.bigint());
    assert.equal(r.ok, false);
    assert.match(r.error!, /connection error/);
  } finally {
    await pool.close();
  }
});

test("bench loadgen: a stub SSE server, every worker count reported, every request streamed", { timeout: 90_000 }, async () => {
  const r = await cli(["bench", "loadgen", "--rate", "100", "--duration-s", "1", "--tokens", "4", "--workers", "0,1", "--procs", "1"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.kind, /not an engine benchmark/);
  assert.deepEqual(out.rows.map((x: any) => x.workers), [0, 1]);
  for (const row of out.rows) {
    assert.equal(row.ok, 100);
    assert.equal(row.chunks, 400);
    assert.ok(row.lateness_ms.p50 >= 0 && row.lateness_ms.max >= row.lateness_ms.p99);
  }
  assert.match(r.stderr, /LOAD-GENERATOR benchmark/);
  // Who kept the schedule, and a verdict against the target in every row and at the end.
  assert.deepEqual(out.rows.map((x: any) => x.dispatch), ["main", "workers"]);
  for (const row of out.rows) assert.equal(row.schedule_held, row.lateness_ms.p99 <= out.lateness_target_ms);
  assert.equal(out.lateness_target_ms, 1);
  assert.match(out.verdict, out.rows.some((x: any) => x.schedule_held) ? /^schedule held/ : /^SCHEDULE NOT HELD/);
  assert.ok(r.stderr.includes(out.verdict));
});
