// bench online --endpoint against an already running server (no spawn), and serve on the real
// CPU engine with the openai client.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { OnlineResultsSchema } from "../src/results/schema.js";
import { startTestServer } from "./helpers/server.js";
import { cli, readResults, tmpOut } from "./helpers/cli.js";
import { REAL_ENGINE, realEngineMissing } from "./helpers/paths.js";

test("bench online --endpoint: ids and text prompts, api key, every request accounted for", { timeout: 60_000 }, async () => {
  const s = await startTestServer({ apiKey: "k" });
  try {
    for (const fmt of ["ids", "text"]) {
      const out = tmpOut();
      const r = await cli(["bench", "online", "--endpoint", `${s.url}/v1`, "--api-key", "k", "--prompt-format", fmt, "--vocab-size", "1000", "--trace", "synthetic:gamma", "--burstiness", "0.5", "--request-rate", "50", "--num-prompts", "10", "--input-len", "12", "--output-len", "5", "--ignore-eos", "--scales", "1", "--out", out, "--no-plot", "--slo", "ttft_ms=10000"]);
      assert.equal(r.exitCode, 0, r.stderr);
      const res = OnlineResultsSchema.parse(readResults(out, "online"));
      assert.equal(res.meta.device.kind, "remote");
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
