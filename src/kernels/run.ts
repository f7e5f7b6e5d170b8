// Produces the two input files: runs attnbench-kernels and scripts/gpu/kernel_anchors.py (GPU host),
// or reads them from a folder / explicit paths (--from), then merges, writes and renders.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { UsageError } from "../cli/errors.js";
import { PACKAGE_ROOT } from "../core/paths.js";
import { renderKernelsChart } from "./chart.js";
import { mergeKernels } from "./merge.js";
import { AnchorFileSchema, NativeFileSchema, type AnchorFile, type KernelsReport, type NativeFile } from "./schema.js";

export interface KernelsRunOptions {
  from?: string[];
  bench?: string;
  python: string;
  quick: boolean;
  /** GPU time of one timed batch of back-to-back calls, both measurers (0: one call a timing). */
  batchMs?: number;
  /** Only the shapes whose name contains this, both measurers. */
  shape?: string;
  out?: string;
  now?: Date;
}

export function defaultKernelsDir(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return join("outputs", `kernels_${ts}`);
}

/** Reads a JSON file as native or anchors by its schema tag. */
export function readKernelsFile(path: string): { native?: NativeFile; anchors?: AnchorFile } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError([`${path}: not readable JSON (${(err as Error).message})`]);
  }
  const tag = (raw as { schema?: unknown })?.schema;
  if (tag === "attnbench.kernels.native/1") return { native: NativeFileSchema.parse(raw) };
  if (tag === "attnbench.kernels.anchors/1") return { anchors: AnchorFileSchema.parse(raw) };
  throw new UsageError([`${path}: schema ${JSON.stringify(tag)} is neither attnbench.kernels.native/1 nor attnbench.kernels.anchors/1`]);
}

/** --from accepts files and folders (a folder contributes its *.json files of either kind). */
export function loadInputs(paths: string[]): { native: NativeFile | null; anchors: AnchorFile | null } {
  let native: NativeFile | null = null, anchors: AnchorFile | null = null;
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new UsageError([`--from ${p}: no such file or folder`]);
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (f.endsWith(".json") && f !== "kernels.json") files.push(join(p, f));
    } else files.push(p);
  }
  for (const f of files) {
    let got: ReturnType<typeof readKernelsFile>;
    try {
      got = readKernelsFile(f);
    } catch (err) {
      if (paths.includes(f)) throw err;
      continue;  // other JSON files in a folder are not ours
    }
    native = got.native ?? native;
    anchors = got.anchors ?? anchors;
  }
  if (!native && !anchors) throw new UsageError([`--from ${paths.join(" ")}: found neither attnbench-kernels nor anchors JSON`]);
  return { native, anchors };
}

async function measure(opts: KernelsRunOptions, dir: string): Promise<{ native: NativeFile | null; anchors: AnchorFile | null }> {
  const bench = opts.bench ?? join(PACKAGE_ROOT, "native", "build", "attnbench-kernels");
  if (!existsSync(bench)) throw new UsageError([`--bench ${bench}: not found (build with scripts/gpu/kernels-check.sh, or pass --from)`]);
  const extra = opts.quick ? ["--quick"] : [];
  if (opts.batchMs !== undefined) extra.push("--batch-ms", String(opts.batchMs));
  if (opts.shape !== undefined) extra.push("--shape", opts.shape);
  const nativePath = join(dir, "kernels_native.json"), anchorsPath = join(dir, "kernels_anchors.json");
  await execa(bench, ["--json", nativePath, ...extra], { stdout: "inherit", stderr: "inherit", reject: false });
  await execa(opts.python, [join(PACKAGE_ROOT, "scripts", "gpu", "kernel_anchors.py"), "--json", anchorsPath, ...extra], {
    stdout: "inherit", stderr: "inherit", reject: false,
  });
  const present = [nativePath, anchorsPath].filter((p) => existsSync(p));
  if (!present.length) throw new Error("neither attnbench-kernels nor the anchors wrote their JSON");
  return loadInputs(present);
}

export async function runKernels(opts: KernelsRunOptions): Promise<{ report: KernelsReport; written: string[] }> {
  const dir = opts.out ?? defaultKernelsDir(opts.now);
  await mkdir(dir, { recursive: true });
  const inputs = opts.from?.length ? loadInputs(opts.from) : await measure(opts, dir);
  const report = mergeKernels(inputs.native, inputs.anchors, opts.now);
  const jsonPath = join(dir, "kernels.json");
  await writeFile(jsonPath, JSON.stringify(report, null, 1) + "\n");
  const figures = await renderKernelsChart(report, dir);
  return { report, written: [jsonPath, ...figures] };
}
