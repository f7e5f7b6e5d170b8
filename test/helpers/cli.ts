// Run the real CLI (bin/attnbench.js) as a child process.
import { execa } from "execa";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, REPO_ROOT } from "./paths.js";

/** Tests run several benches at once on a 2-core CI machine, where the load generator is sometimes
 *  late by more than 50 ms: a run marked invalid for that exits 1, which is right but not what these
 *  tests are about (lateness is tested on summaries, test/metrics.test.ts). Pass the variable to
 *  override. */
export const TEST_ENV = { ATTNBENCH_MAX_LATENESS_MS: "10000" };

export async function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000) {
  return execa(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...TEST_ENV, ...env }, reject: false, timeout: timeoutMs, all: false });
}

export function tmpOut(prefix = "attnbench-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The one results file a bench run wrote under outDir (kind: online|offline). */
export function readResults(outDir: string, kind: "online" | "offline"): any {
  const dir = readdirSync(outDir).find((d) => d.startsWith(`${kind}_`));
  if (!dir) throw new Error(`no ${kind}_* folder in ${outDir}`);
  return JSON.parse(readFileSync(join(outDir, dir, `${kind}_results.json`), "utf8"));
}
