// Merge online results files of the same trace, model and flags whose backends were run apart (one
// `bench online` per backend, e.g. each on its own GPU of one host: scripts/gpu-check.sh
// online-sweep) into one file with every backend, so `attnbench plot` draws them in one figure.
// Refused: fingerprints that differ (device, dtype, model, flags, trace, workload), a different
// request count, scale mode, concurrency cap or prefix workload, or a backend present twice.
//   node --import tsx scripts/merge-online.ts OUT.json IN1.json IN2.json ...
import { writeFileSync } from "node:fs";
import { loadResults } from "../src/results/load-results.js";
import { OnlineResultsSchema, type OnlineResults } from "../src/results/schema.js";

export function mergeOnline(files: { file: string; results: OnlineResults }[]): OnlineResults {
  if (files.length === 0) throw new Error("no results files to merge");
  const first = files[0];
  const same = (what: string, a: unknown, b: unknown, file: string) => {
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null))
      throw new Error(`${file}: ${what} differs from ${first.file} (${JSON.stringify(b ?? null)} vs ${JSON.stringify(a ?? null)})`);
  };
  for (const { file, results } of files.slice(1)) {
    const a = first.results.meta.fingerprint;
    const b = results.meta.fingerprint;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
    if (keys.length) throw new Error(`${file}: fingerprint differs from ${first.file} in ${keys.map((k) => `${k} (${b[k]} vs ${a[k]})`).join(", ")}`);
    same("trace", { ...first.results.trace, path: undefined }, { ...results.trace, path: undefined }, file);
    same("num_prompts", first.results.num_prompts, results.num_prompts, file);
    same("scale_mode", first.results.scale_mode, results.scale_mode, file);
    same("max_concurrency", first.results.max_concurrency, results.max_concurrency, file);
    same("prefix workload", first.results.prefix, results.prefix, file);
  }
  const seen = new Map<string, string>();
  for (const { file, results } of files)
    for (const run of results.runs) {
      const label = run.backend.label;
      if (seen.has(label) && seen.get(label) !== file) throw new Error(`backend ${label} is in both ${seen.get(label)} and ${file}`);
      seen.set(label, file);
    }
  const capacity = files.flatMap((f) => f.results.capacity ?? []);
  const merged: OnlineResults = {
    ...first.results,
    meta: { ...first.results.meta, command: `${first.results.meta.command} (merged: ${files.length} files, one per backend)` },
    scales: [...new Set(files.flatMap((f) => f.results.scales))],
    runs: files.flatMap((f) => f.results.runs),
  };
  if (first.results.capacity !== undefined || capacity.length > 0) merged.capacity = capacity;
  return merged;
}

async function main(): Promise<void> {
  const [out, ...inputs] = process.argv.slice(2);
  if (!out || inputs.length === 0) throw new Error("usage: merge-online.ts OUT.json IN.json [IN.json ...]");
  const loaded = await Promise.all(inputs.map(loadResults));
  const online = loaded.map((l) => {
    if (l.results.schema !== "attnbench.online/1") throw new Error(`${l.file}: not an online results file (${l.results.schema})`);
    return { file: l.file, results: l.results as OnlineResults };
  });
  writeFileSync(out, JSON.stringify(OnlineResultsSchema.parse(mergeOnline(online))) + "\n");
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((err) => {
    process.stderr.write(`merge-online: ${(err as Error).message}\n`);
    process.exit(2);
  });
