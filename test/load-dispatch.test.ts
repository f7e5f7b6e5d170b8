// The load generator's dispatch (issue 16): its own HTTP/1.1 client (response framing, kept-alive
// connections, errors), worker threads that keep their share of the schedule, lateness measured as
// actual send - scheduled send, and the verdict that says when the schedule was not held.
// No assertion here is about speed (this runs on a loaded 2-core machine); lateness bounds are
// shown by `bench loadgen` numbers (docs/perf-notes.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ResponseFramer, connectionsOpenedOnDemand, idleConnections, openConnections } from "../src/load/raw-http.js";
import { streamCompletion, type StreamRequest } from "../src/load/http-stream.js";
import { replay } from "../src/load/replay.js";
import { StreamPool } from "../src/load/stream-pool.js";
import { latenessOf, summarizeOnline } from "../src/metrics/online.js";
import { loadgenRow, rowLine } from "../src/commands/bench-loadgen.js";
import { rec } from "./helpers/records.js";

function frame(bytes: string, cuts: number[]) {
  const out = { heads: [] as number[], body: "", ends: 0 };
  const f = new ResponseFramer(
    (h) => out.heads.push(h.status),
    (b) => (out.body += b.toString("latin1")),
    () => out.ends++,
  );
  const buf = Buffer.from(bytes, "latin1");
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    f.push(buf.subarray(at, c));
    at = c;
  }
  return Object.assign(out, { f });
}

test("response framing: chunked, Content-Length, until close, 1xx skipped, split anywhere", () => {
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
  for (let cut = 1; cut < chunked.length; cut++) {
    const r = frame(chunked, [cut]);
    assert.deepEqual([r.heads, r.body, r.ends], [[200], "hello, world", 1], `cut at ${cut}`);
    assert.equal(r.f.head!.keepAlive, true);
  }
  const everyByte = frame(chunked, Array.from({ length: chunked.length - 1 }, (_, k) => k + 1));
  assert.equal(everyByte.body, "hello, world");
  const cl = frame("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops", [30]);
  assert.deepEqual([cl.heads, cl.body, cl.ends, cl.f.head!.keepAlive], [[400], "oops", 1, false]);
  const closeDelimited = frame("HTTP/1.0 200 OK\r\n\r\ndata: x\n\n", []);
  assert.equal(closeDelimited.ends, 0);
  closeDelimited.f.closed();
  assert.deepEqual([closeDelimited.body, closeDelimited.ends, closeDelimited.f.head!.keepAlive], ["data: x\n\n", 1, false]);
  const extra = frame("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200", []);
  assert.deepEqual([extra.ends, extra.f.extra], [1, true], "bytes after the response: the connection is not reused");
  assert.throws(() => frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", []), /bad chunk size/);
  assert.throws(() => frame("SSH-2.0\r\n\r\n", []), /bad status line/);
});

/** An SSE server in this process that notes when (hrtime) each request arrived. */
async function sseServer(chunks = 3): Promise<{ url: string; arrivals: Map<string, bigint>; close: () => void }> {
  const arrivals = new Map<string, bigint>();
  const server = http.createServer((req, res) => {
    const at = process.hrtime.bigint();
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const b = JSON.parse(body);
      arrivals.set(b.id, at);
      if (b.fail) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "no such model" } }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let k = 0; k < chunks; k++) res.write(`data: {"choices":[{"index":0,"text":"a","token_ids":[${k}],"finish_reason":null}]}\n\n`);
      res.write(`data: {"choices":[{"index":0,"text":"","token_ids":[],"finish_reason":"length"}]}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, close: () => server.closeAllConnections() || server.close() };
}

const request = (url: string, i: number, scheduled_ms: number, extra: Record<string, unknown> = {}): StreamRequest => ({
  i,
  id: `r${i}`,
  url: `${url}/v1/completions`,
  body: { id: `r${i}`, max_tokens: 3, stream: true, ...extra },
  promptTokens: 1,
  maxTokens: 3,
  scheduled_ms,
  timeoutMs: 20_000,
});

test("own HTTP client: connections are kept alive and reused, opened ahead, errors are records", { timeout: 60_000 }, async () => {
  const srv = await sseServer();
  const key = new URL(srv.url).host;
  try {
    const t0 = process.hrtime.bigint();
    const opened0 = connectionsOpenedOnDemand();
    const a = await streamCompletion(request(srv.url, 0, 0), t0);
    assert.ok(a.ok, a.error ?? "");
    assert.equal(a.output_tokens, 3);
    assert.equal(connectionsOpenedOnDemand() - opened0, 1);
    assert.equal(idleConnections(key), 1, "kept alive after the response");
    const b = await streamCompletion(request(srv.url, 1, 0), t0);
    assert.ok(b.ok);
    assert.equal(connectionsOpenedOnDemand() - opened0, 1, "the second request reused the connection");
    assert.equal(await openConnections(srv.url, 4), 3, "topped up to 4 idle connections");
    assert.equal(idleConnections(key), 4);
    const many = await Promise.all([0, 1, 2, 3].map((k) => streamCompletion(request(srv.url, 10 + k, 0), t0)));
    assert.ok(many.every((r) => r.ok));
    assert.equal(connectionsOpenedOnDemand() - opened0, 1, "four at once found four open connections");
    const bad = await streamCompletion(request(srv.url, 2, 0, { fail: true }), t0);
    assert.equal(bad.ok, false);
    assert.equal(bad.error, "HTTP 400: no such model");
    const refused = await streamCompletion({ ...request("http://127.0.0.1:9", 3, 0) }, t0);
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /^connection error/);
    assert.notEqual(refused.sent_ms, null, "a refused request was dispatched, not 'not sent'");
  } finally {
    srv.close();
  }
});

test("lateness is actual send - scheduled send: a send held up is late by as long, and the verdict says so", async () => {
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const { records } = await replay(
    [0, 1, 2].map((ms, i) => ({ scheduled_ms: ms, item: i })),
    async (i, t0) => {
      const sent = Number(process.hrtime.bigint() - t0) / 1e6;
      if (i === 0) busy(40); // the first send holds the thread past the next two's times
      return rec({ i, scheduled_ms: i, sent_ms: sent, chunks: [{ t_ms: sent + 1, n: 1 }] });
    },
    { leadMs: 5 },
  );
  assert.ok(latenessOf(records[1])! >= 38, `lateness ${latenessOf(records[1])}`);
  assert.ok(latenessOf(records[2])! >= 37, `lateness ${latenessOf(records[2])}`);
  const s = summarizeOnline(records, { latenessTargetMs: 1 });
  assert.equal(s.load_generator!.schedule_held, false);
  const row = loadgenRow({ dispatch: "main", workers: 0, targetMs: 1 }, records, { threads: [], generator_cpu_s: 0, wall_s: 0 });
  assert.equal(row.schedule_held, false);
  assert.ok(row.lateness_ms.p99 >= 37);
  assert.ok(Math.abs(row.late_fraction - 2 / 3) < 1e-9 || row.late_fraction === 1, `late fraction ${row.late_fraction}`);
  assert.match(rowLine(row), /SCHEDULE NOT HELD: p99 > 1 ms/);
});

test("bench loadgen row: lateness from sent - scheduled, held only when p99 is within the target", () => {
  const records = Array.from({ length: 100 }, (_, i) => rec({ i, scheduled_ms: i, sent_ms: i + (i < 98 ? 0.2 : 5), chunks: [{ t_ms: i + 10, n: 1 }] }));
  const held = loadgenRow({ dispatch: "workers", workers: 4, targetMs: 1 }, records.slice(0, 98), { threads: [], generator_cpu_s: 0, wall_s: 0 });
  assert.ok(Math.abs(held.lateness_ms.p99 - 0.2) < 1e-9);
  assert.equal(held.schedule_held, true);
  assert.match(rowLine(held), /\(held: p99 <= 1 ms\)/);
  const late = loadgenRow({ dispatch: "workers", workers: 4, targetMs: 1 }, records, { threads: [], generator_cpu_s: 0, wall_s: 0 });
  assert.ok(late.lateness_ms.p99 > 1, `p99 ${late.lateness_ms.p99}`);
  assert.equal(late.schedule_held, false);
  assert.equal(late.late_fraction, 0.02);
  const unsent = loadgenRow({ dispatch: "main", workers: 0, targetMs: 1 }, [rec({ sent_ms: null })], { threads: [], generator_cpu_s: 0, wall_s: 0 });
  assert.equal(unsent.lateness_ms.p99, 0, "an unsent request has no lateness (it is counted as not ok)");
});

test("workers keep the schedule: every record back in order, never sent before its time, sent before the server saw it", { timeout: 60_000 }, async () => {
  const srv = await sseServer();
  const pool = new StreamPool(2);
  try {
    const reqs = Array.from({ length: 30 }, (_, i) => request(srv.url, i, i * 3));
    const seen: number[] = [];
    const { t0, records, threads } = await pool.replay(reqs, { onRecord: (r) => seen.push(r.i) });
    assert.deepEqual(records.map((r) => r.i), reqs.map((r) => r.i));
    assert.equal(seen.length, 30);
    assert.equal(threads.length, 2);
    assert.equal(threads.reduce((s, t) => s + t.sent, 0), 30);
    for (const r of records) {
      assert.ok(r.ok, r.error ?? "");
      assert.ok(latenessOf(r)! >= 0, `request ${r.i} sent ${-latenessOf(r)!} ms early`);
      // The send time is the socket write: the server cannot have seen the request much before it
      // (it is taken just after the write returns; 50 ms of slack for a preempted thread).
      const arrival = Number(srv.arrivals.get(r.id)! - t0) / 1e6;
      assert.ok(arrival >= r.scheduled_ms, `server saw ${r.id} before its time`);
      assert.ok(r.sent_ms! <= arrival + 50, `sent ${r.sent_ms} vs arrival ${arrival}`);
    }
    // A second run on the same pool, stopped early: the rest are records that say so.
    let stop = false;
    setTimeout(() => (stop = true), 150);
    const later = Array.from({ length: 20 }, (_, i) => request(srv.url, 100 + i, i * 100));
    const cut = await pool.replay(later, { stopped: () => stop });
    assert.equal(cut.records.length, 20);
    const unsent = cut.records.filter((r) => r.error === "not sent (interrupted)");
    assert.ok(unsent.length >= 5 && unsent.every((r) => r.sent_ms === null), `unsent ${unsent.length}`);
    assert.ok(cut.records[0].ok);
  } finally {
    await pool.close();
    srv.close();
  }
});
