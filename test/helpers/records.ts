// Hand-made RequestRecords for metric tests.
import type { RequestRecord } from "../../src/results/schema.js";

export function rec(p: Partial<RequestRecord> & { chunks?: { t_ms: number; n: number }[] }): RequestRecord {
  const chunks = p.chunks ?? [];
  const out = chunks.reduce((a, c) => a + c.n, 0);
  return {
    i: 0,
    id: "r0",
    prompt_tokens: 10,
    max_tokens: 16,
    scheduled_ms: 0,
    sent_ms: 0,
    end_ms: chunks.length ? chunks[chunks.length - 1].t_ms : null,
    output_tokens: out,
    ok: true,
    finish: "length",
    error: null,
    engine: null,
    ...p,
    chunks,
  };
}
