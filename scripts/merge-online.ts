// Merge online results files of the same trace, model and flags that were run apart into one file,
// so `attnbench plot` draws them in one figure: one `bench online` per backend (e.g. each on its own
// GPU of one host: scripts/gpu-check.sh online-sweep), or one backend's capacity-aware sweep split
// over calls (--auto-points, the later calls with --capacity-from the first). Refused: fingerprints
// that differ (device, dtype, model, flags, trace, workload), a different request count, scale
// mode, concurrency cap or prefix workload, or the same backend at the same scale twice.
//   node --import tsx scripts/merge-online.ts OUT.json IN1.json IN2.json ...
import { runMergeCli } from "./merge-cli.js";
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
  const seen = new Map<string, string>();  // backend label + scale -> file
  const filesOf = new Map<string, Set<string>>();
  for (const { file, results } of files)
    for (const run of results.runs) {
      const label = run.backend.label;
      const key = `${label} @ scale ${run.scale}`;
      if (seen.has(key)) throw new Error(`backend ${label} at scale ${run.scale} is in both ${seen.get(key)} and ${file}`);
      seen.set(key, file);
      filesOf.set(label, (filesOf.get(label) ?? new Set()).add(file));
    }
  // Runs grouped by backend (first appearance); a backend split over files: lightest load first.
  const runs = [...filesOf.keys()].flatMap((label) => {
    const mine = files.flatMap((f) => f.results.runs.filter((r) => r.backend.label === label));
    return filesOf.get(label)!.size > 1 ? [...mine].sort((a, b) => b.scale - a.scale) : mine;
  });
  const merged: OnlineResults = {
    ...first.results,
    meta: { ...first.results.meta, command: `${first.results.meta.command} (merged: ${files.length} files)` },
    scales: [...new Set(runs.map((r) => r.scale))],
    runs,
  };
  const capacity = mergeCapacity(files.flatMap((f) => f.results.capacity ?? []));
  if (first.results.capacity !== undefined || capacity.length > 0) merged.capacity = capacity;
  return merged;
}

type Capacity = NonNullable<OnlineResults["capacity"]>[number];

/** One entry per backend and measurement: a sweep split over files (the same capacity, read with
 * --capacity-from) becomes one entry with all its points, lightest load first. */
function mergeCapacity(caps: Capacity[]): Capacity[] {
  const out: Capacity[] = [];
  for (const c of caps) {
    const same = out.find((o) => o.backend.label === c.backend.label && o.status === "ok" && c.status === "ok" && o.req_s === c.req_s);
    if (!same) {
      out.push({ ...c, fractions: [...c.fractions], scales: [...c.scales], offered_req_s: [...c.offered_req_s] });
      continue;
    }
    const points = [...same.fractions.map((f, k) => [f, same.scales[k], same.offered_req_s[k]]), ...c.fractions.map((f, k) => [f, c.scales[k], c.offered_req_s[k]])]
      .filter((p, i, all) => all.findIndex((q) => q[1] === p[1]) === i)
      .sort((a, b) => a[0] - b[0]);
    same.fractions = points.map((p) => p[0]);
    same.scales = points.map((p) => p[1]);
    same.offered_req_s = points.map((p) => p[2]);
    if (same.from_file && !c.from_file) delete same.from_file;  // the measured entry stands for both
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) runMergeCli("merge-online", "online", OnlineResultsSchema, mergeOnline);
