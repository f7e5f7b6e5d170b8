// The gate's markdown report: verdict first, then one row per metric with its evidence.
import { fmt, fmtRatio } from "../report/describe.js";
import { mdTable } from "../report/markdown.js";
import type { GateOutcome, MetricComparison } from "./compare.js";
import { describeDiffs, type FingerprintDiff } from "./fingerprint.js";

const VERDICT_MARK: Record<MetricComparison["verdict"], string> = {
  pass: "pass",
  regression: "**REGRESSION**",
  improvement: "improvement",
  inconclusive: "pass (inconclusive)",
  "no data": "no data",
};

function limitText(c: MetricComparison): string {
  const pct = `${+(c.tolerance * 100).toFixed(2)}%`;
  return c.better === "lower" ? `≤ +${pct}` : `≥ -${pct}`;
}

/** The same note for one backend at every scale (e.g. "unavailable") is said once, with its scales. */
function groupChecks(checks: GateOutcome["checks"]): string[] {
  const groups = new Map<string, { backend: string; message: string; scales: number[] }>();
  for (const c of checks) {
    const key = `${c.backend}\u0000${c.message}`;
    const g = groups.get(key) ?? { backend: c.backend, message: c.message, scales: [] };
    if (c.scale !== null) g.scales.push(c.scale);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) =>
    `${g.backend}${g.scales.length === 0 ? "" : ` @ scale${g.scales.length > 1 ? "s" : ""} ${g.scales.join(", ")}`}: ${g.message}`,
  );
}

export interface GateReportInput {
  baselineFile: string;
  candidateFile: string;
  outcome: GateOutcome;
  fingerprintDiffs: FingerprintDiff[];
  forced: boolean;
  confidence: number;
  resamples: number;
  seed: number;
}

export function gateMarkdown(r: GateReportInput): string {
  const o = r.outcome;
  const regressed = o.comparisons.filter((c) => c.verdict === "regression");
  const headline = o.regressions === 0
    ? `## PASS: no regression in ${o.comparisons.length} comparisons`
    : `## FAIL: ${o.regressions} regression${o.regressions === 1 ? "" : "s"} in ${o.comparisons.length} comparisons`;
  const online = o.kind === "online";
  const headers = ["backend", ...(online ? ["scale"] : []), "metric", "baseline", "candidate", "ratio", `${Math.round(r.confidence * 100)}% CI`, "limit", "n (base / cand)", "verdict"];
  const row = (c: MetricComparison) => [
    c.backend,
    ...(online ? [String(c.scale)] : []),
    c.metric,
    fmt(c.interval?.baseline),
    fmt(c.interval?.candidate),
    fmtRatio(c.interval?.ratio),
    c.interval ? `${c.interval.lo.toFixed(3)} – ${c.interval.hi.toFixed(3)}` : "–",
    limitText(c),
    c.interval ? `${c.interval.n_baseline} / ${c.interval.n_candidate}` : "–",
    VERDICT_MARK[c.verdict],
  ];
  const lines = [
    `# attnbench gate (${o.kind})`,
    ``,
    `- baseline: \`${r.baselineFile}\``,
    `- candidate: \`${r.candidateFile}\``,
    `- test: seeded bootstrap (${r.resamples} resamples of whole requests / repeats, seed ${r.seed}) of the candidate/baseline ratio of each statistic; ` +
      `a regression only when the whole ${Math.round(r.confidence * 100)}% interval is past the limit. Latency metrics: lower is better; throughput: higher is better.`,
    ``,
    headline,
    ``,
  ];
  if (r.fingerprintDiffs.length > 0) {
    lines.push(`Environment fingerprints differ${r.forced ? " (compared anyway: --force)" : ""}:`, ``, ...describeDiffs(r.fingerprintDiffs).map((d) => `- ${d}`), ``);
  }
  const flagged = o.checks.filter((c) => c.regression);
  if (regressed.length > 0 || flagged.length > 0) {
    lines.push(`### Regressions`, ``);
    for (const c of regressed) {
      lines.push(`- ${c.backend}${c.scale !== null ? ` @ scale ${c.scale}` : ""}: ${c.metric} ${fmt(c.interval?.baseline)} -> ${fmt(c.interval?.candidate)} ` +
        `(ratio ${fmtRatio(c.interval?.ratio)}, CI ${c.interval?.lo.toFixed(3)} – ${c.interval?.hi.toFixed(3)}, limit ${limitText(c)})`);
    }
    for (const c of flagged) lines.push(`- ${c.backend}${c.scale !== null ? ` @ scale ${c.scale}` : ""}: ${c.message}`);
    lines.push(``);
  }
  const notes = groupChecks(o.checks.filter((c) => !c.regression));
  if (notes.length > 0) lines.push(`### Notes`, ``, ...notes.map((n) => `- ${n}`), ``);
  lines.push(`### All comparisons`, ``, mdTable(headers, o.comparisons.map(row)), ``);
  lines.push(`Units: latencies in ms, throughputs per second; ratio = candidate / baseline.`, ``);
  return lines.join("\n");
}
