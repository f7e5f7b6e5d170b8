// Typed, zod-validated view of the engine's JSON-lines protocol (docs/protocol.md).
import { z } from "zod";

const backendMap = z.record(z.string(), z.string());

export const ReadyEventSchema = z
  .object({
    ev: z.literal("ready"),
    t_ns: z.number().optional(),
    model: z
      .object({
        name: z.string(),
        n_ctx: z.number().int().positive(),
        vocab_size: z.number().int().positive(),
        eos_token_id: z.number().int().nullable().optional(),
      })
      .passthrough(),
    device: z
      .object({ kind: z.string(), name: z.string(), dtype: z.string(), driver: z.string().nullable().optional(), cuda: z.string().nullable().optional() })
      .passthrough(),
    backends: z.object({ prefill: backendMap, decode: backendMap }).passthrough(),
    config: z.record(z.string(), z.unknown()),
    version: z.string().optional(),
  })
  .passthrough();
export type ReadyEvent = z.infer<typeof ReadyEventSchema>;

export const TokEventSchema = z.object({
  ev: z.literal("tok"),
  id: z.string(),
  tokens: z.array(z.number().int()),
  t_ns: z.number(),
  logprobs: z.array(z.number()).optional(),
  /** Per token: its top_logprobs alternatives as [token id, logprob], best first. */
  top_logprobs: z.array(z.array(z.tuple([z.number().int(), z.number()]))).optional(),
});
export type TokEvent = z.infer<typeof TokEventSchema>;

export const DoneEventSchema = z.object({
  ev: z.literal("done"),
  id: z.string(),
  finish: z.enum(["length", "stop", "abort", "error"]),
  prompt_tokens: z.number().int().nonnegative().optional(),
  output_tokens: z.number().int().nonnegative().optional(),
  t_ns: z.number().optional(),
  error: z.string().optional(),
  preemptions: z.number().int().optional(),
  /** Prompt tokens served from the engine's prefix cache (present for admitted requests). */
  cached_tokens: z.number().int().nonnegative().optional(),
});
export type DoneEvent = z.infer<typeof DoneEventSchema>;

export const ErrorEventSchema = z.object({
  ev: z.literal("error"),
  code: z.string().optional(),
  id: z.string().optional(),
  message: z.string(),
});
export type ErrorEvent = z.infer<typeof ErrorEventSchema>;

export const StatsEventSchema = z
  .object({
    ev: z.literal("stats"),
    t_ns: z.number().optional(),
    kv_blocks_total: z.number().optional(),
    kv_blocks_free: z.number().optional(),
    running: z.number().optional(),
    waiting: z.number().optional(),
    steps: z.number().optional(),
    preemptions: z.number().optional(),
    finished: z.number().optional(),
    prefix_cache_hit_tokens: z.number().optional(),
    prefix_cache_miss_tokens: z.number().optional(),
    prefix_cache_evicted_blocks: z.number().optional(),
    kv_blocks_cached: z.number().optional(),
  })
  .passthrough();
export type StatsEvent = z.infer<typeof StatsEventSchema>;

export const FatalEventSchema = z.object({ ev: z.literal("fatal"), message: z.string() });
export const ByeEventSchema = z.object({ ev: z.literal("bye"), t_ns: z.number().optional() });

/** The `add` op. Optional fields left out take the engine's defaults. */
export interface AddOp {
  id: string;
  prompt: number[];
  max_tokens: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  ignore_eos?: boolean;
  stop_token_ids?: number[];
  logprobs?: boolean;
  /** k most likely alternatives per token (k <= 20), under the unmodified distribution. */
  top_logprobs?: number;
}

export type ParsedEvent =
  | { kind: "ready"; ev: ReadyEvent }
  | { kind: "tok"; ev: TokEvent }
  | { kind: "done"; ev: DoneEvent }
  | { kind: "error"; ev: ErrorEvent }
  | { kind: "stats"; ev: StatsEvent }
  | { kind: "fatal"; message: string }
  | { kind: "bye" }
  | { kind: "invalid"; line: string; problem: string };

/** One stdout line -> a typed event, or "invalid" with the reason (never throws). */
export function parseEventLine(line: string): ParsedEvent {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { kind: "invalid", line, problem: "not JSON" };
  }
  const ev = (obj as { ev?: unknown })?.ev;
  const pick = <T>(schema: z.ZodType<T>): { ok: true; v: T } | { ok: false; problem: string } => {
    const r = schema.safeParse(obj);
    return r.success ? { ok: true, v: r.data } : { ok: false, problem: r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
  };
  const bad = (problem: string): ParsedEvent => ({ kind: "invalid", line, problem });
  // `tok` is the hot path (one line per request per engine step; thousands per second on a GPU):
  // checked by hand, which is ~5x cheaper than zod and as strict.
  if (ev === "tok") return isTok(obj) ? { kind: "tok", ev: obj } : bad("tok: needs id string, tokens int[], t_ns number");
  switch (ev) {
    case "ready": { const r = pick(ReadyEventSchema); return r.ok ? { kind: "ready", ev: r.v } : bad(r.problem); }
    case "done": { const r = pick(DoneEventSchema); return r.ok ? { kind: "done", ev: r.v } : bad(r.problem); }
    case "error": { const r = pick(ErrorEventSchema); return r.ok ? { kind: "error", ev: r.v } : bad(r.problem); }
    case "stats": { const r = pick(StatsEventSchema); return r.ok ? { kind: "stats", ev: r.v } : bad(r.problem); }
    case "fatal": { const r = pick(FatalEventSchema); return r.ok ? { kind: "fatal", message: r.v.message } : bad(r.problem); }
    case "bye": return { kind: "bye" };
    default: return bad(`unknown event ${JSON.stringify(ev)}`);
  }
}

/** TokEventSchema, by hand (see parseEventLine). */
function isTok(o: any): o is TokEvent {
  if (typeof o.id !== "string" || typeof o.t_ns !== "number" || !Array.isArray(o.tokens)) return false;
  for (const t of o.tokens) if (!Number.isInteger(t)) return false;
  if (o.logprobs !== undefined) {
    if (!Array.isArray(o.logprobs)) return false;
    for (const l of o.logprobs) if (typeof l !== "number") return false;
  }
  if (o.top_logprobs !== undefined) {
    if (!Array.isArray(o.top_logprobs)) return false;
    for (const alts of o.top_logprobs) {
      if (!Array.isArray(alts)) return false;
      for (const p of alts) if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0]) || typeof p[1] !== "number") return false;
    }
  }
  return true;
}
