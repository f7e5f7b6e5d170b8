// Percentile summaries with numpy's default ("linear") interpolation, so numbers match vLLM's bench.
import type { Stats } from "../results/schema.js";

/** numpy.percentile(values, p) with method="linear"; values need not be sorted. p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return percentileSorted(sorted, p);
}

export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const frac = pos - lo;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/**
 * n, mean, p50/p90/p99, min, max. An empty sample gives n=0 and zeros (the schema has no nulls
 * here; readers must look at n before trusting the other fields).
 */
export function summarize(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, mean: 0, p50: 0, p90: 0, p99: 0, min: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}
