// Results files are validated against the schema and replaced atomically (write tmp + rename),
// so a reader (or a crash, or Ctrl-C) never sees half a file.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ZodType } from "zod";

export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 1) + "\n");
  renameSync(tmp, path);
}

/** Validate, then write; a schema failure is a bug in the harness and is thrown, not written. */
export function writeResults<T>(path: string, schema: ZodType<T>, value: T): void {
  const r = schema.safeParse(value);
  if (!r.success) {
    const lines = r.error.issues.slice(0, 10).map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`results do not match the schema (not written to ${path}):\n${lines.join("\n")}`);
  }
  writeJsonAtomic(path, r.data);
}

/** outputs/<kind>_<UTC timestamp> with ':' and '.' made filename-safe. */
export function runDirName(kind: "online" | "offline", now = new Date()): string {
  return `${kind}_${now.toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")}`;
}
