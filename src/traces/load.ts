// Read a trace from disk (or make a synthetic one): pick the reader, hash the bytes.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { azureReader } from "./azure.js";
import { jsonlReader } from "./jsonl.js";
import { mooncakeReader } from "./mooncake.js";
import { syntheticTrace, type SyntheticOptions } from "./synthetic.js";
import { chooseBlockSize, type BlockSizeChoice } from "./hash-ids.js";
import { TraceError, type ReadOptions, type TraceReader, type TraceRequest } from "./types.js";

export const TRACE_FORMATS = ["auto", "jsonl", "azure", "mooncake"] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];
const READERS: Record<Exclude<TraceFormat, "auto">, TraceReader> = {
  jsonl: jsonlReader,
  azure: azureReader,
  mooncake: mooncakeReader,
};

export interface LoadedTrace {
  path: string;
  format: string;
  sha256: string;
  requests: TraceRequest[];
  /** Traces with hash_ids: the block size each id stands for (null: no hash_ids). */
  hashBlocks?: BlockSizeChoice | null;
}

/** Guess the format from the first non-empty line (header or JSON keys), then the extension. */
export function detectFormat(text: string, file: string): Exclude<TraceFormat, "auto"> {
  const first = text.replace(/^\uFEFF/, "").split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  if (first.trim().startsWith("{")) {
    try {
      const obj = JSON.parse(first);
      if ("t_s" in obj) return "jsonl";
      if ("timestamp" in obj || "input_length" in obj) return "mooncake";
    } catch {
      /* fall through to the extension */
    }
  }
  if (/ContextTokens|GeneratedTokens|^TIMESTAMP/.test(first)) return "azure";
  if (file.endsWith(".csv")) return "azure";
  throw new TraceError(file, null, "cannot tell the trace format; pass --trace-format jsonl|azure|mooncake");
}

export function parseTrace(text: string, file: string, format: TraceFormat = "auto", opts?: ReadOptions): { format: string; requests: TraceRequest[] } {
  const f = format === "auto" ? detectFormat(text, file) : format;
  return { format: f, requests: READERS[f].parse(text, file, opts) };
}

export function loadTraceFile(path: string, format: TraceFormat = "auto", opts?: ReadOptions): LoadedTrace {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new TraceError(path, null, `cannot read: ${(err as Error).message}`);
  }
  const { format: f, requests } = parseTrace(bytes.toString("utf8"), path, format, opts);
  const hashBlocks = chooseBlockSize(requests, opts?.blockSize);
  return { path, format: f, sha256: createHash("sha256").update(bytes).digest("hex"), requests, hashBlocks };
}

/** A synthetic trace's "sha256" hashes its parameters, so equal workloads fingerprint equal. */
export function loadSynthetic(o: SyntheticOptions): LoadedTrace {
  const requests = syntheticTrace(o);
  const sha256 = createHash("sha256").update(JSON.stringify(o)).digest("hex");
  return { path: `synthetic:${o.kind}`, format: "synthetic", sha256, requests };
}
