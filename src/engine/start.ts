// Start an engine from parsed CLI options (shared by serve, generate and bench offline).
import { EngineClient, EngineStartError } from "./client.js";
import { engineArgs, type BackendPair, type EngineOptions } from "../cli/engine-options.js";
import { resolveEnginePath } from "../cli/paths.js";
import { existsSync } from "node:fs";

export async function startEngine(o: EngineOptions, backend?: BackendPair, onLog?: (line: string) => void): Promise<EngineClient> {
  const path = resolveEnginePath(o.engine);
  if (!existsSync(path))
    throw new EngineStartError(`engine binary not found at ${path} (build it with bash scripts/build-engine.sh, or pass --engine / set ATTNBENCH_ENGINE)`, false);
  return EngineClient.start({ path, args: engineArgs(o, backend), readyTimeoutMs: o.readyTimeoutS * 1000, onLog });
}

/** Did the engine refuse this backend (as opposed to failing for another reason)? */
export function isBackendRefusal(err: unknown, backend: BackendPair): boolean {
  if (!(err instanceof EngineStartError) || !err.fatal) return false;
  const m = err.message.toLowerCase();
  return /unavailable|unknown|not built|not available|unsupported/.test(m) || m.includes(backend.prefill) || m.includes(backend.decode);
}

/** A backend the ready event marks as anything but "ok": its reason, else null. */
export function unavailableReason(ready: EngineClient["ready"], backend: BackendPair): string | null {
  const p = ready.backends.prefill[backend.prefill];
  const d = ready.backends.decode[backend.decode];
  if (p !== undefined && p !== "ok") return `prefill ${backend.prefill}: ${p}`;
  if (d !== undefined && d !== "ok") return `decode ${backend.decode}: ${d}`;
  return null;
}
