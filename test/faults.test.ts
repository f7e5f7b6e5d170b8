// Faults: engines that refuse to start, hang, or die mid-request; clients too slow to read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import OpenAI from "openai";
import { EngineClient, EngineStartError } from "../src/engine/client.js";
import { SseWriter } from "../src/server/sse.js";
import { startTestServer, post } from "./helpers/server.js";
import { FAKE_ENGINE } from "./helpers/paths.js";

const ARGS = ["--model", "synthetic:tiny"];

test("engine fatal at start: EngineStartError with its message", async () => {
  await assert.rejects(
    EngineClient.start({ path: FAKE_ENGINE, args: ARGS, env: { FAKE_FATAL: "out of memory" }, readyTimeoutMs: 10_000 }),
    (e: unknown) => e instanceof EngineStartError && e.fatal && /out of memory/.test(e.message),
  );
  await assert.rejects(
    EngineClient.start({ path: FAKE_ENGINE, args: [...ARGS, "--prefill-attn-backend", "flashinfer"], readyTimeoutMs: 10_000 }),
    /flashinfer is unavailable: built without FLASHINFER_INCLUDE_DIR/,
  );
});

test("engine that never becomes ready: timeout, process killed", async () => {
  const t = Date.now();
  await assert.rejects(
    EngineClient.start({ path: FAKE_ENGINE, args: ARGS, env: { FAKE_NO_READY: "1" }, readyTimeoutMs: 500 }),
    /did not become ready within 0.5 s/,
  );
  assert.ok(Date.now() - t < 5000);
});

test("missing binary: start fails, does not hang", async () => {
  await assert.rejects(EngineClient.start({ path: "/nonexistent/engine", args: [], readyTimeoutMs: 5000 }), EngineStartError);
});

test("engine death: every in-flight request ends with an error, later submits too", async () => {
  const engine = await EngineClient.start({ path: FAKE_ENGINE, args: ARGS, env: { FAKE_DIE_AFTER_TOKS: "5" } });
  const results = await Promise.all([1, 2, 3].map((k) => engine.run({ id: `d${k}`, prompt: [k], max_tokens: 50, ignore_eos: true })));
  for (const r of results) {
    assert.equal(r.done.finish, "error");
    assert.match(r.done.error!, /engine exited \(exit code 1\)/);
  }
  assert.equal(engine.alive, false);
  const late = await engine.run({ id: "late", prompt: [1], max_tokens: 1 });
  assert.equal(late.done.finish, "error");
  assert.match(late.done.error!, /engine unavailable/);
});

test("multiplexing: interleaved requests each get their own tokens and one done", async () => {
  const engine = await EngineClient.start({ path: FAKE_ENGINE, args: ARGS });
  try {
    const rs = await Promise.all([3, 7, 1, 5].map((n, k) => engine.run({ id: engine.newId(), prompt: [k + 1], max_tokens: n, ignore_eos: true })));
    assert.deepEqual(rs.map((r) => r.tokens.length), [3, 7, 1, 5]);
    assert.ok(rs.every((r) => r.done.finish === "length"));
    assert.equal(engine.inFlight, 0);
    const err = await engine.run({ id: "toolong", prompt: Array(120).fill(1), max_tokens: 20 });
    assert.equal(err.done.finish, "error");
  } finally {
    await engine.shutdown();
  }
});

test("serve: engine dies -> stream errors, non-stream 503, health unhealthy (no hang)", async () => {
  const s = await startTestServer({ engineEnv: { FAKE_DIE_AFTER_TOKS: "20" } });
  try {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "x", maxRetries: 0, timeout: 10_000 });
    const nonStream = post(`${s.url}/v1/completions`, { prompt: [5], max_tokens: 100, ignore_eos: true });
    const consume = async () => {
      const stream = await client.completions.create({ model: "synthetic:tiny", prompt: [1, 2], max_tokens: 100, stream: true, ignore_eos: true });
      for await (const _ of stream);
    };
    await assert.rejects(consume(), /engine exited/);
    const r = await nonStream;
    assert.equal(r.status, 503);
    assert.match(r.json.error.message, /engine exited/);
    const h = await fetch(`${s.url}/health`);
    assert.equal(h.status, 503);
    assert.equal((await h.json()).status, "unhealthy");
    assert.equal((await post(`${s.url}/v1/completions`, { prompt: [1], max_tokens: 1 })).status, 503);
  } finally {
    await s.close();
  }
});

class StuckSocket extends EventEmitter {
  written: string[] = [];
  destroyed = false;
  ended = false;
  constructor(private readonly accept: number) {
    super();
  }
  write(s: string) {
    this.written.push(s);
    return this.written.length < this.accept;
  }
  end() {
    this.ended = true;
    return this;
  }
  destroy() {
    this.destroyed = true;
    return this;
  }
}

test("SSE back-pressure: waits for drain, then flushes in order and ends", () => {
  const sock = new StuckSocket(2);
  const w = new SseWriter(sock as any, { maxQueued: 10, drainTimeoutMs: 10_000 }, () => assert.fail("not too slow"));
  for (let k = 0; k < 5; k++) w.data({ k });
  w.end();
  assert.equal(sock.written.length, 2, "stops writing when write() returns false");
  assert.equal(w.queued, 4);
  (sock as any).accept = 100;
  sock.emit("drain");
  assert.equal(sock.written.length, 5);
  assert.deepEqual(sock.written.map((s) => JSON.parse(s.slice(6)).k), [0, 1, 2, 3, 4]);
  assert.ok(sock.ended);
});

test("SSE: a client too slow (queue bound or drain timeout) is cut off", async () => {
  let why = "";
  const sock = new StuckSocket(1);
  const w = new SseWriter(sock as any, { maxQueued: 3, drainTimeoutMs: 10_000 }, (m) => (why = m));
  for (let k = 0; k < 10; k++) w.data({ k });
  assert.match(why, /more than 3 events queued/);
  assert.ok(sock.destroyed && w.isFailed);
  const sock2 = new StuckSocket(1);
  let why2 = "";
  new SseWriter(sock2 as any, { maxQueued: 100, drainTimeoutMs: 50 }, (m) => (why2 = m)).data({ k: 0 });
  await new Promise((r) => setTimeout(r, 120));
  assert.match(why2, /not drained within 50 ms/);
  assert.ok(sock2.destroyed);
});
