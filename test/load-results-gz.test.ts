// Large baselines are committed gzipped; the loader must read them and name the file when they are not gzip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadResults, ResultsFileError } from "../src/results/load-results.js";

const fixture = join(import.meta.dirname, "fixtures", "results", "offline_baseline.json");

test("a .json.gz results file loads like the plain one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "attnbench-gz-"));
  const gz = join(dir, "offline_results.json.gz");
  writeFileSync(gz, gzipSync(readFileSync(fixture)));
  const plain = await loadResults(fixture);
  const packed = await loadResults(gz);
  assert.deepEqual(packed.results, plain.results);
});

test("a .gz file that is not gzip is refused with its name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "attnbench-gz-"));
  const bad = join(dir, "broken.json.gz");
  writeFileSync(bad, "{}");
  await assert.rejects(loadResults(bad), (e: unknown) => e instanceof ResultsFileError && /broken\.json\.gz: not gzip/.test(String(e)));
});
