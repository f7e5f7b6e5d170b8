// --capacity-from: each backend's capacity read from an earlier online results file instead of
// measured, so a capacity-aware sweep can be split over several calls (--auto-points) and still
// choose its scales from one measurement. The file must be of the same trace and request count.
import { loadResults, ResultsFileError } from "../results/load-results.js";
import type { Capacity } from "../results/schema.js";
import type { CapacityEstimate } from "./capacity.js";

export async function readCapacityFrom(file: string, traceSha256: string, numPrompts: number, labels: readonly string[]): Promise<Map<string, Capacity>> {
  const { results } = await loadResults(file);
  if (results.schema !== "attnbench.online/1") throw new ResultsFileError(file, `needs online results, not ${results.schema}`);
  if (results.trace.sha256 !== traceSha256)
    throw new ResultsFileError(file, `measured on another trace (sha256 ${results.trace.sha256.slice(0, 12)}, this one ${traceSha256.slice(0, 12)})`);
  if (results.num_prompts !== numPrompts)
    throw new ResultsFileError(file, `measured with --num-prompts ${results.num_prompts}, this run has ${numPrompts}`);
  const out = new Map<string, Capacity>();
  for (const label of labels) {
    const c = (results.capacity ?? []).find((x) => x.backend.label === label);
    if (!c || c.status !== "ok" || !(c.req_s && c.req_s > 0))
      throw new ResultsFileError(file, `no measured capacity of backend ${label} (${c ? `${c.status}: ${c.reason ?? "no rate"}` : "not in the file"})`);
    out.set(label, c);
  }
  return out;
}

/** The estimate an earlier run measured and its results file recorded (readCapacityFrom checked its status). */
export function recordedEstimate(c: Capacity): CapacityEstimate {
  return { req_s: c.req_s, output_tok_s: c.output_tok_s, completed: c.completed, duration_s: c.duration_s };
}
