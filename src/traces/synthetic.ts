// Synthetic arrivals, as vLLM's bench serve makes them: gamma-distributed gaps with shape
// `burstiness` (1 = Poisson) and mean 1/rate; rate Infinity sends everything at t=0.
import { gamma, mulberry32 } from "./rng.js";
import type { TraceRequest } from "./types.js";

export interface SyntheticOptions {
  kind: "poisson" | "gamma";
  numPrompts: number;
  requestRate: number;
  burstiness: number;
  inputLen: number;
  outputLen: number;
  seed: number;
}

export function syntheticTrace(o: SyntheticOptions): TraceRequest[] {
  const rand = mulberry32(o.seed ^ 0x5eed);
  const shape = o.kind === "poisson" ? 1 : o.burstiness;
  const out: TraceRequest[] = [];
  let t = 0;
  for (let i = 0; i < o.numPrompts; i++) {
    if (i > 0 && Number.isFinite(o.requestRate)) t += gamma(rand, shape, 1 / (o.requestRate * shape));
    out.push({ t_s: t, input_tokens: o.inputLen, output_tokens: o.outputLen });
  }
  return out;
}
