// Issue 6, engine protocol: bad input gets an error event (or a done with finish "error" for a
// rejected add) and the real engine keeps serving everyone else; KV exhaustion preempts by
// recompute; random add/abort sequences end every request exactly once and leak no block; a seeded
// fuzzer of mutated lines never kills it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RawEngine, type Ev } from "./helpers/reliability-engine.js";
import { realEngineMissing } from "./helpers/paths.js";

const skip = realEngineMissing();
let eng: RawEngine;

before(async () => {
  if (!skip) eng = await RawEngine.start(["--step-delay-us", "1000"]); // ~1 ms a step: requests stay live long enough to race
});
after(async () => {
  if (!skip) await eng.shutdown();
});

async function expectError(line: string | Buffer, code: string, re?: RegExp): Promise<Ev> {
  const from = eng.events.length;
  eng.write(line);
  const ev = await eng.waitFor((e) => e.ev === "error", 20_000, from);
  assert.equal(ev.code, code, JSON.stringify(ev));
  if (re) assert.match(ev.message, re);
  const d = await eng.probe();
  assert.equal(d.finish, "length", "a good request is still served afterwards");
  return ev;
}

test("garbage lines: bad_json, the engine serves the next request", { skip }, async () => {
  await expectError("this is not json\n", "bad_json", /not valid JSON/);
  await expectError("{\"op\":\"add\",\"id\":\n", "bad_json");
  await expectError("[1,2,3]\n", "bad_json", /JSON object/);
  await expectError("{\"op\":\"launch-missiles\"}\n", "bad_op", /launch-missiles/);
  await expectError(Buffer.from([0x7b, 0x22, 0x6f, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), "bad_json"); // invalid UTF-8
  assert.ok(eng.alive);
});

test("duplicate live id: duplicate_id error, the first request still ends exactly once", { skip }, async () => {
  const from = eng.events.length;
  eng.write(JSON.stringify({ op: "add", id: "dup", prompt: [1, 2], max_tokens: 30, ignore_eos: true }) + "\n" + JSON.stringify({ op: "add", id: "dup", prompt: [3], max_tokens: 2, ignore_eos: true }) + "\n");
  const err = await eng.waitFor((e) => e.ev === "error" && e.code === "duplicate_id", 20_000, from);
  assert.equal(err.id, "dup");
  const done = await eng.waitFor((e) => e.ev === "done" && e.id === "dup", 30_000, from);
  assert.equal(done.output_tokens, 30, "the first add is the one that ran");
  await eng.probe();
  assert.equal(eng.events.slice(from).filter((e) => e.ev === "done" && e.id === "dup").length, 1);
});

test("abort of an unknown id: unknown_id error naming it", { skip }, async () => {
  const ev = await expectError('{"op":"abort","id":"never-added"}\n', "unknown_id", /never-added/);
  assert.equal(ev.id, "never-added");
});

test("a line over 1 MiB: line_too_long, skipped without killing a request in flight", { skip }, async () => {
  const from = eng.events.length;
  eng.send({ op: "add", id: "survivor", prompt: [5, 6, 7], max_tokens: 200, ignore_eos: true });
  const huge = JSON.stringify({ op: "add", id: "huge", prompt: Array(600_000).fill(1) }) + "\n";
  assert.ok(huge.length > 1 << 20);
  eng.write(huge);
  const err = await eng.waitFor((e) => e.ev === "error" && e.code === "line_too_long", 20_000, from);
  assert.match(err.message, /exceeds the limit of 1048576/);
  const done = await eng.waitFor((e) => e.ev === "done" && e.id === "survivor", 30_000, from);
  assert.equal(done.finish, "length");
  assert.equal(eng.events.slice(from).filter((e) => e.id === "huge").length, 0, "the oversized add was never started");
  await eng.probe();
});

test("rejected adds (bad fields, outside the vocabulary, beyond the context): done finish=error with a message", { skip }, async () => {
  const nCtx = eng.ready.model.n_ctx as number;
  const vocab = eng.ready.model.vocab_size as number;
  const cases: [object, RegExp][] = [
    [{ prompt: [] }, /prompt/],
    [{ prompt: [vocab] }, /vocab|outside|\[0/],
    [{ prompt: [-1] }, /prompt/],
    [{ prompt: [1], max_tokens: 0 }, /max_tokens/],
    [{ prompt: [1], max_tokens: -5 }, /max_tokens/],
    [{ prompt: [1], max_tokens: 1e12 }, /max_tokens|context/],
    [{ prompt: Array(nCtx).fill(1), max_tokens: 1 }, /context/],
    [{ prompt: "hello" }, /prompt/],
    [{ prompt: [1], temperature: -1 }, /temperature/],
    [{ prompt: [1], top_p: 0 }, /top_p/],
  ];
  for (const [k, [fields, re]] of cases.entries()) {
    const id = `bad${k}`;
    const from = eng.events.length;
    eng.send({ op: "add", id, ...fields });
    const d = await eng.waitFor((e) => e.id === id && (e.ev === "done" || e.ev === "error"), 20_000, from);
    assert.equal(d.ev, "done", `${JSON.stringify(fields)} -> ${JSON.stringify(d)}`);
    assert.equal(d.finish, "error");
    assert.match(d.error, re, JSON.stringify(fields));
  }
  await eng.probe();
  const s = await eng.settled();
  assert.equal(s.kv_blocks_free, s.kv_blocks_total);
});

test("add without an id: bad_field error event (no request to end)", { skip }, async () => {
  const from = eng.events.length;
  eng.send({ op: "add", prompt: [1] });
  const e = await eng.waitFor((x) => x.ev === "error" || x.ev === "done", 20_000, from);
  assert.equal(e.ev, "error", JSON.stringify(e));
  await eng.probe();
});

test("KV exhaustion under load: preemption by recompute, every request ends with done", { skip, timeout: 60_000 }, async () => {
  // 10 blocks of 16 tokens = 160 slots; 6 requests that each need 5 blocks at the end.
  const small = await RawEngine.start(["--num-kv-blocks", "10", "--block-size", "16"]);
  try {
    const ids = Array.from({ length: 6 }, (_, k) => `kv${k}`);
    for (const [k, id] of ids.entries()) small.send({ op: "add", id, prompt: Array.from({ length: 20 }, (_, j) => (k * 31 + j) % 1000), max_tokens: 60, ignore_eos: true });
    const dones = await Promise.all(ids.map((id) => small.waitFor((e) => e.ev === "done" && e.id === id, 50_000, 0)));
    for (const d of dones) assert.equal(d.finish, "length", JSON.stringify(d));
    const s = await small.settled();
    assert.ok(s.preemptions > 0, `the pool was exhausted and requests were preempted: ${JSON.stringify(s)}`);
    assert.equal(s.kv_blocks_free, s.kv_blocks_total);
    // A request that can never fit in the pool is rejected, not left waiting forever.
    small.send({ op: "add", id: "never-fits", prompt: Array(170).fill(2), max_tokens: 10 });
    const nf = await small.waitFor((e) => e.ev === "done" && e.id === "never-fits", 20_000, 0);
    assert.equal(nf.finish, "error");
  } finally {
    await small.shutdown();
  }
});

test("scheduler property: random add/abort sequences end every request exactly once, no leaked block", { skip, timeout: 60_000 }, async () => {
  const small = await RawEngine.start(["--num-kv-blocks", "12", "--block-size", "8", "--max-num-seqs", "4", "--step-delay-us", "300"]);
  let round = 0;
  let aborted = 0;
  const op = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), plen: fc.integer({ min: 1, max: 40 }), out: fc.integer({ min: 1, max: 30 }), temp: fc.constantFrom(0, 1) }),
    fc.record({ kind: fc.constant("abort" as const), which: fc.nat(20) }),
    fc.record({ kind: fc.constant("pause" as const), ms: fc.integer({ min: 0, max: 30 }) }),
  );
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const r = round++;
        const from = small.events.length;
        const added: string[] = [];
        for (const o of ops) {
          if (o.kind === "add") {
            const id = `p${r}-${added.length}`;
            added.push(id);
            small.send({ op: "add", id, prompt: Array.from({ length: o.plen }, (_, j) => (j * 7 + r) % 1000), max_tokens: o.out, temperature: o.temp, ignore_eos: true });
          } else if (o.kind === "abort") {
            small.send({ op: "abort", id: added.length ? added[o.which % added.length] : "nothing-yet" });
          } else await new Promise((res) => setTimeout(res, o.ms));
        }
        await Promise.all(added.map((id) => small.waitFor((e) => e.ev === "done" && e.id === id, 40_000, from)));
        const s = await small.settled(10_000);
        const evs = small.events.slice(from);
        for (const id of added) {
          const ds = evs.filter((e) => e.ev === "done" && e.id === id);
          assert.equal(ds.length, 1, `${id} ended ${ds.length} times`);
          assert.ok(["length", "abort"].includes(ds[0].finish), JSON.stringify(ds[0]));
          if (ds[0].finish === "abort") aborted++;
          const toks = evs.filter((e) => e.ev === "tok" && e.id === id).reduce((a, e) => a + e.tokens.length, 0);
          assert.equal(toks, ds[0].output_tokens, `${id}: tok events add up to output_tokens`);
          assert.ok(evs.findIndex((e) => e.ev === "tok" && e.id === id && evs.indexOf(e) > evs.indexOf(ds[0])) < 0, `${id}: no tok after done`);
        }
        assert.equal(s.kv_blocks_free, s.kv_blocks_total, `leaked blocks: ${JSON.stringify(s)}`);
        assert.equal(s.running + s.waiting, 0);
      }),
      { numRuns: 30, seed: 6006, endOnFailure: true },
    );
    assert.ok(aborted > 0, "some aborts hit live requests");
    const s = await small.stats();
    assert.ok(s.preemptions > 0, `the small pool forced preemptions: ${JSON.stringify(s)}`);
  } finally {
    await small.shutdown();
  }
});

// Mutations of a valid add: each line is either a valid JSON object with odd values, or bytes cut,
// duplicated or replaced. Bounded count (seeded), bounded time.
const FUZZ_BASE = '{"op":"add","id":"f","prompt":[1,2,3],"max_tokens":3,"temperature":0,"top_p":1,"top_k":0,"seed":1,"ignore_eos":true,"stop_token_ids":[7],"logprobs":true}';
const weird = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.constant(1e308), fc.constant(-0),
  fc.array(fc.integer({ min: -5, max: 2000 }), { maxLength: 8 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
);
const fuzzLine = fc.oneof(
  fc.record({ op: fc.constantFrom("add", "abort", "stats", "ADD", "", "shutdownx"), id: fc.oneof(weird, fc.constantFrom("f", "g", "")), prompt: weird, max_tokens: fc.oneof(weird, fc.integer({ min: 1, max: 8 })), temperature: weird, top_p: weird, top_k: weird, seed: weird, stop_token_ids: weird, logprobs: weird }, { requiredKeys: ["op"] }).map((o) => JSON.stringify(o)),
  fc.tuple(fc.nat(FUZZ_BASE.length), fc.nat(FUZZ_BASE.length)).map(([a, b]) => FUZZ_BASE.slice(0, Math.min(a, b)) + FUZZ_BASE.slice(Math.max(a, b))),
  fc.tuple(fc.nat(FUZZ_BASE.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, c]) => FUZZ_BASE.slice(0, i) + String.fromCharCode(c) + FUZZ_BASE.slice(i + 1)),
  // Raw bytes (invalid UTF-8 included), newlines kept out so each sample stays one line.
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a.map((b) => (b === 10 ? 32 : b)))),
  fc.json({ maxDepth: 3 }),
);

test("protocol fuzzer: 5000 seeded random/mutated lines, the engine never dies and still serves", { skip, timeout: 60_000 }, async () => {
  const fz = await RawEngine.start(["--num-kv-blocks", "64"]);
  try {
    const lines = fc.sample(fuzzLine, { numRuns: 5000, seed: 424242 });
    const deadline = Date.now() + 30_000;
    for (const [k, l] of lines.entries()) {
      // Keep "op":"shutdown" out: it is a legal way to stop the engine, not a fault.
      if (Buffer.isBuffer(l)) fz.write(Buffer.concat([l, Buffer.from("\n")]));
      else fz.write(l.replace(/shutdown"/g, 'shutdownx"') + "\n");
      if (k % 100 === 99) await fz.stats(); // stay in step with the engine; bounded memory on both sides
      if (Date.now() > deadline) break;
    }
    assert.ok(fz.alive, `engine alive after fuzzing (stderr: ${fz.stderr.slice(-3).join(" | ")})`);
    assert.equal(fz.events.filter((e) => e.ev === "__unparsable").length, 0, "every engine output line is JSON");
    const d = await fz.probe("after-fuzz");
    assert.equal(d.finish, "length");
    // End whatever the fuzzer left running, then the pool must be whole again.
    const live = new Set<string>();
    for (const e of fz.events) if (e.ev === "tok") live.add(e.id);
    for (const id of live) fz.send({ op: "abort", id });
    const s = await fz.settled(30_000);
    assert.equal(s.kv_blocks_free, s.kv_blocks_total, JSON.stringify(s));
  } finally {
    await fz.shutdown();
  }
});
