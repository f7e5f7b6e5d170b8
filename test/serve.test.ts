// The HTTP front with the official openai client, against the fake engine (protocol-exact).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startTestServer, post } from "./helpers/server.js";

let srv: Awaited<ReturnType<typeof startTestServer>>;
let client: OpenAI;

before(async () => {
  srv = await startTestServer();
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => srv.close());

test("openai client: non-stream completion from token ids", async () => {
  const r = await client.completions.create({ model: "synthetic:tiny", prompt: [1, 2, 3], max_tokens: 5, temperature: 0, ignore_eos: true } as any);
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices.length, 1);
  const c = r.choices[0] as any;
  assert.equal(c.token_ids.length, 5);
  assert.equal(c.finish_reason, "length");
  assert.equal(typeof c.text, "string");
  assert.deepEqual(r.usage, { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
});

test("openai client: stream with include_usage carries token_ids per chunk", async () => {
  const stream = await client.completions.create({ model: "synthetic:tiny", prompt: "Hello world", max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let ids: number[] = [];
  let text = "";
  let finish: string | null = null;
  let usage: any = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices as any[]) {
      ids = ids.concat(c.token_ids ?? []);
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
      if (c.token_ids?.length) assert.equal(typeof (chunk as any).engine_t_ns, "number");
    }
  }
  assert.equal(ids.length, 6);
  assert.equal(finish, "length");
  assert.deepEqual(usage, { prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
  const whole = await client.completions.create({ model: "synthetic:tiny", prompt: "Hello world", max_tokens: 6, temperature: 0 });
  assert.equal(whole.choices[0].text, text, "streamed text equals the non-streamed text");
});

test("several prompts: string[] and number[][] give one choice each", async () => {
  const r = await client.completions.create({ model: "synthetic:tiny", prompt: ["a b", "c"], max_tokens: 2 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  const ids = await post(`${srv.url}/v1/completions`, { prompt: [[1, 2], [3]], max_tokens: 3, logprobs: 1 });
  assert.equal(ids.status, 200);
  assert.equal(ids.json.choices.length, 2);
  assert.equal(ids.json.choices[1].logprobs.token_logprobs.length, 3);
  assert.equal(ids.json.usage.prompt_tokens, 3);
});

test("invalid bodies: 400 naming the fields", async () => {
  const r = await post(`${srv.url}/v1/completions`, { prompt: 5, max_tokens: -1, temperature: "hot" });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.type, "invalid_request_error");
  for (const f of ["prompt", "max_tokens", "temperature"]) assert.match(r.json.error.message, new RegExp(f));
  const bad = await post(`${srv.url}/v1/completions`, "{not json");
  assert.equal(bad.status, 400);
  await assert.rejects(client.completions.create({ model: "other", prompt: "x" }), (e: any) => e.status === 404);
  // Each prompt shape is checked as the shape its first element names; mixed or malformed ones are 400s.
  for (const prompt of [[], [1, "a"], ["a", 2], [1.5], [-1], [[1], 2], [[]], [{}], [true], null, ""]) {
    const r = await post(`${srv.url}/v1/completions`, { prompt, max_tokens: 1 });
    assert.equal(r.status, 400, JSON.stringify(prompt));
    assert.match(r.json.error.message, /prompt/, JSON.stringify(prompt));
  }
  const missing = await post(`${srv.url}/v1/completions`, { max_tokens: 1 });
  assert.equal(missing.status, 400);
  assert.match(missing.json.error.message, /prompt.*Required/);
  for (const prompt of [[3, 1, 4], [[3, 1], [4]], ["a", "b"]])
    assert.equal((await post(`${srv.url}/v1/completions`, { prompt, max_tokens: 1 })).status, 200, JSON.stringify(prompt));
});

test("token ids outside the vocabulary and prompts beyond the context: 400", async () => {
  const big = await post(`${srv.url}/v1/completions`, { prompt: [1, 1000], max_tokens: 1 });
  assert.equal(big.status, 400);
  assert.match(big.json.error.message, /token id 1000 at position 1 is outside the model's vocabulary \[0, 1000\)/);
  const long = await post(`${srv.url}/v1/completions`, { prompt: Array(100).fill(1), max_tokens: 29 });
  assert.equal(long.status, 400);
  assert.equal(long.json.error.param, "max_tokens");
  assert.match(long.json.error.message, /maximum context length is 128 tokens.*129 tokens/);
  // Text prompts fold ids into the small vocabulary instead (documented in docs/serve.md).
  assert.equal((await post(`${srv.url}/v1/completions`, { prompt: " unbelievable", max_tokens: 1 })).status, 200);
});

test("content-type and body size limits: 415, 413", async () => {
  const res = await fetch(`${srv.url}/v1/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
  assert.equal(res.status, 415);
  const huge = await post(`${srv.url}/v1/completions`, { prompt: "x".repeat(1.1 * (1 << 20)) });
  assert.equal(huge.status, 413);
});

test("models, health, unknown routes", async () => {
  const models = await client.models.list();
  assert.equal(models.data[0].id, "synthetic:tiny");
  const h = await fetch(`${srv.url}/health`);
  assert.equal(h.status, 200);
  const body = await h.json();
  assert.equal(body.status, "ok");
  assert.equal(body.model.n_ctx, 128);
  assert.equal(typeof body.stats.kv_blocks_free, "number");
  assert.equal((await fetch(`${srv.url}/nope`)).status, 404);
  assert.equal((await fetch(`${srv.url}/v1/completions`)).status, 405);
});

test("a client that goes away aborts its engine request", async () => {
  const ctrl = new AbortController();
  const res = await fetch(`${srv.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: [1, 2], max_tokens: 120, stream: true, ignore_eos: true }),
    signal: ctrl.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  assert.equal(srv.engine.inFlight, 1);
  ctrl.abort();
  const deadline = Date.now() + 2000;
  while (srv.engine.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(srv.engine.inFlight, 0, "engine request aborted");
  const stats = await srv.engine.stats();
  assert.equal(stats.running, 0);
});

test("api key: 401 without it, 200 with it; /health stays open", async () => {
  const s = await startTestServer({ apiKey: "sekret" });
  try {
    assert.equal((await post(`${s.url}/v1/completions`, { prompt: [1], max_tokens: 1 })).status, 401);
    const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "sekret", maxRetries: 0 });
    const r = await c.completions.create({ model: "synthetic:tiny", prompt: [1], max_tokens: 1 });
    assert.equal(r.choices.length, 1);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  } finally {
    await s.close();
  }
});

test("stop_token_ids end generation with finish_reason stop (the stop token included)", async () => {
  const first = await post(`${srv.url}/v1/completions`, { prompt: [7, 8], max_tokens: 4, temperature: 0 });
  const ids: number[] = first.json.choices[0].token_ids;
  const r = await post(`${srv.url}/v1/completions`, { prompt: [7, 8], max_tokens: 4, temperature: 0, stop_token_ids: [ids[1]] });
  assert.equal(r.json.choices[0].finish_reason, "stop");
  assert.deepEqual(r.json.choices[0].token_ids, ids.slice(0, 2));
  assert.equal(r.json.choices[0].stop_reason, ids[1], "a stop token id is reported as stop_reason, as vLLM");
});
