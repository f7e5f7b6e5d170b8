// Run metadata: what was run, where, on what, so a results file explains itself.
import { hostname } from "node:os";
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import type { Meta } from "./schema.js";
import type { ReadyEvent } from "../engine/events.js";
import { PACKAGE_ROOT, toolVersion } from "../core/paths.js";
import { fingerprint, type WorkloadKey } from "./fingerprint.js";

/**
 * The commit measured: $ATTNBENCH_GIT_SHA (set it when running from an exported tree), else the
 * checkout's HEAD -- but only when the package root is that checkout's top level. An exported copy
 * (git archive, the air-gapped bundle) nested inside some other repository must not report the
 * outer repository's HEAD: then it is unknown (null).
 */
export function gitSha(): string | null {
  const env = process.env.ATTNBENCH_GIT_SHA?.trim();
  if (env) return env;
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    if (realpathSync(git("rev-parse", "--show-toplevel")) !== realpathSync(PACKAGE_ROOT)) return null;
    return git("rev-parse", "HEAD") || null;
  } catch {
    return null;
  }
}

export function commandLine(argv = process.argv): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ["attnbench", ...argv.slice(2)].map(quote).join(" ");
}

export interface MetaInput {
  startedAt: Date;
  ready: ReadyEvent | null;
  /** When there is no engine (--endpoint): what we know about the device and model. */
  fallbackDevice?: Meta["device"];
  fallbackModel?: Record<string, unknown>;
  engineFlags: string[];
  workload: WorkloadKey;
}

/** The engine's experiment switches from its ready event (config.experiments: name -> value); none
 *  where the ready config is not known (an --endpoint server, or a ready without config). */
export function engineEnv(ready: Pick<ReadyEvent, "config"> | Partial<Pick<ReadyEvent, "config">> | null): Record<string, string> {
  const x = ready?.config?.experiments;
  if (!x || typeof x !== "object" || Array.isArray(x)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) out[k] = String(v);
  return out;
}

export function buildMeta(m: MetaInput): Meta {
  const device = m.ready
    ? { kind: m.ready.device.kind, name: m.ready.device.name, dtype: m.ready.device.dtype, driver: m.ready.device.driver ?? null, cuda: m.ready.device.cuda ?? null }
    : (m.fallbackDevice ?? { kind: "unknown", name: "unknown", dtype: "unknown", driver: null, cuda: null });
  const model = m.ready ? { ...m.ready.model } : (m.fallbackModel ?? {});
  const engine_env = engineEnv(m.ready);
  return {
    tool: "attnbench",
    tool_version: toolVersion(),
    git_sha: gitSha(),
    command: commandLine(),
    started_at: m.startedAt.toISOString(),
    ended_at: null,
    wall_s: null,
    host: hostname(),
    node_version: process.version,
    device,
    model,
    engine_flags: m.engineFlags,
    engine_env,
    fingerprint: fingerprint({ device, model, engineFlags: m.engineFlags, engineEnv: engine_env, workload: m.workload }),
  };
}

/** Stamp the end of the run (called before every rewrite, so partial files carry it too). */
export function finishMeta(meta: Meta, startedAt: Date, now = new Date()): Meta {
  return { ...meta, ended_at: now.toISOString(), wall_s: (now.getTime() - startedAt.getTime()) / 1000 };
}
