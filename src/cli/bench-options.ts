// Options shared by `bench online` and `bench offline`: which backends, where results go.
import { Command } from "commander";
import { z } from "zod";
import type { Backend } from "../results/schema.js";

/** "naive,fused,fused/naive" -> backends; `a/b` means prefill a, decode b. */
export const BackendsSchema = z.string().transform((s, ctx) => {
  const out: Backend[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [prefill, decode, extra] = part.split("/");
    if (!prefill || extra !== undefined || (part.includes("/") && !decode)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(part)} is not NAME or PREFILL/DECODE` });
      return z.NEVER;
    }
    const d = decode ?? prefill;
    out.push({ label: prefill === d ? prefill : `${prefill}/${d}`, prefill, decode: d });
  }
  if (out.length === 0) {
    ctx.addIssue({ code: "custom", message: "name at least one backend" });
    return z.NEVER;
  }
  const labels = out.map((b) => b.label);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) {
    ctx.addIssue({ code: "custom", message: `backend ${dup} given twice` });
    return z.NEVER;
  }
  return out;
});

export const BenchCommonSchema = z.object({
  backends: BackendsSchema.optional(),
  out: z.string().min(1).default("outputs"),
  plot: z.boolean().default(true),
  seed: z.coerce.number().int().min(0).default(0),
});

export function addBenchOptions(cmd: Command): Command {
  return cmd
    .option("--backends <list>", "comma-separated backends; NAME sets prefill and decode, PREFILL/DECODE sets each (default: naive)")
    .option("--out <dir>", "results directory (a <kind>_<timestamp> folder is made inside)", "outputs")
    .option("--no-plot", "do not draw figures at the end")
    .option("--seed <n>", "seed for synthetic prompts (and synthetic arrivals)", "0");
}

/** --backends, or the single pair from --prefill/--decode-attn-backend; giving both is contradictory. */
export function resolveBackends(o: { backends?: Backend[]; prefillAttnBackend?: string; decodeAttnBackend?: string }): Backend[] {
  if (o.backends) return o.backends;
  const prefill = o.prefillAttnBackend ?? "naive";
  const decode = o.decodeAttnBackend ?? prefill;
  return [{ label: prefill === decode ? prefill : `${prefill}/${decode}`, prefill, decode }];
}

export function backendsConflict(o: { backends?: unknown; prefillAttnBackend?: string; decodeAttnBackend?: string }): boolean {
  return o.backends !== undefined && (o.prefillAttnBackend !== undefined || o.decodeAttnBackend !== undefined);
}
