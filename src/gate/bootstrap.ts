// Bootstrap confidence interval of a ratio of statistics, candidate / baseline.
//
// Samples come in groups (one group per request; for ITL all of a request's gaps), and a resample
// draws whole groups with replacement, so correlated gaps of one request are not treated as
// independent evidence. Both files are resampled independently; the interval is the percentile
// interval of the resampled ratios. Seeded: the same files give the same interval everywhere.
import { quantileSorted } from "../metrics/quantile.js";
import { mulberry32, type Rng } from "./rng.js";

export interface RatioInterval {
  baseline: number;
  candidate: number;
  /** candidate / baseline of the statistic on the full samples. */
  ratio: number;
  lo: number;
  hi: number;
  n_baseline: number;
  n_candidate: number;
}

export interface BootstrapOptions {
  /** Statistic: the q-quantile of the pooled values (0.5 = median). */
  q: number;
  resamples: number;
  /** Two-sided confidence level, e.g. 0.95. */
  confidence: number;
  seed: number;
}

/**
 * All values sorted once, each remembering its group. A resample is then only a count per group,
 * and its quantile a walk over the sorted values weighted by those counts (from whichever end is
 * nearer), with no copying or sorting per resample: ~10x faster than select-per-resample on ITL pools.
 */
interface Sorted {
  values: Float64Array;
  groupOf: Int32Array;
  groupLen: Int32Array;
  groups: number;
}

function prepare(groups: readonly (readonly number[])[]): Sorted {
  const pairs: [number, number][] = [];
  groups.forEach((g, i) => g.forEach((v) => pairs.push([v, i])));
  pairs.sort((a, b) => a[0] - b[0]);
  return {
    values: Float64Array.from(pairs, (p) => p[0]),
    groupOf: Int32Array.from(pairs, (p) => p[1]),
    groupLen: Int32Array.from(groups, (g) => g.length),
    groups: groups.length,
  };
}

/** Value at 0-based rank `rank` of the multiset where sorted value i appears counts[groupOf[i]] times. */
function weightedRank(s: Sorted, counts: Int32Array, rank: number, total: number): number {
  if (rank < total / 2) {
    let cum = 0;
    for (let i = 0; i < s.values.length; i++) {
      cum += counts[s.groupOf[i]];
      if (cum > rank) return s.values[i];
    }
  } else {
    let cum = 0;
    const fromTop = total - 1 - rank;
    for (let i = s.values.length - 1; i >= 0; i--) {
      cum += counts[s.groupOf[i]];
      if (cum > fromTop) return s.values[i];
    }
  }
  return s.values[s.values.length - 1];
}

/** The statistic of one resample: draw groups with replacement, then the interpolated q-quantile. */
function resampleStat(s: Sorted, rng: Rng, q: number, counts: Int32Array): number {
  counts.fill(0);
  let total = 0;
  for (let i = 0; i < s.groups; i++) {
    const g = (rng() * s.groups) | 0;
    counts[g]++;
    total += s.groupLen[g];
  }
  if (total === 0) return Number.NaN;
  const pos = (total - 1) * q;
  const lo = Math.floor(pos);
  const vLo = weightedRank(s, counts, lo, total);
  if (pos === lo || lo + 1 >= total) return vLo;
  return vLo + (weightedRank(s, counts, lo + 1, total) - vLo) * (pos - lo);
}

export function bootstrapRatio(
  baselineGroups: readonly (readonly number[])[],
  candidateGroups: readonly (readonly number[])[],
  opts: BootstrapOptions,
): RatioInterval | null {
  const b = prepare(baselineGroups);
  const c = prepare(candidateGroups);
  if (b.values.length === 0 || c.values.length === 0) return null;
  const baseline = quantileSorted(b.values, opts.q);
  const candidate = quantileSorted(c.values, opts.q);
  if (!(baseline > 0)) return null; // a ratio against zero says nothing
  const rng = mulberry32(opts.seed);
  const ratios = new Float64Array(opts.resamples);
  const countsB = new Int32Array(b.groups);
  const countsC = new Int32Array(c.groups);
  let kept = 0;
  for (let r = 0; r < opts.resamples; r++) {
    const sb = resampleStat(b, rng, opts.q, countsB);
    const sc = resampleStat(c, rng, opts.q, countsC);
    if (sb > 0) ratios[kept++] = sc / sb;
  }
  const alpha = (1 - opts.confidence) / 2;
  const sorted = ratios.subarray(0, kept).sort();
  const at = (p: number) => sorted[Math.min(kept - 1, Math.max(0, Math.round(p * (kept - 1))))];
  return {
    baseline,
    candidate,
    ratio: candidate / baseline,
    lo: kept > 0 ? at(alpha) : candidate / baseline,
    hi: kept > 0 ? at(1 - alpha) : candidate / baseline,
    n_baseline: b.values.length,
    n_candidate: c.values.length,
  };
}

/** The weighted-rank quantile of groups drawn `counts` times (tests compare it with expand-and-sort). */
export function weightedQuantileForTests(groups: readonly (readonly number[])[], counts: readonly number[], q: number): number {
  const s = prepare(groups);
  const c = Int32Array.from(counts);
  const total = counts.reduce((sum, k, g) => sum + k * groups[g].length, 0);
  const pos = (total - 1) * q;
  const lo = Math.floor(pos);
  const vLo = weightedRank(s, c, lo, total);
  return pos === lo || lo + 1 >= total ? vLo : vLo + (weightedRank(s, c, lo + 1, total) - vLo) * (pos - lo);
}
