#!/usr/bin/env node
// A stand-in for native/build/attnbench-engine that speaks docs/protocol.md, for tests that must
// not depend on the native build and for fault injection. Tokens are a deterministic function of
// the prompt, so "greedy outputs" agree across backends unless FAKE_DIVERGE_BACKEND names one.
// Faults (env): FAKE_FATAL=msg (fatal at start), FAKE_NO_READY=1 (hang before ready),
// FAKE_DIE_AFTER_TOKS=N (exit 1 after N tok events; only for FAKE_DIE_BACKEND when set), FAKE_STEP_MS (step period, default 2).
import { createInterface } from "node:readline";

const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N_CTX = 128, VOCAB = 1000, EOS = 999;
const BACKENDS = { naive: "ok", fused: "ok", flashinfer: "unavailable: built without FLASHINFER_INCLUDE_DIR" };
const prefill = flag("--prefill-attn-backend", "naive");
const decode = flag("--decode-attn-backend", "naive");
const stepMs = Number(process.env.FAKE_STEP_MS ?? 2) + Number(flag("--step-delay-us", 0)) / 1000;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const now = () => Number(process.hrtime.bigint());
const tokenAt = (prompt, k, backend) => {
  let h = prompt.reduce((a, b) => (a * 31 + b) % 99991, 7) + k * 7919;
  if (process.env.FAKE_DIVERGE_BACKEND && backend === process.env.FAKE_DIVERGE_BACKEND) h += 1;
  return h % (VOCAB - 1);
};

for (const [kind, name] of [["prefill", prefill], ["decode", decode]]) {
  if (BACKENDS[name] !== "ok") {
    out({ ev: "fatal", message: `${kind} backend ${name} is ${BACKENDS[name] ?? "unknown"}; available: naive, fused` });
    process.exit(1);
  }
}
if (process.env.FAKE_FATAL) {
  out({ ev: "fatal", message: process.env.FAKE_FATAL });
  process.exit(1);
}
if (argv.includes("--generate")) {
  const prompt = flag("--prompt-ids", "1").split(",").map(Number);
  const n = Number(flag("--max-tokens", 16));
  const tokens = Array.from({ length: n }, (_, k) => tokenAt(prompt, k, decode));
  out({ tokens, logprobs: tokens.map(() => -1.5) });
  process.exit(0);
}
process.stderr.write(`fake engine starting pid ${process.pid}\n`);

const live = new Map();
let steps = 0, finished = 0, toksSent = 0;
const dieHere = !process.env.FAKE_DIE_BACKEND || process.env.FAKE_DIE_BACKEND === decode;
const dieAfter = process.env.FAKE_DIE_AFTER_TOKS && dieHere ? Number(process.env.FAKE_DIE_AFTER_TOKS) : Infinity;
const finish = (r, how, error) => {
  live.delete(r.id);
  finished++;
  out({ ev: "done", id: r.id, finish: how, prompt_tokens: r.prompt.length, output_tokens: r.out.length, t_ns: now(), ...(error ? { error } : {}), preemptions: 0 });
};
const shutdown = () => {
  for (const r of [...live.values()]) finish(r, "abort");
  out({ ev: "bye", t_ns: now() });
  process.exit(0);
};

createInterface({ input: process.stdin }).on("line", (line) => {
  let op;
  try { op = JSON.parse(line); } catch { return out({ ev: "error", code: "bad_json", message: "bad json" }); }
  if (op.op === "add") {
    if (live.has(op.id)) return out({ ev: "error", code: "duplicate_id", id: op.id, message: "duplicate id" });
    const r = { id: op.id, prompt: op.prompt ?? [], out: [], max: op.max_tokens ?? 16, ignoreEos: !!op.ignore_eos, stop: op.stop_token_ids ?? [], logprobs: !!op.logprobs, top: op.top_logprobs ?? 0 };
    const bad = !Array.isArray(op.prompt) || op.prompt.length === 0 ? "prompt must be a non-empty array"
      : op.prompt.some((t) => !Number.isInteger(t) || t < 0 || t >= VOCAB) ? `prompt token out of range [0, ${VOCAB})`
      : op.prompt.length + r.max > N_CTX ? `prompt of ${op.prompt.length} tokens + max_tokens ${r.max} exceeds the context of ${N_CTX}` : null;
    if (bad) { finished++; return out({ ev: "done", id: op.id, finish: "error", prompt_tokens: 0, output_tokens: 0, t_ns: now(), error: bad }); }
    live.set(op.id, r);
  } else if (op.op === "abort") {
    const r = live.get(op.id);
    if (!r) return out({ ev: "error", code: "unknown_id", id: op.id, message: "unknown id" });
    finish(r, "abort");
  } else if (op.op === "stats") {
    out({ ev: "stats", t_ns: now(), kv_blocks_total: 512, kv_blocks_free: 512 - live.size, running: live.size, waiting: 0, steps, preemptions: 0, finished });
  } else if (op.op === "shutdown") shutdown();
  else out({ ev: "error", code: "bad_op", message: `unknown op ${op.op}` });
}).on("close", shutdown);

setInterval(() => {
  if (live.size === 0) return;
  steps++;
  for (const r of [...live.values()]) {
    const t = tokenAt(r.prompt, r.out.length, r.out.length === 0 ? prefill : decode);
    r.out.push(t);
    // The chosen token is the most likely one at -1.5, then ids after it at -2.5, -3.5, ...
    const top = r.top > 0 ? { top_logprobs: [Array.from({ length: r.top }, (_, j) => [(t + j) % VOCAB, -1.5 - j])] } : {};
    out({ ev: "tok", id: r.id, tokens: [t], t_ns: now(), ...(r.logprobs ? { logprobs: [-1.5] } : {}), ...top });
    if (++toksSent >= dieAfter) process.exit(1);
    if (r.stop.includes(t) && !r.ignoreEos) finish(r, "stop");
    else if (r.out.length >= r.max) finish(r, "length");
  }
}, stepMs);

if (!process.env.FAKE_NO_READY)
  out({ ev: "ready", t_ns: now(), model: { name: flag("--model", "synthetic:tiny"), n_layer: 2, n_head: 4, n_embd: 64, n_ctx: N_CTX, vocab_size: VOCAB, eos_token_id: EOS },
    device: { kind: "cpu", name: "fake cpu", dtype: "fp32" },
    backends: { prefill: BACKENDS, decode: { ...BACKENDS } },
    config: { prefill_attn_backend: prefill, decode_attn_backend: decode, block_size: 16, num_kv_blocks: 512, max_num_seqs: 256, max_num_batched_tokens: 2048, cuda_graph: false },
    version: "fake" });
