// One backend's offline benchmark over an already started engine: warm-up, then per repeat submit
// every prompt at once and time first submit -> last token. Greedy with ignore_eos, so a request
// that does not produce exactly outputLen tokens makes its repeat invalid.
import { createHash } from "node:crypto";
import type { EngineClient } from "../engine/client.js";
import type { OfflineRun, RequestRecord } from "../results/schema.js";
import { median, offlineInvalidReason, repeatThroughput, type ScoredOutputs } from "../metrics/offline.js";

export interface OfflineWorkload {
  prompts: number[][];
  outputLen: number;
  repeats: number;
  warmupPrompts: number;
}

export interface OfflineOutcome {
  run: Omit<OfflineRun, "backend" | "status" | "reason">;
  /** Greedy output ids per prompt (from the first repeat), for cross-backend agreement. */
  outputs: number[][] | null;
  /** Greedy outputs with chosen-token logprobs from an untimed pass after the repeats (agreement detail). */
  scored: ScoredOutputs | null;
  /** Engine died during the run: its reason. */
  died: string | null;
}

/**
 * An untimed pass over every prompt with logprobs on, after the timed repeats (asking for logprobs
 * there could change what is timed). Same batch, same greedy decisions as the repeats.
 */
async function scoredPass(engine: EngineClient, w: OfflineWorkload): Promise<ScoredOutputs> {
  const runs = await Promise.all(
    w.prompts.map((prompt, i) =>
      engine.run({ id: `scored-${i}`, prompt, max_tokens: w.outputLen, temperature: 0, ignore_eos: true, logprobs: true }),
    ),
  );
  return { tokens: runs.map((r) => r.tokens), logprobs: runs.map((r) => r.logprobs) };
}

const ms = (t: bigint, t0: bigint) => Number(t - t0) / 1e6;

/** Submit every prompt at once; resolve when all are done. Times relative to the first submit. */
async function oneRepeat(engine: EngineClient, w: OfflineWorkload, tag: string, onDone?: () => void) {
  const t0 = process.hrtime.bigint();
  const t0n = Number(t0);
  const outputs: number[][] = [];
  let lastTok = t0;
  let lastTokEngineNs = 0;
  const records = await Promise.all(
    w.prompts.map(
      (prompt, i) =>
        new Promise<RequestRecord>((resolve) => {
          const chunks: { t_ms: number; n: number }[] = [];
          const tokens: number[] = [];
          let firstTokNs: number | null = null;
          let lastTokNs: number | null = null;
          const sent = process.hrtime.bigint();
          engine.submit(
            { id: `${tag}-${i}`, prompt, max_tokens: w.outputLen, temperature: 0, ignore_eos: true },
            {
              onTok: (ev) => {
                const now = process.hrtime.bigint();
                if (now > lastTok) lastTok = now;
                if (ev.t_ns > lastTokEngineNs) lastTokEngineNs = ev.t_ns;
                tokens.push(...ev.tokens);
                chunks.push({ t_ms: ms(now, t0), n: ev.tokens.length });
                firstTokNs ??= ev.t_ns;
                lastTokNs = ev.t_ns;
              },
              onDone: (d) => {
                outputs[i] = tokens;
                const ok = d.finish === "length" || d.finish === "stop";
                onDone?.();
                resolve({
                  i,
                  id: `${tag}-${i}`,
                  prompt_tokens: prompt.length,
                  max_tokens: w.outputLen,
                  scheduled_ms: 0,
                  sent_ms: ms(sent, t0),
                  chunks: chunks.filter((c) => c.n > 0),
                  end_ms: ms(process.hrtime.bigint(), t0),
                  output_tokens: tokens.length,
                  ok,
                  finish: d.finish,
                  error: ok ? null : (d.error ?? `finish=${d.finish}`),
                  engine: {
                    first_tok_ms: firstTokNs === null ? null : (firstTokNs - t0n) / 1e6,
                    last_tok_ms: lastTokNs === null ? null : (lastTokNs - t0n) / 1e6,
                    done_ms: d.t_ns === undefined ? null : (d.t_ns - t0n) / 1e6,
                  },
                });
              },
            },
          );
        }),
    ),
  );
  // The end is the engine's own timestamp of the last token (same CLOCK_MONOTONIC as ours), so the
  // time we take to read and parse its output is not counted; our arrival time is the fallback
  // when the engine's clock does not look shared (before t0 or after we saw the token).
  const harness_s = Number(lastTok - t0) / 1e9;
  const engine_s = (lastTokEngineNs - t0n) / 1e9;
  const wall_s = engine_s > 0 && engine_s <= harness_s + 1e-3 ? engine_s : harness_s;
  return { records, outputs, wall_s: Math.max(1e-9, wall_s) };
}

export function outputsSha256(outputs: number[][]): string {
  return createHash("sha256").update(JSON.stringify(outputs)).digest("hex");
}

/** Medians over the repeats done so far (also used for a run cut short by a signal). */
export function summarizeRepeats(run: OfflineOutcome["run"], outputs: number[][] | null): void {
  const med = (f: (x: (typeof run.repeats)[number]) => number) => median(run.repeats.map(f));
  run.wall_s = med((x) => x.wall_s);
  run.total_latency_s = run.wall_s;
  run.req_s = med((x) => x.req_s);
  run.output_tok_s = med((x) => x.output_tok_s);
  run.total_tok_s = med((x) => x.total_tok_s);
  run.outputs_sha256 = outputs ? outputsSha256(outputs) : null;
}

/** `onStart` receives the run object as it fills up, so an interrupted bench can save it. */
export async function runOffline(
  engine: EngineClient,
  w: OfflineWorkload,
  progress?: (phase: string, done: number, total: number) => void,
  onStart?: (run: OfflineOutcome["run"]) => void,
): Promise<OfflineOutcome> {
  const run: OfflineOutcome["run"] = {
    wall_s: null, req_s: null, output_tok_s: null, total_tok_s: null, total_latency_s: null,
    repeats: [], outputs_sha256: null, records: [], invalid: [],
  };
  onStart?.(run);
  let outputs: number[][] | null = null;
  const warm = { ...w, prompts: w.prompts.slice(0, Math.max(1, w.warmupPrompts)) };
  await oneRepeat(engine, warm, "warmup");
  if (!engine.alive) return { run, outputs, scored: null, died: engine.deathReason };
  for (let r = 0; r < w.repeats; r++) {
    let done = 0;
    const rep = await oneRepeat(engine, w, `rep${r}`, () => progress?.(`repeat ${r + 1}/${w.repeats}`, ++done, w.prompts.length));
    run.records.push(...rep.records);
    if (!engine.alive) {
      summarizeRepeats(run, null);
      return { run, outputs, scored: null, died: engine.deathReason };
    }
    const invalid = offlineInvalidReason(rep.records, w.outputLen);
    run.repeats.push({ ...repeatThroughput(rep.records, rep.wall_s), valid: invalid === null, invalid_reason: invalid });
    if (invalid) run.invalid.push(`repeat ${r + 1}: ${invalid}`);
    if (r === 0) outputs = rep.outputs;
  }
  summarizeRepeats(run, outputs);
  const scored = await scoredPass(engine, w);
  if (!engine.alive) return { run, outputs, scored: null, died: engine.deathReason };
  return { run, outputs, scored, died: null };
}
