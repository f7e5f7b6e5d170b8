// Offline throughput of one repeat: everything submitted at once, timed to the last token.
import type { RequestRecord } from "../results/schema.js";
import { percentile } from "./percentiles.js";

export interface RepeatThroughput {
  wall_s: number;
  req_s: number;
  output_tok_s: number;
  total_tok_s: number;
}

export function repeatThroughput(records: readonly RequestRecord[], wall_s: number): RepeatThroughput {
  let out = 0;
  let total = 0;
  for (const r of records) {
    out += r.output_tokens;
    total += r.output_tokens + r.prompt_tokens;
  }
  const per_s = (x: number) => (wall_s > 0 ? x / wall_s : 0);
  return { wall_s, req_s: per_s(records.length), output_tok_s: per_s(out), total_tok_s: per_s(total) };
}

/** Why a repeat is invalid (null when valid): every request must produce exactly outputLen tokens. */
export function offlineInvalidReason(records: readonly RequestRecord[], outputLen: number): string | null {
  const bad = records.filter((r) => !r.ok || r.output_tokens !== outputLen);
  if (bad.length === 0) return null;
  const first = bad[0];
  const why = first.ok ? `${first.output_tokens} tokens` : (first.error ?? first.finish ?? "failed");
  return `${bad.length} of ${records.length} requests did not produce exactly ${outputLen} tokens (e.g. ${first.id}: ${why})`;
}

export function median(values: readonly number[]): number | null {
  return values.length ? percentile(values, 50) : null;
}

/** Fraction of requests whose token sequences equal the reference's (same index). */
export function agreement(reference: readonly number[][], candidate: readonly number[][]): number {
  if (reference.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i];
    const b = candidate[i];
    if (b && a.length === b.length && a.every((t, k) => t === b[k])) same++;
  }
  return same / reference.length;
}
