// The OpenAI surface through the official `openai` npm client, on the real CPU engine with the tiny
// Llama-3-style tokenizer (test/fixtures/tokenizer-tiny): chat (stream and not) with the model's chat
// template, stop strings, logprobs with top_logprobs, n > 1 and echo; a model without a chat
// template or without a tokenizer gets a 400 that says so.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { resolveTokenizer } from "../src/tokenizer/resolve.js";
import { startTestServer, post } from "./helpers/server.js";
import { REAL_ENGINE, REPO_ROOT, realEngineMissing } from "./helpers/paths.js";

const skip = realEngineMissing();
const TOK = join(REPO_ROOT, "test", "fixtures", "tokenizer-tiny");
const ref = JSON.parse(readFileSync(join(TOK, "reference.json"), "utf8"));
let srv: Awaited<ReturnType<typeof startTestServer>>;
let client: OpenAI;
const MODEL = "synthetic:tiny";
const user = (content: string) => [{ role: "user" as const, content }];

before(async () => {
  if (skip) return;
  srv = await startTestServer({ enginePath: REAL_ENGINE, engineArgs: ["--model", MODEL, "--device", "cpu", "--cpu-threads", "1"], tokenizer: resolveTokenizer(MODEL, 1024, TOK) });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "x", maxRetries: 0 });
});
after(async () => srv?.close());

test("chat: the model's template (same prompt tokens as HF's apply_chat_template), stream == non-stream", { skip, timeout: 60_000 }, async () => {
  const whole = await client.chat.completions.create({ model: MODEL, messages: ref.chat.messages, max_tokens: 10, temperature: 0 });
  assert.equal(whole.object, "chat.completion");
  assert.equal(whole.usage!.prompt_tokens, ref.chat.ids.length, "prompt = HF's rendered chat, tokenized");
  assert.equal(whole.usage!.completion_tokens, 10);
  const c = whole.choices[0];
  assert.equal(c.message.role, "assistant");
  assert.equal(c.finish_reason, "length");
  assert.ok(typeof c.message.content === "string" && c.message.content.length > 0);
  const stream = await client.chat.completions.create({ model: MODEL, messages: ref.chat.messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let role: string | undefined;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      role ??= ch.delta.role;
      text += ch.delta.content ?? "";
      finish = ch.finish_reason ?? finish;
    }
    usage = chunk.usage ?? usage;
  }
  assert.equal(role, "assistant");
  assert.equal(text, c.message.content);
  assert.equal(finish, "length");
  assert.equal(usage!.completion_tokens, 10);
});

test("chat logprobs: top_logprobs k per token, the greedy token first, bytes of the token", { skip, timeout: 60_000 }, async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: user("Hello there"), max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs!.content!;
  assert.equal(content.length, 6);
  let text = "";
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0].token, t.token, "greedy picks the most likely");
    assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-6);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob && t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob);
    assert.ok(t.logprob < 0 && t.logprob > -20);
    text += Buffer.from(t.bytes!).toString("latin1");
  }
  assert.equal(Buffer.from(text, "latin1").toString("utf8"), r.choices[0].message.content);
  const none = await client.chat.completions.create({ model: MODEL, messages: user("Hello"), max_tokens: 2, temperature: 0 });
  assert.equal(none.choices[0].logprobs, null);
});

test("completions logprobs: k alternatives (+ the sampled token) as {text: logprob}, text_offset", { skip, timeout: 60_000 }, async () => {
  const r = await client.completions.create({ model: MODEL, prompt: "The engine serves", max_tokens: 5, temperature: 0, logprobs: 2 });
  const lp = r.choices[0].logprobs!;
  assert.equal(lp.tokens!.length, 5);
  assert.equal(lp.tokens!.join(""), r.choices[0].text);
  for (let i = 0; i < 5; i++) {
    const top = lp.top_logprobs![i];
    assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 3);
    assert.equal(top[lp.tokens![i]], lp.token_logprobs![i]);
    assert.equal(Math.max(...Object.values(top)), lp.token_logprobs![i], "greedy: the sampled token is the best");
  }
  assert.deepEqual(lp.text_offset, lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join("").length));
});

test("stop strings: text ends before the first match, finish_reason stop, stop_reason the string; streamed the same", { skip, timeout: 60_000 }, async () => {
  const base = await client.completions.create({ model: MODEL, prompt: "I'll say they're here", max_tokens: 24, temperature: 0, ignore_eos: true } as any);
  const full = base.choices[0].text;
  assert.ok(full.length >= 8, JSON.stringify(full));
  const stop = full.slice(4, 6);
  const cut = full.indexOf(stop);
  const r = await client.completions.create({ model: MODEL, prompt: "I'll say they're here", max_tokens: 24, temperature: 0, ignore_eos: true, stop: [stop, "\u2603never"] } as any);
  assert.equal(r.choices[0].text, full.slice(0, cut));
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal((r.choices[0] as any).stop_reason, stop);
  assert.ok(r.usage!.completion_tokens < 24, "the engine request was stopped early");
  const s = await client.completions.create({ model: MODEL, prompt: "I'll say they're here", max_tokens: 24, temperature: 0, ignore_eos: true, stop, stream: true } as any);
  let text = "";
  let finish: string | null = null;
  for await (const chunk of s as any) for (const ch of chunk.choices) [text, finish] = [text + ch.text, ch.finish_reason ?? finish];
  assert.equal(text, full.slice(0, cut));
  assert.equal(finish, "stop");
  // Chat too.
  const chatBase = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), max_tokens: 20, temperature: 0 });
  const ctext = chatBase.choices[0].message.content!;
  if (ctext.length >= 6) {
    const cstop = ctext.slice(3, 5);
    const c = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), max_tokens: 20, temperature: 0, stop: cstop });
    assert.equal(c.choices[0].message.content, ctext.slice(0, ctext.indexOf(cstop)));
    assert.equal(c.choices[0].finish_reason, "stop");
  }
});

test("n > 1: n choices per prompt with their own seeds; greedy choices agree; usage counts every token", { skip, timeout: 60_000 }, async () => {
  const r = await client.completions.create({ model: MODEL, prompt: ["Hello world", "Good day"], max_tokens: 6, temperature: 1, seed: 7, n: 3, ignore_eos: true } as any);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3, 4, 5]);
  assert.equal(r.usage!.completion_tokens, 36);
  assert.ok(new Set(r.choices.slice(0, 3).map((c) => c.text)).size > 1, "sampled choices differ");
  const again = await client.completions.create({ model: MODEL, prompt: ["Hello world", "Good day"], max_tokens: 6, temperature: 1, seed: 7, n: 3, ignore_eos: true } as any);
  assert.deepEqual(again.choices.map((c) => c.text), r.choices.map((c) => c.text), "same seed, same choices");
  const g = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), max_tokens: 5, temperature: 0, n: 2 });
  assert.equal(g.choices.length, 2);
  assert.equal(g.choices[0].message.content, g.choices[1].message.content);
});

test("echo: the prompt text comes first (text and token-id prompts, streamed too)", { skip, timeout: 60_000 }, async () => {
  const r = await client.completions.create({ model: MODEL, prompt: "Hello there", max_tokens: 4, temperature: 0, echo: true });
  const plain = await client.completions.create({ model: MODEL, prompt: "Hello there", max_tokens: 4, temperature: 0 });
  assert.equal(r.choices[0].text, "Hello there" + plain.choices[0].text);
  const ids = await post(`${srv.url}/v1/completions`, { prompt: ref.cases[0].ids, max_tokens: 2, temperature: 0, echo: true });
  assert.ok(ids.json.choices[0].text.startsWith("Hello world"), ids.text);
  const s = await client.completions.create({ model: MODEL, prompt: "Hello there", max_tokens: 4, temperature: 0, echo: true, stream: true });
  let text = "";
  for await (const chunk of s) text += chunk.choices[0]?.text ?? "";
  assert.equal(text, r.choices[0].text);
});

test("a model without a chat template, or without a tokenizer: 400 saying so; token ids still work", { timeout: 60_000 }, async () => {
  const s = await startTestServer({ tokenizer: { tokenizer: null, why: "the model /models/llama (llama) has no tokenizer (no tokenizer.json in its directory); give --tokenizer DIR, or send token ids" } });
  try {
    const chat = await post(`${s.url}/v1/chat/completions`, { messages: user("hi") });
    assert.equal(chat.status, 400);
    assert.match(chat.json.error.message, /a chat request needs a tokenizer: the model \/models\/llama \(llama\) has no tokenizer/);
    const text = await post(`${s.url}/v1/completions`, { prompt: "hi" });
    assert.equal(text.status, 400);
    assert.match(text.json.error.message, /a text prompt needs a tokenizer/);
    assert.equal((await post(`${s.url}/v1/completions`, { prompt: [1, 2], max_tokens: 2 })).status, 200);
  } finally {
    await s.close();
  }
  const r50k = await startTestServer(); // synthetic preset: r50k, which has no chat template
  try {
    const chat = await post(`${r50k.url}/v1/chat/completions`, { messages: user("hi") });
    assert.equal(chat.status, 400);
    assert.match(chat.json.error.message, /this model has no chat template \(r50k_base.*\); use \/v1\/completions, or start serve with --chat-template FILE/);
    assert.equal(chat.json.error.code, "no_chat_template");
    const bad = await post(`${r50k.url}/v1/chat/completions`, { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }], tools: [{ type: "function" }] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /only text content parts/);
    assert.match(bad.json.error.message, /tools are not supported/);
  } finally {
    await r50k.close();
  }
});
