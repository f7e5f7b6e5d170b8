// Short human labels for a results file's meta, shared by figure titles and markdown summaries.
import type { Meta } from "../results/schema.js";

export function modelName(meta: Meta): string {
  const m = meta.model;
  for (const key of ["name", "preset", "id", "path"]) {
    const v = m[key];
    if (typeof v === "string" && v.length > 0) return v;
  }
  return "model?";
}

export function deviceName(meta: Meta): string {
  return `${meta.device.name} (${meta.device.dtype})`;
}

export function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** "0.123" style with sensible significant digits for latencies and throughputs. */
export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 10) return value.toFixed(2);
  return value.toFixed(digits);
}

export function fmtRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${value.toFixed(3)}x`;
}

export function metaLines(meta: Meta): string[] {
  return [
    `- tool: attnbench ${meta.tool_version}, git ${meta.git_sha ?? "unknown"}, node ${meta.node_version}`,
    `- device: ${meta.device.name} (${meta.device.kind}, ${meta.device.dtype}), driver ${meta.device.driver ?? "–"}, CUDA ${meta.device.cuda ?? "–"}`,
    `- model: ${modelName(meta)}`,
    `- engine flags: \`${meta.engine_flags.join(" ") || "(none)"}\``,
    `- host: ${meta.host}; started ${meta.started_at}, ended ${meta.ended_at ?? "–"}, wall ${fmt(meta.wall_s)} s`,
    `- command: \`${meta.command}\``,
  ];
}

/**
 * Short names for two files that stay distinct: "a.json" / "b.json", or with as many parent folders
 * as it takes when both are called online_results.json.
 */
export function distinctNames(a: string, b: string): [string, string] {
  const pa = a.split(/[\\/]/).filter(Boolean);
  const pb = b.split(/[\\/]/).filter(Boolean);
  for (let k = 1; k <= Math.max(pa.length, pb.length); k++) {
    const [na, nb] = [pa.slice(-k).join("/"), pb.slice(-k).join("/")];
    if (na !== nb) return [na, nb];
  }
  return [a, b];
}
