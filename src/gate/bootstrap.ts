// Bootstrap confidence interval of a ratio of statistics, candidate / baseline.
//
// Samples come in groups (one group per request; for ITL all of a request's gaps), and a resample
// draws whole groups with replacement, so correlated gaps of one request are not treated as
// independent evidence. Both files are resampled independently; the interval is the percentile
// interval of the resampled ratios. Seeded: the same files give the same interval everywhere.
import { quantileInPlace } from "./quantile.js";
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

interface Flat {
  values: Float64Array;
  offsets: Int32Array;
  groups: number;
  singletons: boolean;
}

function flatten(groups: readonly (readonly number[])[]): Flat {
  const total = groups.reduce((s, g) => s + g.length, 0);
  const values = new Float64Array(total);
  const offsets = new Int32Array(groups.length + 1);
  let k = 0;
  groups.forEach((g, i) => {
    offsets[i] = k;
    for (const v of g) values[k++] = v;
  });
  offsets[groups.length] = k;
  return { values, offsets, groups: groups.length, singletons: total === groups.length };
}

/** One resample's statistic; `work` grows when a resample happens to draw many long groups. */
function resampleStat(f: Flat, rng: Rng, q: number, work: { buf: Float64Array }): number {
  if (f.singletons) {
    const buf = work.buf;
    for (let i = 0; i < f.groups; i++) buf[i] = f.values[(rng() * f.groups) | 0];
    return quantileInPlace(buf, f.groups, q);
  }
  let len = 0;
  for (let i = 0; i < f.groups; i++) {
    const g = (rng() * f.groups) | 0;
    const start = f.offsets[g];
    const end = f.offsets[g + 1];
    if (len + (end - start) > work.buf.length) {
      const bigger = new Float64Array(Math.max(work.buf.length * 2, len + end - start));
      bigger.set(work.buf.subarray(0, len));
      work.buf = bigger;
    }
    for (let k = start; k < end; k++) work.buf[len++] = f.values[k];
  }
  return quantileInPlace(work.buf, len, q);
}

function fullStat(f: Flat, q: number): number {
  const copy = Float64Array.from(f.values);
  return quantileInPlace(copy, copy.length, q);
}

export function bootstrapRatio(
  baselineGroups: readonly (readonly number[])[],
  candidateGroups: readonly (readonly number[])[],
  opts: BootstrapOptions,
): RatioInterval | null {
  const b = flatten(baselineGroups);
  const c = flatten(candidateGroups);
  if (b.values.length === 0 || c.values.length === 0) return null;
  const baseline = fullStat(b, opts.q);
  const candidate = fullStat(c, opts.q);
  if (!(baseline > 0)) return null; // a ratio against zero says nothing
  const rng = mulberry32(opts.seed);
  const ratios = new Float64Array(opts.resamples);
  const workB = { buf: new Float64Array(b.values.length * 2) };
  const workC = { buf: new Float64Array(c.values.length * 2) };
  let kept = 0;
  for (let r = 0; r < opts.resamples; r++) {
    const sb = resampleStat(b, rng, opts.q, workB);
    const sc = resampleStat(c, rng, opts.q, workC);
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
