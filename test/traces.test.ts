import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { detectFormat, loadSynthetic, loadTraceFile, parseTrace } from "../src/traces/load.js";
import { parseAzureTimestamp } from "../src/traces/azure.js";
import { clampTrace } from "../src/traces/clamp.js";
import { TraceError } from "../src/traces/types.js";
import { TRACES } from "./helpers/paths.js";

const CONV = join(TRACES, "AzureLLMInferenceTrace_conv.csv");
const CODE = join(TRACES, "AzureLLMInferenceTrace_code.csv");

test("real Azure conv trace: all rows, sorted, known first gap and span", () => {
  const t = loadTraceFile(CONV);
  assert.equal(t.format, "azure");
  assert.equal(t.requests.length, 19366);
  assert.equal(t.sha256, "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8");
  assert.deepEqual(t.requests[0], { t_s: 0, input_tokens: 374, output_tokens: 44 });
  // 18:15:50.9951690 - 18:15:46.6805900 = 4.314579 s
  assert.ok(Math.abs(t.requests[1].t_s - 4.314579) < 1e-9);
  assert.equal(t.requests[1].input_tokens, 396);
  const last = t.requests[t.requests.length - 1];
  assert.ok(Math.abs(last.t_s - 3501.72) < 0.01, `span ${last.t_s}`);
  assert.deepEqual([last.input_tokens, last.output_tokens], [197, 183]);
  for (let i = 1; i < t.requests.length; i++) assert.ok(t.requests[i].t_s > t.requests[i - 1].t_s);
});

test("real Azure code trace: no trailing newline, bursty gaps kept", () => {
  const t = loadTraceFile(CODE);
  assert.equal(t.requests.length, 8819);
  assert.equal(t.sha256, "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6");
  const last = t.requests[t.requests.length - 1].t_s;
  assert.ok(Math.abs(last - 3435.95) < 0.05, `span ${last}`);
  let maxGap = 0;
  for (let i = 1; i < t.requests.length; i++) maxGap = Math.max(maxGap, t.requests[i].t_s - t.requests[i - 1].t_s);
  assert.ok(maxGap > 216 && maxGap < 218, `largest gap ${maxGap}`);
});

test("azure timestamps keep 100 ns resolution", () => {
  assert.deepEqual(parseAzureTimestamp("2023-11-16 18:15:46.6805900")![1], 6805900);
  assert.equal(parseAzureTimestamp("2023-11-16 18:15:46.68")![1], 6800000);
  assert.equal(parseAzureTimestamp("yesterday"), null);
});

test("azure timestamps of later releases: 6 or 9 fraction digits, a zone, quoted cells", () => {
  const a = parseAzureTimestamp("2024-05-10 00:00:00.009930+00:00")!;
  const b = parseAzureTimestamp("2024-05-10T00:00:00.009930Z")!;
  assert.deepEqual(a, b);
  assert.equal(a[1], 99300);
  assert.equal(parseAzureTimestamp("2024-05-10 00:00:00.123456789")![1], 1234567);
  // 02:00 at +02:00 is midnight UTC
  assert.deepEqual(parseAzureTimestamp("2024-05-10 02:00:00+02:00"), parseAzureTimestamp("2024-05-10 00:00:00Z"));
  const { requests } = parseTrace(
    '"TIMESTAMP","ContextTokens","GeneratedTokens"\n"2024-05-10 00:00:00.5+00:00","7","3"\n"2024-05-10 00:00:01.75+00:00","9","4"\n',
    "q.csv",
  );
  assert.deepEqual(requests, [{ t_s: 0, input_tokens: 7, output_tokens: 3 }, { t_s: 1.25, input_tokens: 9, output_tokens: 4 }]);
});

const AZ = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 23:59:59.9999999,10,2\r\n2023-11-17 00:00:00.0000001,20,3";

test("inline azure: CRLF, no trailing newline, midnight crossing", () => {
  const { format, requests } = parseTrace(AZ, "a.csv");
  assert.equal(format, "azure");
  assert.equal(requests.length, 2);
  assert.ok(Math.abs(requests[1].t_s - 2e-7) < 1e-12);
});

function throwsAt(text: string, file: string, re: RegExp, format?: "jsonl" | "azure" | "mooncake") {
  assert.throws(() => parseTrace(text, file, format), (e: unknown) => e instanceof TraceError && re.test(e.message), re.toString());
}

test("malformed azure traces name file and line", () => {
  throwsAt("", "e.csv", /^e\.csv: empty trace/);
  throwsAt("TIMESTAMP,ContextTokens,GeneratedTokens\n", "h.csv", /^h\.csv: empty trace: header only/);
  throwsAt("TIMESTAMP,ContextTokens\n2023-11-16 18:00:00.0,1\n", "m.csv", /^m\.csv:1: missing column\(s\) GeneratedTokens/);
  throwsAt("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,1\n", "c.csv", /^c\.csv:2: expected 3 columns/);
  throwsAt("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,x,1\n", "n.csv", /^n\.csv:2: ContextTokens must be a positive integer/);
  throwsAt("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:01.0,1,1\n2023-11-16 18:00:00.0,1,1\n", "u.csv", /^u\.csv:3: timestamps not sorted/);
  throwsAt("TIMESTAMP,ContextTokens,GeneratedTokens\n18:00:01,1,1\n", "t.csv", /^t\.csv:2: TIMESTAMP/);
  // Number() would read these as 1000, 16 and 12: a token count is plain decimal digits.
  for (const v of ["1e3", "0x10", "12.0", "-3"])
    throwsAt(`TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,${v},1\n`, "v.csv", /^v\.csv:2: ContextTokens must be a positive integer/);
});

test("project JSONL: parse, relative times, errors", () => {
  const { format, requests } = parseTrace('{"t_s":1.5,"input_tokens":3,"output_tokens":4}\n\n{"t_s":2,"input_tokens":5,"output_tokens":6}\n', "x.jsonl");
  assert.equal(format, "jsonl");
  assert.deepEqual(requests, [{ t_s: 0, input_tokens: 3, output_tokens: 4 }, { t_s: 0.5, input_tokens: 5, output_tokens: 6 }]);
  throwsAt('{"t_s":1,"input_tokens":3}\n', "a.jsonl", /^a\.jsonl:1: output_tokens: Required/, "jsonl");
  throwsAt('{"t_s":1,"input_tokens":3,"output_tokens":1}\n{"t_s":0.5,"input_tokens":3,"output_tokens":1}', "b.jsonl", /^b\.jsonl:2: timestamps not sorted/, "jsonl");
  throwsAt('{"t_s":-1,"input_tokens":3,"output_tokens":1}', "c.jsonl", /^c\.jsonl:1: negative timestamp/, "jsonl");
  throwsAt('{"t_s":0,"input_tokens":3,"output_tokens":1}\n{oops', "d.jsonl", /^d\.jsonl:2: not valid JSON/, "jsonl");
  throwsAt("\n\n", "e.jsonl", /^e\.jsonl: empty trace/, "jsonl");
});

test("mooncake: ms auto-detected for integers, s for fractions, override", () => {
  const ms = '{"timestamp":0,"input_length":10,"output_length":2,"hash_ids":[1,2]}\n{"timestamp":1500,"input_length":20,"output_length":3,"hash_ids":[1]}\n';
  assert.equal(detectFormat(ms, "m.jsonl"), "mooncake");
  assert.equal(parseTrace(ms, "m.jsonl").requests[1].t_s, 1.5);
  assert.equal(parseTrace(ms, "m.jsonl", "mooncake", { timestampUnit: "s" }).requests[1].t_s, 1500);
  const s = '{"timestamp":10.25,"input_length":1,"output_length":1}\n{"timestamp":11.5,"input_length":1,"output_length":1}';
  assert.equal(parseTrace(s, "s.jsonl").requests[1].t_s, 1.25);
  throwsAt('{"timestamp":0,"input_length":1}', "x.jsonl", /^x\.jsonl:1: missing field output_length/, "mooncake");
  throwsAt('{"timestamp":"a","input_length":1,"output_length":1}', "y.jsonl", /^y\.jsonl:1: timestamp must be a number/, "mooncake");
  throwsAt('{"timestamp":5,"input_length":1,"output_length":0}', "z.jsonl", /^z\.jsonl:1: output_length must be a positive integer/, "mooncake");
});

test("unknown format is refused", () => {
  assert.throws(() => detectFormat("hello\n", "x.txt"), /cannot tell the trace format/);
});

test("synthetic traces: seeded, Poisson mean gap ~ 1/rate, infinite rate all at 0", () => {
  const o = { kind: "poisson" as const, numPrompts: 2000, requestRate: 10, burstiness: 1, inputLen: 8, outputLen: 4, seed: 1 };
  const a = loadSynthetic(o);
  const b = loadSynthetic(o);
  assert.deepEqual(a.requests, b.requests);
  assert.equal(a.sha256, b.sha256);
  const meanGap = a.requests[a.requests.length - 1].t_s / (a.requests.length - 1);
  assert.ok(Math.abs(meanGap - 0.1) < 0.01, `mean gap ${meanGap}`);
  const g = loadSynthetic({ ...o, kind: "gamma", burstiness: 0.5 }).requests;
  const gm = g[g.length - 1].t_s / (g.length - 1);
  assert.ok(Math.abs(gm - 0.1) < 0.015, `gamma mean gap ${gm}`);
  assert.ok(loadSynthetic({ ...o, requestRate: Infinity }).requests.every((r) => r.t_s === 0));
});

test("clamp: limits first, then the prompt is cut (not below half the context), then the output", () => {
  const reqs = [
    { t_s: 0, input_tokens: 10, output_tokens: 5 },
    { t_s: 1, input_tokens: 300, output_tokens: 100 },
    { t_s: 2, input_tokens: 50, output_tokens: 40 },
  ];
  const { requests, clamped } = clampTrace(reqs, { nCtx: 128, maxOutputLen: 16 });
  assert.equal(clamped, 2);
  assert.deepEqual(requests[0], reqs[0]);
  assert.ok(requests.every((r) => r.input_tokens + r.output_tokens <= 128 && r.output_tokens <= 16 && r.input_tokens >= 1));
  assert.equal(requests[2].output_tokens, 16);
  const huge = clampTrace([{ t_s: 0, input_tokens: 10000, output_tokens: 1 }], { nCtx: 128 }).requests[0];
  assert.deepEqual([huge.input_tokens, huge.output_tokens], [127, 1]);
  assert.deepEqual(requests[1], { t_s: 1, input_tokens: 112, output_tokens: 16 });
  const long = clampTrace([{ t_s: 0, input_tokens: 300, output_tokens: 100 }], { nCtx: 128 }).requests[0];
  assert.deepEqual([long.input_tokens, long.output_tokens], [64, 64]);
});
