// The environment fingerprint: flat strings the gate compares to refuse apples-to-oranges
// comparisons (a different GPU, dtype, model, engine flags, experiment switches or workload).
import type { Meta } from "./schema.js";

/** What the workload was: a trace (by content hash) plus how it was cut and clamped, or the offline
 *  parameters. Scales are left out on purpose: the gate pairs runs scale by scale. */
export type WorkloadKey = { trace_sha256: string; num_prompts: number; workload: string } | { workload: string };

export function fingerprint(f: {
  device: Meta["device"];
  model: Record<string, unknown>;
  engineFlags: string[];
  /** ATTNBENCH_* switches set in the engine (none: the key is left out, as in files written before it). */
  engineEnv?: Record<string, string>;
  workload: WorkloadKey;
}): Record<string, string> {
  const out: Record<string, string> = {
    device: f.device.name,
    device_kind: f.device.kind,
    dtype: f.device.dtype,
    model: String(f.model.name ?? "unknown"),
    engine_flags: f.engineFlags.join(" "),
  };
  const env = Object.entries(f.engineEnv ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (env.length) out.engine_env = env.map(([k, v]) => `${k}=${v}`).join(" ");
  if (f.device.driver) out.driver = f.device.driver;
  if (f.device.cuda) out.cuda = f.device.cuda;
  if ("trace_sha256" in f.workload) {
    out.trace_sha256 = f.workload.trace_sha256;
    out.num_prompts = String(f.workload.num_prompts);
  }
  out.workload = f.workload.workload;
  return out;
}
