import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The traces shipped in the repo (traces/README.md). */
export const TRACES = join(REPO_ROOT, "traces");
export const FAKE_ENGINE = join(REPO_ROOT, "test", "helpers", "fake-engine.mjs");
export const REAL_ENGINE = process.env.ATTNBENCH_ENGINE ?? join(REPO_ROOT, "native", "build", "attnbench-engine");
export const BIN = join(REPO_ROOT, "bin", "attnbench.js");

/** Why a test that needs the native engine cannot run (undefined when it can). */
export function realEngineMissing(): string | undefined {
  return existsSync(REAL_ENGINE) ? undefined : `native engine not built at ${REAL_ENGINE} (run bash scripts/build-engine.sh)`;
}
