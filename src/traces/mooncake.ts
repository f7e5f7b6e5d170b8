// Mooncake / Qwen trace JSONL: {"timestamp", "input_length", "output_length", "hash_ids"} per line
// (kvcache-ai/Mooncake FAST25-release/traces; other fields are ignored). Timestamp unit
// auto-detection (docs/traces.md): all-integer timestamps are milliseconds (the published Mooncake
// traces), any fractional value means seconds. --timestamp-unit overrides it. `hash_ids` (one id per
// block of the prompt, traces/hash-ids.ts) are kept for prefix replay.
import { relativeTimes, splitLines, tokenCount, TraceError, type TimestampUnit, type TraceReader } from "./types.js";

export function detectTimestampUnit(stamps: readonly number[]): TimestampUnit {
  return stamps.every((t) => Number.isInteger(t)) ? "ms" : "s";
}

export const mooncakeReader: TraceReader = {
  format: "mooncake",
  parse(text, file, opts) {
    const stamps: number[] = [];
    const lineNos: number[] = [];
    const counts: [number, number][] = [];
    const hashes: (number[] | undefined)[] = [];
    for (const { line, text: t } of splitLines(text)) {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(t);
      } catch {
        throw new TraceError(file, line, "not valid JSON");
      }
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new TraceError(file, line, "not a JSON object");
      for (const key of ["timestamp", "input_length", "output_length"])
        if (!(key in obj)) throw new TraceError(file, line, `missing field ${key}`);
      if (typeof obj.timestamp !== "number" || !Number.isFinite(obj.timestamp))
        throw new TraceError(file, line, `timestamp must be a number, got ${JSON.stringify(obj.timestamp)}`);
      let hashIds: number[] | undefined;
      if ("hash_ids" in obj && obj.hash_ids !== null) {
        if (!Array.isArray(obj.hash_ids)) throw new TraceError(file, line, "hash_ids must be an array");
        const bad = obj.hash_ids.findIndex((h) => typeof h !== "number" || !Number.isSafeInteger(h) || h < 0);
        if (bad >= 0) throw new TraceError(file, line, `hash_ids[${bad}] must be an integer >= 0, got ${JSON.stringify(obj.hash_ids[bad])}`);
        hashIds = obj.hash_ids as number[];
      }
      hashes.push(hashIds);
      stamps.push(obj.timestamp);
      lineNos.push(line);
      counts.push([
        tokenCount(obj.input_length, "input_length", file, line),
        tokenCount(obj.output_length, "output_length", file, line),
      ]);
    }
    const unit = opts?.timestampUnit ?? detectTimestampUnit(stamps);
    const rel = relativeTimes(unit === "ms" ? stamps.map((t) => t / 1000) : stamps, lineNos, file);
    return rel.map((t_s, i) => ({ t_s, input_tokens: counts[i][0], output_tokens: counts[i][1], ...(hashes[i] ? { hash_ids: hashes[i] } : {}) }));
  },
};
