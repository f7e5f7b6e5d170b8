// Run the real CLI (bin/attnbench.js) as a child process.
import { execa } from "execa";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, REPO_ROOT } from "./paths.js";

export async function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000) {
  return execa(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, reject: false, timeout: timeoutMs, all: false });
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
