// One choice of a completion: submits its engine request, turns tokens into text as they arrive
// (incrementally, whole characters only), applies stop strings, and reports each step and the end.
//
// Stop strings: the text that could still be the start of a stop string (up to the longest one's
// length - 1 characters) is held back; when a stop string appears, the text before it is the last
// text sent, the engine request is aborted, and later tokens are dropped. finish_reason is "stop"
// and `stopReason` the matched string, as vLLM reports it.
import type { EngineClient } from "../engine/client.js";
import type { AddOp, DoneEvent } from "../engine/events.js";
import { IncrementalDecoder } from "../tokenizer/incremental.js";
import type { TextTokenizer } from "../tokenizer/types.js";

export type TopPairs = [number, number][];

export interface ChoiceStep {
  tokens: number[];
  logprobs: number[];
  top: TopPairs[];
  /** Text these tokens completed (may be "" while held back). */
  text: string;
  t_ns: number;
}

export interface ChoiceHandlers {
  onStep?(c: ChoiceRun, step: ChoiceStep): void;
  /** Exactly once; `tail` is text released at the end (held-back characters). */
  onEnd(c: ChoiceRun, tail: string): void;
}

export class ChoiceRun {
  readonly tokens: number[] = [];
  readonly logprobs: number[] = [];
  readonly tops: TopPairs[] = [];
  /** All text released so far (stop-truncated). */
  text = "";
  done: DoneEvent | null = null;
  stopReason: string | number | null = null;
  private held = "";
  private stopped = false;
  private readonly decoder: IncrementalDecoder | null;
  private readonly holdBack: number;

  constructor(
    readonly index: number,
    readonly op: AddOp,
    tokenizer: TextTokenizer | null,
    private readonly stops: string[],
    /** The request's own stop_token_ids (reported as stop_reason; the EOS is not). */
    private readonly userStopIds: readonly number[] = [],
  ) {
    this.decoder = tokenizer ? new IncrementalDecoder(tokenizer) : null;
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  get finishReason(): string {
    const d = this.done;
    if (this.stopped) return "stop";
    if (!d) return "abort";
    return d.finish;
  }

  start(engine: EngineClient, h: ChoiceHandlers): void {
    engine.submit(this.op, {
      onTok: (ev) => {
        if (this.stopped) return; // arrived before our abort did
        this.tokens.push(...ev.tokens);
        if (ev.logprobs) this.logprobs.push(...ev.logprobs);
        if (ev.top_logprobs) this.tops.push(...ev.top_logprobs);
        const text = this.release(this.decoder ? this.decoder.push(ev.tokens) : "", false);
        if (this.stopped) engine.abort(this.op.id);
        h.onStep?.(this, { tokens: ev.tokens, logprobs: ev.logprobs ?? [], top: ev.top_logprobs ?? [], text, t_ns: ev.t_ns });
      },
      onDone: (d) => {
        this.done = d;
        const tail = this.stopped ? "" : this.release(this.decoder ? this.decoder.flush() : "", true);
        if (!this.stopped) {
          const last = this.tokens[this.tokens.length - 1];
          this.stopReason = d.finish === "stop" && last !== undefined && this.userStopIds.includes(last) ? last : null;
        }
        h.onEnd(this, tail);
      },
    });
  }

  /** New text -> what may be sent now, holding back a possible stop-string prefix (none at the end). */
  private release(newText: string, final: boolean): string {
    const buf = this.held + newText;
    let cut = -1;
    for (const s of this.stops) {
      const at = buf.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        this.stopReason = s;
      }
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = "";
      const out = buf.slice(0, cut);
      this.text += out;
      return out;
    }
    let keep = final ? 0 : Math.min(buf.length, this.holdBack);
    // Never split a surrogate pair between what is sent and what is held.
    const at = buf.length - keep;
    if (keep > 0 && at > 0 && /[\uDC00-\uDFFF]/.test(buf[at])) keep++;
    const out = buf.slice(0, buf.length - keep);
    this.held = buf.slice(buf.length - keep);
    this.text += out;
    return out;
  }
}

/** Abort every unfinished choice (the client went away). */
export function abortAll(engine: EngineClient, runs: readonly ChoiceRun[]): void {
  for (const c of runs) if (!c.done) engine.abort(c.op.id);
}

/** OpenAI usage; with prefix caching, prompt_tokens_details.cached_tokens as OpenAI and vLLM report it. */
export function usageOf(runs: readonly ChoiceRun[], promptTokens: number, prefixCaching = false) {
  const completion = runs.reduce((a, c) => a + c.tokens.length, 0);
  const usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; prompt_tokens_details?: { cached_tokens: number } } = {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
  };
  if (prefixCaching) usage.prompt_tokens_details = { cached_tokens: runs.reduce((a, c) => a + (c.done?.cached_tokens ?? 0), 0) };
  return usage;
}
