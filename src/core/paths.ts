// Where the package lives, so defaults work from any working directory (src/ via tsx or dist/).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** --engine, else $ATTNBENCH_ENGINE, else native/build/attnbench-engine under the package root. */
export function resolveEnginePath(flag?: string): string {
  if (flag) return resolve(flag);
  if (process.env.ATTNBENCH_ENGINE) return resolve(process.env.ATTNBENCH_ENGINE);
  return join(PACKAGE_ROOT, "native", "build", "attnbench-engine");
}

export const BIN_PATH = join(PACKAGE_ROOT, "bin", "attnbench.js");

/** The request traces shipped in the repo (traces/README.md): the default workload of `bench online`. */
export const TRACES_DIR = join(PACKAGE_ROOT, "traces");
export const DEFAULT_TRACE = join(TRACES_DIR, "AzureLLMInferenceTrace_conv.csv");

export function toolVersion(): string {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}
