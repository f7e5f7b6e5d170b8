// What a bench run amounts to, and its exit code: 0 when every run that could happen produced a
// valid result, 1 when any run failed or is invalid (or nothing ran at all). Bad input is exit 2
// before anything runs (cli/errors.ts). A backend the engine does not have (status "unavailable")
// is a note, not a failure, as long as something else produced a valid result.
//
// The printed lines never show a statistic of an empty sample as a number: a metric with no
// samples reads "no successful requests" (or why there are no samples) instead of 0.0.
import type { OfflineResults, OnlineResults, OnlineRun, OnlineSummary, Stats } from "../results/schema.js";

export interface Verdict {
  exitCode: 0 | 1;
  /** One line per run that failed or is invalid, and why. */
  problems: string[];
  /** Runs that did not happen for a reason that is not a failure (backend not available here). */
  notes: string[];
  valid: number;
}

/** "12.3 ms" or, for an empty sample, why there is no number. */
export function statOrWhy(s: Stats, key: "p50" | "p90" | "p99" | "mean", digits: number, whyEmpty: string): string {
  return s.n > 0 ? `${s[key].toFixed(digits)} ms` : whyEmpty;
}

function failureList(s: OnlineSummary): string {
  const parts = Object.entries(s.failures).map(([why, k]) => `${k}x ${why}`);
  return parts.length ? parts.join("; ") : "no reason recorded";
}

/** Why an ok-status online run has no valid result (null when it has one). */
export function onlineRunProblem(run: OnlineRun): string | null {
  const s = run.summary;
  if (run.status === "failed") return `failed: ${run.reason ?? "no reason given"}`;
  if (run.status !== "ok") return null;
  if (!s) return "no summary";
  if (s.completed === 0) return `no successful requests (${s.failed} of ${s.n} failed: ${failureList(s)})`;
  if (s.invalid.length > 0) return `INVALID: ${s.invalid.join("; ")}`;
  return null;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** The one-line summary bench online prints per (backend, scale). */
export function onlineRunLine(run: OnlineRun): string {
  const offered =
    run.offered_req_s !== undefined
      ? ` (${run.offered_req_s.toFixed(1)} req/s offered${run.load_fraction ? `, ${pct(run.load_fraction)} of capacity` : ""})`
      : "";
  const head = `${run.backend.label} x${run.scale}${offered}`;
  const s = run.summary;
  if (!s) return `${head}: ${run.status}: ${run.reason ?? "no reason given"}`;
  const none = `no successful requests`;
  const parts = [`${s.completed}/${s.n} ok`];
  if (s.completed === 0) parts.push(`${none} (${failureList(s)})`);
  else {
    parts.push(`TTFT p50 ${statOrWhy(s.ttft_ms, "p50", 1, none)}`);
    // TPOT needs two tokens: requests that all stopped after one token leave it empty.
    parts.push(`TPOT p50 ${statOrWhy(s.tpot_ms, "p50", 2, "n/a (no request produced 2+ tokens)")}`);
    parts.push(`E2E p50 ${statOrWhy(s.e2e_ms, "p50", 1, none)}`);
    parts.push(`${s.output_throughput.toFixed(0)} output tok/s`);
    if (s.failed > 0) parts.push(`${s.failed} failed (${failureList(s)})`);
  }
  // A rate needs two arrivals, a lateness one send: fewer read as such, not as 0.
  const rates = s.n >= 2 ? `${s.achieved_rate.toFixed(2)}/${s.offered_rate.toFixed(2)} req/s achieved/offered` : "one request";
  let line = `${head}: ${parts.join(", ")}; load: ${rates}, lateness p99 ${s.lateness_ms.n > 0 ? `${s.lateness_ms.p99.toFixed(2)} ms` : "n/a (nothing sent)"}`;
  if (s.queue_ms && s.queue_ms.max > 0) line += `; client queue p50/p99 ${s.queue_ms.p50.toFixed(1)}/${s.queue_ms.p99.toFixed(1)} ms`;
  if (s.goodput) line += `; goodput ${s.goodput.req_s.toFixed(2)} req/s (${pct(s.goodput.fraction)} met the SLO)`;
  if (s.prefix_cache?.hit_rate !== null && s.prefix_cache?.hit_rate !== undefined) line += `; prefix cache hit rate ${pct(s.prefix_cache.hit_rate)}`;
  if (s.invalid.length) line += ` INVALID: ${s.invalid.join("; ")}`;
  if (run.status !== "ok") line += ` (${run.status}: ${run.reason})`;
  const lg = s.load_generator;
  if (lg && !lg.schedule_held)
    line += `\nWARNING: ${run.backend.label} x${run.scale}: the load generator did not hold its schedule (dispatch lateness p99 ${s.lateness_ms.p99.toFixed(2)} ms > target ${lg.lateness_target_ms} ms)`;
  return line;
}

export function onlineVerdict(r: OnlineResults): Verdict {
  const problems: string[] = [];
  const notes: string[] = [];
  let valid = 0;
  for (const run of r.runs) {
    const where = `${run.backend.label} x${run.scale}`;
    if (run.status === "unavailable") {
      notes.push(`${where}: unavailable: ${run.reason ?? "no reason given"}`);
      continue;
    }
    const p = onlineRunProblem(run);
    if (p) problems.push(`${where}: ${p}`);
    else valid++;
  }
  if (valid === 0 && problems.length === 0) problems.push("no run produced a result (every backend unavailable)");
  return { exitCode: problems.length ? 1 : 0, problems, notes, valid };
}

export function offlineVerdict(r: OfflineResults): Verdict {
  const problems: string[] = [];
  const notes: string[] = [];
  let valid = 0;
  for (const run of r.runs) {
    const where = run.backend.label;
    if (run.status === "unavailable") notes.push(`${where}: unavailable: ${run.reason ?? "no reason given"}`);
    else if (run.status === "failed") problems.push(`${where}: failed: ${run.reason ?? "no reason given"}`);
    else if (run.repeats.length === 0) problems.push(`${where}: no repeat ran`);
    else if (run.invalid.length) problems.push(`${where}: INVALID: ${run.invalid.join("; ")}`);
    else valid++;
  }
  if (valid === 0 && problems.length === 0) problems.push("no run produced a result (every backend unavailable)");
  return { exitCode: problems.length ? 1 : 0, problems, notes, valid };
}

/** The closing lines: what was not valid, or that everything was. */
export function verdictLines(v: Verdict): string[] {
  if (v.exitCode === 0) return [`result: ${v.valid} valid run(s)${v.notes.length ? `; not run here: ${v.notes.join("; ")}` : ""}`];
  return [`result: NOT VALID (exit 1): ${v.problems.length} run(s) failed or invalid, ${v.valid} valid`, ...v.problems.map((p) => `  - ${p}`), ...v.notes.map((n) => `  - ${n}`)];
}
