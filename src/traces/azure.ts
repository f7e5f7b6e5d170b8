// Azure LLM inference trace CSV: TIMESTAMP,ContextTokens,GeneratedTokens with wall-clock timestamps
// "YYYY-MM-DD HH:MM:SS.fffffff" (100 ns ticks, no zone: the 2023 release). Later releases write
// other fraction lengths and a zone ("2024-05-10 00:00:00.009930+00:00"), so 0-9 fraction digits
// (kept to 100 ns) and an optional Z / +HH:MM / -HHMM are accepted, and quoted cells are unquoted.
// Only differences are used, computed as whole seconds + ticks so that 100 ns resolution survives
// (ticks since 1970 overflow 2^53).
import { relativeTimes, splitLines, tokenCount, TraceError, type TraceReader } from "./types.js";

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;
const COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"] as const;

/** [whole seconds since the epoch (UTC assumed; only differences matter), ticks of 100 ns]. */
export function parseAzureTimestamp(s: string): [number, number] | null {
  const m = STAMP.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec);
  if (Number.isNaN(ms)) return null;
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return [ms / 1000, Number((frac ?? "").slice(0, 7).padEnd(7, "0"))];
}

function unquote(cell: string): string {
  const c = cell.trim();
  return c.length >= 2 && c.startsWith('"') && c.endsWith('"') ? c.slice(1, -1) : c;
}

export const azureReader: TraceReader = {
  format: "azure",
  parse(text, file) {
    const lines = splitLines(text);
    if (lines.length === 0) throw new TraceError(file, null, "empty trace: no header");
    const header = lines[0].text.split(",").map(unquote);
    const idx = COLUMNS.map((c) => header.indexOf(c));
    const missing = COLUMNS.filter((_, i) => idx[i] < 0);
    if (missing.length) throw new TraceError(file, lines[0].line, `missing column(s) ${missing.join(", ")} in header`);
    const rows = lines.slice(1);
    if (rows.length === 0) throw new TraceError(file, null, "empty trace: header only");
    const secs: number[] = [];
    const ticks: number[] = [];
    const lineNos: number[] = [];
    const counts: [number, number][] = [];
    for (const { line, text: t } of rows) {
      const cells = t.split(",").map(unquote);
      if (cells.length < header.length)
        throw new TraceError(file, line, `expected ${header.length} columns, got ${cells.length}`);
      const stamp = parseAzureTimestamp(cells[idx[0]]);
      if (!stamp) throw new TraceError(file, line, `TIMESTAMP ${JSON.stringify(cells[idx[0]])} is not YYYY-MM-DD HH:MM:SS.fffffff`);
      secs.push(stamp[0]);
      ticks.push(stamp[1]);
      lineNos.push(line);
      counts.push([
        tokenCount(cells[idx[1]], "ContextTokens", file, line),
        tokenCount(cells[idx[2]], "GeneratedTokens", file, line),
      ]);
    }
    const s0 = secs[0];
    const k0 = ticks[0];
    // Relative to the first row; a row earlier than the first shows up as unsorted.
    const times = secs.map((s, i) => s - s0 + (ticks[i] - k0) / 1e7);
    const rel = relativeTimes(times, lineNos, file);
    return rel.map((t_s, i) => ({ t_s, input_tokens: counts[i][0], output_tokens: counts[i][1] }));
  },
};
