// The project's own trace format (docs/traces.md): one {"t_s","input_tokens","output_tokens"} per line.
import { z } from "zod";
import { relativeTimes, splitLines, TraceError, type TraceReader, type TraceRequest } from "./types.js";

const LineSchema = z.object({
  t_s: z.number().finite(),
  input_tokens: z.number().int().positive(),
  output_tokens: z.number().int().positive(),
});

export const jsonlReader: TraceReader = {
  format: "jsonl",
  parse(text, file) {
    const rows: Omit<TraceRequest, "t_s">[] = [];
    const times: number[] = [];
    const lineNos: number[] = [];
    for (const { line, text: t } of splitLines(text)) {
      let obj: unknown;
      try {
        obj = JSON.parse(t);
      } catch {
        throw new TraceError(file, line, "not valid JSON");
      }
      const r = LineSchema.safeParse(obj);
      if (!r.success) {
        const issue = r.error.issues[0];
        throw new TraceError(file, line, `${issue.path.join(".") || "line"}: ${issue.message}`);
      }
      times.push(r.data.t_s);
      lineNos.push(line);
      rows.push({ input_tokens: r.data.input_tokens, output_tokens: r.data.output_tokens });
    }
    const rel = relativeTimes(times, lineNos, file);
    return rows.map((r, i) => ({ t_s: rel[i], ...r }));
  },
};
