// Issue 6, files: traces and results files that are wrong give one error naming the file and the
// line (traces) or the field (results JSON), via the CLI too; property tests (fast-check) for the
// trace parsers and the metrics.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseTrace } from "../src/traces/load.js";
import { TraceError } from "../src/traces/types.js";
import { parseResults, ResultsFileError } from "../src/results/load-results.js";
import { percentile, summarize } from "../src/metrics/percentiles.js";
import { requestLatency } from "../src/metrics/request.js";
import { summarizeOnline } from "../src/metrics/online.js";
import { cli, tmpOut } from "./helpers/cli.js";
import { REPO_ROOT } from "./helpers/paths.js";
import { rec } from "./helpers/records.js";

const traceErr = (text: string, file: string, format: "jsonl" | "azure" | "mooncake", re: RegExp) =>
  assert.throws(() => parseTrace(text, file, format), (e: unknown) => e instanceof TraceError && re.test(e.message), `${file}: ${re}`);

test("mooncake traces: missing field, bad numbers, unsorted, negative, empty, not JSON -> file:line", () => {
  const ok = '{"timestamp":0,"input_length":5,"output_length":3,"hash_ids":[1]}';
  traceErr("", "e.jsonl", "mooncake", /^e\.jsonl: empty trace/);
  traceErr(`${ok}\n{"timestamp":5,"input_length":5}\n`, "m.jsonl", "mooncake", /^m\.jsonl:2: missing field output_length/);
  traceErr(`${ok}\n{"timestamp":"5","input_length":5,"output_length":3}\n`, "t.jsonl", "mooncake", /^t\.jsonl:2: timestamp must be a number, got "5"/);
  traceErr(`${ok}\n{"timestamp":5,"input_length":-2,"output_length":3}\n`, "n.jsonl", "mooncake", /^n\.jsonl:2: input_length must be a positive integer, got -2/);
  traceErr(`${ok}\n{"timestamp":5,"input_length":2.5,"output_length":3}\n`, "f.jsonl", "mooncake", /^f\.jsonl:2: input_length must be a positive integer/);
  traceErr(`{"timestamp":9,"input_length":1,"output_length":1}\n${ok}\n`, "u.jsonl", "mooncake", /^u\.jsonl:2: timestamps not sorted/);
  traceErr('{"timestamp":-5,"input_length":1,"output_length":1}\n', "neg.jsonl", "mooncake", /^neg\.jsonl:1: negative timestamp/);
  traceErr(`${ok}\n\n{oops\n`, "j.jsonl", "mooncake", /^j\.jsonl:3: not valid JSON/);
  traceErr(`${ok}\n[1,2]\n`, "a.jsonl", "mooncake", /^a\.jsonl:2: not a JSON object/);
  traceErr(`${ok}\n{"timestamp":1,"input_length":1,"output_length":1,"hash_ids":7}\n`, "h.jsonl", "mooncake", /^h\.jsonl:2: hash_ids must be an array/);
});

test("project JSONL and azure traces: bad numbers and zero counts name the line", () => {
  traceErr('{"t_s":0,"input_tokens":3,"output_tokens":1}\n{"t_s":"soon","input_tokens":3,"output_tokens":1}\n', "s.jsonl", "jsonl", /^s\.jsonl:2: t_s: Expected number/);
  traceErr('{"t_s":0,"input_tokens":0,"output_tokens":1}\n', "z.jsonl", "jsonl", /^z\.jsonl:1: input_tokens: Number must be greater than 0/);
  traceErr("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,5,0\n", "z.csv", "azure", /^z\.csv:2: GeneratedTokens must be a positive integer, got "0"/);
  traceErr("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,12abc,4\n", "x.csv", "azure", /^x\.csv:2: ContextTokens must be a positive integer, got "12abc"/);
});

// Traces written in each format from the same requests; a corruption of line k must be reported at k.
const traceRows = fc.array(fc.record({ gap_ms: fc.integer({ min: 0, max: 5000 }), input: fc.integer({ min: 1, max: 4000 }), output: fc.integer({ min: 1, max: 2000 }) }), { minLength: 1, maxLength: 40 });

function writeTrace(rows: { gap_ms: number; input: number; output: number }[], format: "jsonl" | "mooncake" | "azure"): { text: string; firstDataLine: number } {
  let t = 0;
  const lines = rows.map((r) => {
    t += r.gap_ms;
    if (format === "jsonl") return JSON.stringify({ t_s: 100 + t / 1000, input_tokens: r.input, output_tokens: r.output });
    if (format === "mooncake") return JSON.stringify({ timestamp: 1000 + t, input_length: r.input, output_length: r.output, hash_ids: [] });
    const d = new Date(Date.UTC(2023, 10, 16, 18, 0, 0) + t);
    const stamp = `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}0000`;
    return `${stamp},${r.input},${r.output}`;
  });
  if (format === "azure") return { text: ["TIMESTAMP,ContextTokens,GeneratedTokens", ...lines].join("\n") + "\n", firstDataLine: 2 };
  return { text: lines.join("\n") + "\n", firstDataLine: 1 };
}

test("property: every trace reader round-trips counts and times, first at 0, sorted", () => {
  for (const format of ["jsonl", "mooncake", "azure"] as const) {
    fc.assert(
      fc.property(traceRows, (rows) => {
        const { requests } = parseTrace(writeTrace(rows, format).text, `p.${format}`, format);
        assert.equal(requests.length, rows.length);
        assert.equal(requests[0].t_s, 0);
        let t = 0;
        for (const [i, r] of requests.entries()) {
          if (i > 0) t += rows[i].gap_ms;
          assert.ok(Math.abs(r.t_s - t / 1000) < 1e-6, `${format} row ${i}: ${r.t_s} vs ${t / 1000}`);
          assert.equal(r.input_tokens, rows[i].input);
          assert.equal(r.output_tokens, rows[i].output);
          if (i > 0) assert.ok(r.t_s >= requests[i - 1].t_s);
        }
      }),
      { numRuns: 60, seed: 61 },
    );
  }
});

test("property: a corrupted line is reported with its own file:line, never another's", () => {
  const corruptions = ["oops", "", "-1", "1.5", "NaN", "1e999"];
  for (const format of ["jsonl", "mooncake", "azure"] as const) {
    fc.assert(
      fc.property(traceRows, fc.nat(), fc.constantFrom(...corruptions), (rows, which, bad) => {
        const { text, firstDataLine } = writeTrace(rows, format);
        const lines = text.split("\n");
        const k = firstDataLine - 1 + (which % rows.length);
        // Corrupt the input count of that line.
        if (format === "azure") {
          const cells = lines[k].split(",");
          cells[1] = bad;
          lines[k] = cells.join(",");
        } else lines[k] = lines[k].replace(/("input_(tokens|length)":)\d+/, `$1${bad === "" ? '""' : bad === "oops" ? '"oops"' : bad === "NaN" ? '"NaN"' : bad}`);
        assert.throws(
          () => parseTrace(lines.join("\n"), "c.trace", format),
          (e: unknown) => e instanceof TraceError && e.message.startsWith(`c.trace:${k + 1}: `),
          `${format}: line ${k + 1} corrupted with ${JSON.stringify(bad)}: ${lines[k]}`,
        );
      }),
      { numRuns: 60, seed: 62 },
    );
  }
});

const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test", "fixtures", "results", name), "utf8");

test("results files: empty, wrong schema version, missing field, bad number -> error naming the file and the field", () => {
  const good = JSON.parse(fixture("online_baseline.json"));
  const bad = (mutate: (r: any) => void) => {
    const r = structuredClone(good);
    mutate(r);
    return JSON.stringify(r);
  };
  const cases: [string, string, RegExp][] = [
    ["empty.json", "", /^empty\.json: not JSON/],
    ["v2.json", bad((r) => (r.schema = "attnbench.online/2")), /^v2\.json: not a valid attnbench results file:\n {2}schema: Invalid discriminator value. Expected 'attnbench\.online\/1' \| 'attnbench\.offline\/1'/],
    ["nometa.json", bad((r) => delete r.meta), /^nometa\.json: not a valid attnbench results file:\n {2}meta: Required/],
    ["str.json", bad((r) => (r.runs[0].records[0].sent_ms = "12")), /^str\.json: .*\n {2}runs\.0\.records\.0\.sent_ms: Expected number, received string/],
    ["neg.json", bad((r) => (r.runs[0].records[0].output_tokens = -4)), /^neg\.json: .*\n {2}runs\.0\.records\.0\.output_tokens: Number must be greater than or equal to 0/],
    ["chunk.json", bad((r) => (r.runs[0].records[0].chunks = [{ t_ms: 1, n: 0 }])), /^chunk\.json: .*\n {2}runs\.0\.records\.0\.chunks\.0\.n: Number must be greater than 0/],
  ];
  for (const [file, text, re] of cases) assert.throws(() => parseResults(file, text), (e: unknown) => e instanceof ResultsFileError && re.test(e.message), `${file}: ${re}`);
});

test("CLI: a bad results file given to plot exits 2 naming the file; a bad trace to bench exits 1 naming file:line", async () => {
  const dir = tmpOut();
  const empty = join(dir, "empty.json");
  writeFileSync(empty, "");
  const p = await cli(["plot", empty, "--out", dir]);
  assert.equal(p.exitCode, 2, p.stderr);
  assert.match(p.stderr, new RegExp(`attnbench: ${empty.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: not JSON`));
  const neg = join(dir, "neg.jsonl");
  writeFileSync(neg, '{"t_s":-3,"input_tokens":3,"output_tokens":1}\n');
  const b = await cli(["bench", "online", "--trace", neg, "--engine", "/nonexistent", "--out", dir]);
  assert.equal(b.exitCode, 1, b.stderr);
  assert.match(b.stderr, /neg\.jsonl:1: negative timestamp -3/);
  assert.equal(b.stderr.trim().split("\n").length, 1, b.stderr);
});

test("property: percentiles lie within [min, max], grow with p, and summarize agrees", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (xs, p, q) => {
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      const a = percentile(xs, Math.min(p, q));
      const b = percentile(xs, Math.max(p, q));
      assert.ok(a >= lo - 1e-9 && b <= hi + 1e-9 && a <= b + 1e-9);
      const s = summarize(xs);
      assert.equal(s.n, xs.length);
      assert.equal(s.min, lo);
      assert.equal(s.max, hi);
      assert.ok(s.p50 <= s.p90 + 1e-9 && s.p90 <= s.p99 + 1e-9);
      assert.ok(s.mean >= lo - 1e-6 && s.mean <= hi + 1e-6);
    }),
    { numRuns: 300, seed: 63 },
  );
});

const chunksArb = fc.array(fc.record({ gap: fc.double({ min: 0, max: 500, noNaN: true }), n: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 30 });

test("property: per-request latency: TTFT <= E2E, token-mode ITL has N-1 samples summing to E2E - TTFT", () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1000, noNaN: true }), chunksArb, (sent, cs) => {
      let t = sent;
      const chunks = cs.map((c) => ({ t_ms: (t += c.gap), n: c.n }));
      const r = rec({ sent_ms: sent, chunks });
      const lat = requestLatency(r, "token")!;
      assert.ok(lat.ttft_ms >= 0 && lat.ttft_ms <= lat.e2e_ms + 1e-9);
      assert.equal(lat.itl_ms.length, r.output_tokens - 1);
      const sum = lat.itl_ms.reduce((a, x) => a + x, 0);
      assert.ok(Math.abs(sum - (lat.e2e_ms - lat.ttft_ms)) < 1e-6 * Math.max(1, lat.e2e_ms));
      const chunkLat = requestLatency(r, "chunk")!;
      assert.equal(chunkLat.itl_ms.length, chunks.length - 1);
    }),
    { numRuns: 300, seed: 64 },
  );
});

test("property: an online summary accounts for every record: completed + failed = n, failures by reason add up", () => {
  const one = fc.oneof(
    chunksArb.map((cs) => ({ ok: true as const, cs })),
    fc.constantFrom("engine exited (signal SIGKILL)", "HTTP 503", "client timeout").map((error) => ({ ok: false as const, error })),
  );
  fc.assert(
    fc.property(fc.array(one, { maxLength: 60 }), (rs) => {
      const records = rs.map((x, i) => {
        if (!x.ok) return rec({ i, id: `r${i}`, scheduled_ms: i, sent_ms: i, ok: false, finish: "error", error: x.error, chunks: [] });
        let t = i;
        return rec({ i, id: `r${i}`, scheduled_ms: i, sent_ms: i, chunks: x.cs.map((c) => ({ t_ms: (t += c.gap), n: c.n })) });
      });
      const s = summarizeOnline(records);
      assert.equal(s.n, records.length);
      assert.equal(s.completed + s.failed, s.n);
      assert.equal(Object.values(s.failures).reduce((a, x) => a + x, 0), s.failed);
      assert.equal(s.completed, rs.filter((x) => x.ok).length);
    }),
    { numRuns: 200, seed: 65 },
  );
});
