// Offline throughput of one repeat: everything submitted at once, timed to the last token.
import type { AgreementDetail, RequestRecord } from "../results/schema.js";
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

/** Greedy outputs of one backend with the log-probability of each chosen token. */
export interface ScoredOutputs {
  tokens: readonly number[][];
  logprobs: readonly number[][];
}

export type { AgreementDetail };

/**
 * The near-tie tolerances for a compute dtype: fp16 (and fp32) 0.01 on the chosen tokens' logprobs at
 * the first divergence and 0.05 on earlier ones; bf16 8x those. bf16 keeps 8 significand bits where
 * fp16 keeps 11, so its rounding steps, and the logprob noise they cause between two correct
 * kernels, are 8x larger in principle. Measured on the H200: a random Llama-3.1-8B in bf16, backends
 * 0.09-0.13 apart on common prefixes (docs/perf-notes.md, session 5), each nearer HF fp32 than HF's own
 * bf16 forward (session 4's llama_check); GPT-2 fp16, the engine within 0.0015 of HF fp32 (hf_check).
 */
export function nearTieTolerances(dtype: string): { tie_tol: number; prefix_tol: number } {
  const scale = dtype === "bf16" ? 8 : 1;
  return { tie_tol: 0.01 * scale, prefix_tol: 0.05 * scale };
}

/**
 * Where greedy outputs of two backends differ, say whether the difference is a near tie: at the
 * first divergent position both backends saw their chosen tokens as almost equally likely
 * (|logprob(a) - logprob(b)| < tieTol) and agreed on every earlier logprob within prefixTol. Low-
 * precision kernels flip argmax at such ties by rounding alone (random-weight models have many);
 * a bug shows as a large gap.
 */
export function agreementDetail(ref: ScoredOutputs, cand: ScoredOutputs, tieTol = 0.01, prefixTol = 0.05): AgreementDetail {
  const n = ref.tokens.length;
  const tols = { tie_tol: tieTol, prefix_tol: prefixTol };
  if (n === 0) return { exact: 0, near_tie: 0, diverged: 0, max_logprob_diff: 0, ...tols };
  let exact = 0;
  let tie = 0;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    const a = ref.tokens[i];
    const b = cand.tokens[i] ?? [];
    const la = ref.logprobs[i] ?? [];
    const lb = cand.logprobs[i] ?? [];
    let k = 0;
    let prefixDiff = 0;
    while (k < a.length && k < b.length && a[k] === b[k]) {
      if (la[k] !== undefined && lb[k] !== undefined) prefixDiff = Math.max(prefixDiff, Math.abs(la[k] - lb[k]));
      k++;
    }
    maxDiff = Math.max(maxDiff, prefixDiff);
    if (k === a.length && k === b.length) exact++;
    else if (k < a.length && k < b.length && la[k] !== undefined && lb[k] !== undefined &&
             Math.abs(la[k] - lb[k]) < tieTol && prefixDiff < prefixTol) tie++;
  }
  return { exact: exact / n, near_tie: tie / n, diverged: (n - exact - tie) / n, max_logprob_diff: maxDiff, ...tols };
}
