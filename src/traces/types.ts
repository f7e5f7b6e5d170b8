// One request of a trace: when it arrives and how many tokens go in and come out.
// Every format is read into this shape by its own reader; nothing else knows the formats.

export interface TraceRequest {
  /** Arrival time in seconds since the trace's first request (the first is 0). */
  t_s: number;
  input_tokens: number;
  output_tokens: number;
  /** Mooncake / Qwen traces: one id per block of the prompt; equal leading ids = a shared prefix. */
  hash_ids?: number[];
}

export type TimestampUnit = "ms" | "s";

export interface ReadOptions {
  /** Mooncake only: override the timestamp unit auto-detection. */
  timestampUnit?: TimestampUnit;
  /** Mooncake only: tokens per hash id (default: from the trace, else 512; traces/hash-ids.ts). */
  blockSize?: number;
}

export interface TraceReader {
  format: "jsonl" | "azure" | "mooncake";
  /** Parse a whole file's text. `file` is used in error messages only. Throws TraceError. */
  parse(text: string, file: string, opts?: ReadOptions): TraceRequest[];
}

/** A problem in a trace file, naming the file and (1-based) line. */
export class TraceError extends Error {
  constructor(readonly file: string, readonly line: number | null, detail: string) {
    super(line === null ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
    this.name = "TraceError";
  }
}

/** Split into lines tolerating CRLF and a missing trailing newline; keeps 1-based line numbers. */
export function splitLines(text: string): { line: number; text: string }[] {
  const raw = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  return raw.map((t, i) => ({ line: i + 1, text: t.replace(/\r$/, "") })).filter((l) => l.text.trim() !== "");
}

/** A positive integer token count, or a TraceError naming the column. */
export function tokenCount(value: unknown, column: string, file: string, line: number): number {
  // Strings must be plain decimal digits: Number() would also take "1e3", "0x10" or "12.0".
  const n = typeof value === "string" ? (/^\s*\d+\s*$/.test(value) ? Number(value.trim()) : NaN) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw new TraceError(file, line, `${column} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Make times relative to the first request, checking order and sign. `times` are in seconds. */
export function relativeTimes(times: number[], lines: number[], file: string): number[] {
  if (times.length === 0) throw new TraceError(file, null, "empty trace: no requests");
  for (let i = 0; i < times.length; i++) {
    if (!Number.isFinite(times[i])) throw new TraceError(file, lines[i], `timestamp is not a finite number`);
    if (i > 0 && times[i] < times[i - 1])
      throw new TraceError(file, lines[i], `timestamps not sorted: ${times[i]} comes after ${times[i - 1]}`);
    if (times[i] < 0) throw new TraceError(file, lines[i], `negative timestamp ${times[i]}`);
  }
  const t0 = times[0];
  return times.map((t) => t - t0);
}
