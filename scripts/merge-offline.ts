// Merge offline results files of the same workload (rounds of an interleaved A/B, scripts/smoke-gate.sh)
// into one: per backend the repeats and raw records of every round, back to back, so the gate sees
// every round's repeats as samples. The files must share a fingerprint (same machine, model, flags,
// workload); the merged run is failed/unavailable when any round's was.
//   node --import tsx scripts/merge-offline.ts OUT.json IN1.json IN2.json ...
import { runMergeCli } from "./merge-cli.js";
import { OfflineResultsSchema, type OfflineResults, type OfflineRun } from "../src/results/schema.js";
import { median } from "../src/metrics/offline.js";

function mergeRuns(runs: OfflineRun[]): OfflineRun {
  const bad = runs.find((r) => r.status !== "ok");
  const repeats = runs.flatMap((r) => r.repeats);
  const med = (k: "wall_s" | "req_s" | "output_tok_s" | "total_tok_s") => (repeats.length ? median(repeats.map((x) => x[k])) : null);
  const shas = new Set(runs.map((r) => r.outputs_sha256).filter((s) => s !== null));
  const invalid = runs.flatMap((r, k) => r.invalid.map((why) => `round ${k + 1}: ${why}`));
  if (shas.size > 1) invalid.push(`greedy outputs differ between rounds (${shas.size} distinct hashes)`);
  return {
    backend: runs[0].backend,
    status: bad?.status ?? "ok",
    reason: bad ? `round ${runs.indexOf(bad) + 1}: ${bad.reason ?? bad.status}` : null,
    wall_s: med("wall_s"),
    req_s: med("req_s"),
    output_tok_s: med("output_tok_s"),
    total_tok_s: med("total_tok_s"),
    total_latency_s: med("wall_s"),
    repeats,
    outputs_sha256: [...shas][0] ?? null,
    records: runs.flatMap((r) => r.records),
    invalid,
  };
}

export function mergeOffline(files: { file: string; results: OfflineResults }[]): OfflineResults {
  const first = files[0].results;
  for (const { file, results } of files.slice(1)) {
    const a = first.meta.fingerprint;
    const b = results.meta.fingerprint;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
    if (keys.length) throw new Error(`${file}: fingerprint differs from ${files[0].file} in ${keys.map((k) => `${k} (${a[k]} vs ${b[k]})`).join(", ")}`);
  }
  const labels = [...new Set(files.flatMap((f) => f.results.runs.map((r) => r.backend.label)))];
  const runs = labels.map((label) => {
    const per = files.map((f) => f.results.runs.find((r) => r.backend.label === label));
    const missing = per.findIndex((r) => r === undefined);
    if (missing >= 0) throw new Error(`${files[missing].file}: no run of backend ${label}`);
    return mergeRuns(per as OfflineRun[]);
  });
  return {
    ...first,
    meta: { ...first.meta, command: `${first.meta.command} (merged: ${files.length} rounds)` },
    workload: { ...first.workload, repeats: files.reduce((a, f) => a + f.results.workload.repeats, 0) },
    runs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) runMergeCli("merge-offline", "offline", OfflineResultsSchema, mergeOffline);
