// Comparing environment fingerprints: numbers from different GPUs, dtypes, models, engine flags or
// workloads are not a regression signal, so the gate refuses them unless forced.

export interface FingerprintDiff {
  key: string;
  baseline: string | null;
  candidate: string | null;
}

export function diffFingerprints(baseline: Record<string, string>, candidate: Record<string, string>): FingerprintDiff[] {
  const keys = [...new Set([...Object.keys(baseline), ...Object.keys(candidate)])].sort();
  return keys
    .filter((k) => baseline[k] !== candidate[k])
    .map((k) => ({ key: k, baseline: baseline[k] ?? null, candidate: candidate[k] ?? null }));
}

export function describeDiffs(diffs: readonly FingerprintDiff[]): string[] {
  return diffs.map((d) => `${d.key}: baseline ${JSON.stringify(d.baseline)} vs candidate ${JSON.stringify(d.candidate)}`);
}
