// Issue 6, CLI: out-of-range and contradictory options print one line per problem and exit 2
// (never a crash); serve listens on 127.0.0.1 unless --host widens it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execa } from "execa";
import fc from "fast-check";
import { OnlineSchema } from "../src/cli/online-options.js";
import { EngineOptionsSchema } from "../src/cli/engine-options.js";
import { parseOptions, UsageError } from "../src/cli/errors.js";
import { cli } from "./helpers/cli.js";
import { BIN, FAKE_ENGINE, REPO_ROOT } from "./helpers/paths.js";

const CASES: [string, string[], RegExp[]][] = [
  ["serve: port, body limit, slow-client timeout out of range", ["serve", "--port", "70000", "--max-body-bytes", "0", "--slow-client-timeout-ms", "-5"], [/^attnbench: --port: /, /^attnbench: --max-body-bytes: /, /^attnbench: --slow-client-timeout-ms: /]],
  ["serve: dtype not known", ["serve", "--dtype", "fp64"], [/^attnbench: --dtype: Invalid enum value/]],
  ["bench offline: negative and non-numeric sizes", ["bench", "offline", "--num-prompts", "-1", "--input-len", "0", "--output-len", "x"], [/^attnbench: --input-len: /, /^attnbench: --output-len: /, /^attnbench: --num-prompts: /]],
  ["bench online: non-positive scales", ["bench", "online", "--trace", "synthetic:poisson", "--scales", "0,-1"], [/^attnbench: --scales: "0": a scale must be a number > 0/]],
  ["bench online: repeated scales and a bad SLO key", ["bench", "online", "--trace", "synthetic:poisson", "--scales", "1,1", "--slo", "foo=1"], [/^attnbench: --scales: each scale once/, /^attnbench: --slo: unknown key "foo"/]],
  ["bench online: endpoint that is not a URL (no --trace: the shipped one)", ["bench", "online", "--endpoint", "notaurl"], [/^attnbench: --endpoint: Invalid url/]],
  ["bench online: auto:N out of range, --capacity-requests without auto", ["bench", "online", "--scales", "auto:1", "--max-concurrency", "0"], [/^attnbench: --scales: auto:1: the number of scales must be 2\.\.20/, /^attnbench: --max-concurrency: /]],
  ["bench online: chat with id prompts, burstiness on poisson, --vocab-size without --endpoint", ["bench", "online", "--trace", "synthetic:poisson", "--endpoint-type", "chat", "--prompt-format", "ids", "--burstiness", "3", "--vocab-size", "1000"], [/^attnbench: --burstiness: /, /^attnbench: --prompt-format: chat requests carry text/, /^attnbench: --vocab-size: only applies to --endpoint/]],
];

for (const [name, args, lines] of CASES) {
  test(`CLI ${name}: one line per problem, exit 2`, async () => {
    const r = await cli([...args, "--engine", FAKE_ENGINE]);
    assert.equal(r.exitCode, 2, r.stderr);
    const got = r.stderr.trim().split("\n");
    assert.equal(got.length, lines.length, r.stderr);
    for (const re of lines) assert.ok(got.some((l) => re.test(l)), `${re} in:\n${r.stderr}`);
    assert.equal(r.stdout, "");
  });
}

// Commander hands every option over as a string (or boolean): random strings for each option must
// give either options or a UsageError, never a crash in a refinement (the "object is not
// iterable" class of bug).
const val = fc.oneof(fc.constantFrom("0", "-1", "1", "1.5", "abc", "", "inf", "1,1", "0,-1", "a/b/c", "naive", "synthetic:poisson", "http://x", "NaN", "1e999"), fc.string({ maxLength: 6 }), fc.boolean());
const ONLINE_KEYS = ["trace", "traceFormat", "timestampUnit", "numPrompts", "scales", "requestRate", "burstiness", "inputLen", "outputLen", "maxInputLen", "maxOutputLen", "ignoreEos", "endpoint", "promptFormat", "apiKey", "slo", "itlMode", "maxLatenessMs", "warmupRequests", "requestTimeoutS", "backends", "prefillAttnBackend", "decodeAttnBackend", "device", "dtype", "seed", "numKvBlocks", "stepDelayUs", "capacityRequests", "maxConcurrency", "loadWorkers", "latenessTargetMs", "traceBlockSize", "prefixReplay", "enablePrefixCaching", "endpointType", "tokenizer", "vocabSize", "maxModelLen"];

test("property: option parsing never crashes, it returns options or a UsageError", () => {
  for (const schema of [OnlineSchema, EngineOptionsSchema]) {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...ONLINE_KEYS), val, { maxKeys: 8 }), (raw) => {
        try {
          parseOptions(schema as any, raw);
        } catch (e) {
          assert.ok(e instanceof UsageError, `${JSON.stringify(raw)} -> ${(e as Error).stack}`);
          assert.ok(e.problems.length > 0 && e.problems.every((p) => p.length > 0 && !p.includes("\n")));
        }
      }),
      { numRuns: 500, seed: 66 },
    );
  }
});

/** Local addresses of LISTEN sockets on `port` (from /proc/net/tcp), e.g. ["127.0.0.1"]. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[3] === "0A" && f[1].endsWith(`:${hexPort}`))
    .map((f) => {
      const h = f[1].split(":")[0];
      return [3, 2, 1, 0].map((k) => parseInt(h.slice(k * 2, k * 2 + 2), 16)).join(".");
    });
}

async function serveUrl(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = execa(process.execPath, [BIN, "serve", "--port", "0", "--engine", FAKE_ENGINE, ...args], { cwd: REPO_ROOT, reject: false });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      const m = /listening on (http:\/\/\S+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    child.then((r) => reject(new Error(`serve exited: ${r.stderr}`)));
    setTimeout(() => reject(new Error("serve did not print its URL")), 30_000);
  });
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child;
    },
  };
}

test("serve binds 127.0.0.1 by default; --host widens it (here to another loopback address)", { timeout: 60_000 }, async () => {
  const a = await serveUrl([]);
  try {
    const port = Number(new URL(a.url).port);
    assert.equal(new URL(a.url).hostname, "127.0.0.1");
    assert.deepEqual(listeners(port), ["127.0.0.1"], "listens on loopback only");
    assert.equal((await fetch(`${a.url}/health`)).status, 200);
  } finally {
    await a.stop();
  }
  const b = await serveUrl(["--host", "127.0.0.2"]);
  try {
    assert.equal(new URL(b.url).hostname, "127.0.0.2");
    assert.deepEqual(listeners(Number(new URL(b.url).port)), ["127.0.0.2"]);
    assert.equal((await fetch(`${b.url}/health`)).status, 200);
  } finally {
    await b.stop();
  }
});
