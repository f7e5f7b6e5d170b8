// bench online --endpoint against an already running server (no spawn), and serve on the real
// CPU engine with the openai client.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { OnlineResultsSchema } from "../src/results/schema.js";
import { startTestServer } from "./helpers/server.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { REAL_ENGINE, REPO_ROOT, realEngineMissing } from "./helpers/paths.js";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

test("bench online --endpoint: ids and text prompts, api key, every request accounted for", { timeout: 60_000 }, async () => {
  const s = await startTestServer({ apiKey: "k" });
  try {
    for (const fmt of ["ids", "text"]) {
      const out = tmpOut();
      const r = await cli(["bench", "online", "--endpoint", `${s.url}/v1`, "--api-key", "k", "--prompt-format", fmt, "--trace", "synthetic:gamma", "--burstiness", "0.5", "--request-rate", "50", "--num-prompts", "10", "--input-len", "12", "--output-len", "5", "--ignore-eos", "--scales", "1", "--out", out, "--no-plot", "--slo", "ttft_ms=10000"]);
      assert.equal(r.exitCode, 0, r.stderr);
      const res = OnlineResultsSchema.parse(readResults(out, "online"));
      // Learned from the server: vocabulary (ids stay < 1000), device and dtype from /health.
      assert.match(r.stderr, /model synthetic:tiny; context 128 from \/v1\/models, vocabulary 1000 from \/health, device fake cpu \(fp32\) from \/health/);
      assert.deepEqual([res.meta.device.kind, res.meta.device.name, res.meta.device.dtype], ["cpu", "fake cpu", "fp32"]);
      assert.equal(res.meta.model.vocab_size, 1000);
      const run = res.runs[0];
      assert.equal(run.backend.label, "endpoint");
      assert.equal(run.status, "ok");
      assert.equal(run.summary!.completed, 10, JSON.stringify(run.summary!.failures));
      assert.ok(run.records.every((x) => x.output_tokens === 5 && x.prompt_tokens === 12));
      assert.equal(run.summary!.goodput!.fraction, 1);
    }
  } finally {
    await s.close();
  }
});

test("serve on the real CPU engine: openai client, stream and non-stream agree under greedy", { skip: realEngineMissing(), timeout: 60_000 }, async () => {
  const s = await startTestServer({ enginePath: REAL_ENGINE });
  try {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "x", maxRetries: 0 });
    const whole = await client.completions.create({ model: "synthetic:tiny", prompt: [1, 2, 3], max_tokens: 12, temperature: 0, ignore_eos: true } as any);
    const ids = (whole.choices[0] as any).token_ids as number[];
    assert.equal(ids.length, 12);
    const stream = await client.completions.create({ model: "synthetic:tiny", prompt: [1, 2, 3], max_tokens: 12, temperature: 0, ignore_eos: true, stream: true } as any);
    let streamed: number[] = [];
    for await (const chunk of stream as any) for (const c of chunk.choices) streamed = streamed.concat(c.token_ids ?? []);
    assert.deepEqual(streamed, ids);
    const h = await (await fetch(`${s.url}/health`)).json();
    assert.equal(h.status, "ok");
    assert.equal(h.device.kind, "cpu");
  } finally {
    await s.close();
  }
});

/** A front that looks like vLLM to a client: /health is an empty 200, everything else goes to `target`. */
async function vllmLikeFront(target: string) {
  const t = new URL(target);
  const front = createServer((req, res) => {
    if (req.url === "/health") return res.writeHead(200).end();
    const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => (front.closeAllConnections(), front.close(() => r()))) };
}

test("bench online --endpoint: clamps to the server's max_model_len; a server that does not report its vocabulary needs --vocab-size", { timeout: 60_000 }, async () => {
  const s = await startTestServer();
  const front = await vllmLikeFront(s.url);
  try {
    const args = ["bench", "online", "--endpoint", front.url, "--trace", "synthetic:poisson", "--request-rate", "100", "--num-prompts", "6", "--input-len", "200", "--output-len", "4", "--ignore-eos", "--scales", "1", "--no-plot"];
    // No vocabulary from /health: ids drawn from 50257 are out of the fake model's 1000 -> every request 400, exit 1.
    const guess = await cli([...args, "--out", tmpOut()]);
    assert.equal(guess.exitCode, 1, guess.stderr);
    assert.match(guess.stderr, /warning: the server does not report its vocabulary: token-id prompts assume 50257/);
    assert.match(guess.stderr, /outside the model's vocabulary/);
    // The flag overrides; prompts of 200 are clamped to the context of 128 that /v1/models reports.
    const out = tmpOut();
    const given = await cli([...args, "--vocab-size", "1000", "--out", out]);
    assert.equal(given.exitCode, 0, given.stderr);
    assert.match(given.stderr, /context 128 from \/v1\/models, vocabulary 1000 from --vocab-size/);
    const res = OnlineResultsSchema.parse(readResults(out, "online"));
    assert.equal(res.trace.clamped, 6);
    assert.ok(res.runs[0].records.every((x) => x.ok && x.prompt_tokens + x.max_tokens <= 128));
    assert.equal(res.meta.device.kind, "remote", "nothing about the device was offered");
    // --max-model-len overrides the server's context.
    const tight = tmpOut();
    assert.equal((await cli([...args, "--vocab-size", "1000", "--max-model-len", "64", "--out", tight])).exitCode, 0);
    assert.ok(OnlineResultsSchema.parse(readResults(tight, "online")).runs[0].records.every((x) => x.prompt_tokens + x.max_tokens <= 64));
  } finally {
    await front.close();
    await s.close();
  }
});

test("serve's /v1/models carries vLLM's model card fields (root, max_model_len)", { timeout: 30_000 }, async () => {
  const s = await startTestServer({ modelName: "tiny" });
  try {
    const body = await (await fetch(`${s.url}/v1/models`)).json();
    assert.deepEqual({ ...body.data[0], created: 0 }, { id: "tiny", object: "model", created: 0, owned_by: "attnbench", root: "synthetic:tiny", parent: null, max_model_len: 128, permission: [] });
  } finally {
    await s.close();
  }
});

test("bench online --endpoint-type chat: our serve with --tokenizer, one user message per request, token counts from the stream", { skip: realEngineMissing(), timeout: 90_000 }, async () => {
  const out = tmpOut();
  const tok = join(REPO_ROOT, "test", "fixtures", "tokenizer-tiny");
  const r = await cli(["bench", "online", "--engine", REAL_ENGINE, "--cpu-threads", "1", "--endpoint-type", "chat", "--tokenizer", tok, "--trace", "synthetic:poisson", "--request-rate", "20", "--num-prompts", "6", "--input-len", "10", "--output-len", "4", "--ignore-eos", "--scales", "1", "--out", out, "--no-plot"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const res = OnlineResultsSchema.parse(readResults(out, "online"));
  const run = res.runs[0];
  assert.equal(run.summary!.completed, 6, JSON.stringify(run.summary!.failures));
  // The server's usage counts the chat template's tokens too: BOS, headers, <|eot_id|>, the assistant header.
  for (const rec of run.records) {
    assert.equal(rec.output_tokens, 4);
    assert.equal(rec.chunks.reduce((a, c) => a + c.n, 0), 4, "the role chunk carries no token");
    assert.ok(rec.prompt_tokens > 10, `prompt_tokens ${rec.prompt_tokens}`);
  }
  assert.match(res.meta.fingerprint.workload, /prompts=text endpoint=chat tokenizer=/);
  const dir = join(out, readdirSync(out).find((d) => d.startsWith("online_"))!);
  const line = JSON.parse(readFileSync(join(dir, "vllm_bench_serve.jsonl"), "utf8").trim());
  assert.equal(line.endpoint_type, "openai-chat");
  assert.equal(line.tokenizer_id, tok);
});
