// Start an engine from parsed CLI options (shared by serve, generate and bench offline).
import { existsSync } from "node:fs";
import { EngineClient, EngineStartError } from "./client.js";
import { engineArgs, isBackendRefusal as refusalMessage, unavailableReason as unavailableIn, type BackendPair, type EngineFlags } from "./args.js";
import { resolveEnginePath } from "../core/paths.js";

export async function startEngine(
  o: EngineFlags & { engine?: string; readyTimeoutS: number },
  backend?: BackendPair,
  onLog?: (line: string) => void,
): Promise<EngineClient> {
  const path = resolveEnginePath(o.engine);
  if (!existsSync(path))
    throw new EngineStartError(`engine binary not found at ${path} (build it with bash scripts/build-engine.sh, or pass --engine / set ATTNBENCH_ENGINE)`, false);
  return EngineClient.start({ path, args: engineArgs(o, backend), readyTimeoutMs: o.readyTimeoutS * 1000, onLog });
}

/** Did the engine refuse this backend (as opposed to failing for another reason)? */
export function isBackendRefusal(err: unknown, backend: BackendPair): boolean {
  return err instanceof EngineStartError && err.fatal && refusalMessage(err.message, backend);
}

/** A backend the ready event marks as anything but "ok": its reason, else null. */
export function unavailableReason(ready: EngineClient["ready"], backend: BackendPair): string | null {
  return unavailableIn(ready.backends, backend);
}
