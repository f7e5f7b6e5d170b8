// Our tokenizers against HF transformers: test/fixtures/tokenizer-tiny/reference.json holds what
// HF's tokenizer (python) made of a few strings and a chat (scripts/make-tokenizer.py writes it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadHfTokenizer } from "../src/tokenizer/hf.js";
import { renderChat } from "../src/tokenizer/chat-template.js";
import { resolveTokenizer } from "../src/tokenizer/resolve.js";
import { IncrementalDecoder } from "../src/tokenizer/incremental.js";
import { REPO_ROOT } from "./helpers/paths.js";

const DIR = join(REPO_ROOT, "test", "fixtures", "tokenizer-tiny");
const ref = JSON.parse(readFileSync(join(DIR, "reference.json"), "utf8"));
const tok = loadHfTokenizer(DIR);

test("tokenizer-tiny: 1024 tokens, Llama-3 specials at the top, BOS/EOS and a chat template", () => {
  assert.equal(tok.vocabSize, 1024);
  assert.equal(ref.vocab_size, 1024);
  assert.equal(tok.eosTokenId, ref.eos_token_id);
  assert.equal(tok.eosTokenId, 1023, "<|eot_id|> is synthetic:tiny's EOS");
  assert.equal(tok.bosToken, "<|begin_of_text|>");
  assert.equal(tok.eosToken, "<|eot_id|>");
  assert.ok(tok.chatTemplate?.includes("<|start_header_id|>"));
  for (const [i, s] of ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"].entries())
    assert.equal(tok.tokenText(1019 + i), s);
});

test("encode and decode equal HF transformers on every reference string", () => {
  for (const c of ref.cases) {
    assert.deepEqual(tok.encode(c.text, false), c.ids, `ids of ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text, true), c.ids_with_special, `ids with BOS of ${JSON.stringify(c.text)}`);
    assert.equal(tok.decode(c.ids, false), c.decoded);
    assert.equal(tok.decode(c.ids_with_special, true), c.decoded_skip_special);
  }
});

test("the chat template renders as HF's apply_chat_template, and tokenizes to the same ids", () => {
  const text = renderChat(tok, tok.chatTemplate!, ref.chat.messages, ref.chat.add_generation_prompt);
  assert.equal(text, ref.chat.rendered);
  assert.deepEqual(tok.encode(text, false), ref.chat.ids);
});

test("streaming decode: token by token equals the whole decode; byte-level bytes are exact", () => {
  for (const c of ref.cases) {
    const d = new IncrementalDecoder(tok);
    const parts = c.ids.map((t: number) => d.push([t]));
    assert.ok(parts.every((p: string) => !p.includes("\uFFFD")), JSON.stringify(parts));
    assert.equal(parts.join("") + d.flush(), tok.decode(c.ids), JSON.stringify(c.text));
    const bytes = Buffer.from(c.ids.flatMap((t: number) => tok.tokenBytes(t)));
    if (!c.text.includes("<|")) assert.equal(bytes.toString("utf8"), c.text);
  }
});

test("which tokenizer a model gets: --tokenizer, the directory's, r50k for GPT-2, else none with the reason", () => {
  assert.match(resolveTokenizer("synthetic:tiny", 1024, DIR).tokenizer!.description, /tokenizer-tiny/);
  assert.match(resolveTokenizer("synthetic:tiny", 1024).tokenizer!.description, /r50k_base.*folded/);
  assert.throws(() => resolveTokenizer("synthetic:tiny", 1000, DIR), /1024 tokens do not fit the model's vocabulary of 1000/);
  const llama = mkdtempSync(join(tmpdir(), "llama-"));
  writeFileSync(join(llama, "config.json"), JSON.stringify({ model_type: "llama" }));
  const none = resolveTokenizer(llama, 1024);
  assert.equal(none.tokenizer, null);
  assert.match(none.why!, /\(llama\) has no tokenizer \(no tokenizer\.json in its directory\); give --tokenizer DIR, or send token ids/);
  const gpt2 = mkdtempSync(join(tmpdir(), "gpt2-"));
  writeFileSync(join(gpt2, "config.json"), JSON.stringify({ model_type: "gpt2" }));
  assert.match(resolveTokenizer(gpt2, 50257).tokenizer!.description, /^r50k_base \(GPT-2 BPE\)$/);
});
