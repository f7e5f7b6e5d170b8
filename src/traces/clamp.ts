// Fit trace lengths to the model: --max-input-len / --max-output-len first, then the context.
// When prompt + output exceed n_ctx the prompt is cut first (the output length is what the user
// asked to measure, often via --max-output-len), but not below half the context; past that the
// output is cut too. A request changed by any rule counts as clamped.
import type { TraceRequest } from "./types.js";

export interface ClampLimits {
  nCtx: number;
  maxInputLen?: number;
  maxOutputLen?: number;
}

export function clampRequest(r: TraceRequest, lim: ClampLimits): TraceRequest {
  let input = Math.min(r.input_tokens, lim.maxInputLen ?? Infinity);
  let output = Math.min(r.output_tokens, lim.maxOutputLen ?? Infinity);
  if (input + output > lim.nCtx) {
    input = Math.max(1, Math.min(input, Math.max(lim.nCtx - output, Math.floor(lim.nCtx / 2))));
    output = Math.max(1, Math.min(output, lim.nCtx - input));
  }
  return { t_s: r.t_s, input_tokens: input, output_tokens: output };
}

export function clampTrace(reqs: readonly TraceRequest[], lim: ClampLimits): { requests: TraceRequest[]; clamped: number } {
  if (lim.nCtx < 2) throw new Error(`model context ${lim.nCtx} is too small for a prompt and an output token`);
  let clamped = 0;
  const requests = reqs.map((r) => {
    const c = clampRequest(r, lim);
    if (c.input_tokens !== r.input_tokens || c.output_tokens !== r.output_tokens) clamped++;
    return c;
  });
  return { requests, clamped };
}
