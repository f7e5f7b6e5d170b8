// Running a request's choices and answering: all at once as one JSON body, or as SSE chunks while
// the engine produces them. Shared by /v1/completions and /v1/chat/completions, which only differ in
// the shape of a choice (stream shape below).
import type { ServerResponse } from "node:http";
import type { EngineClient } from "../engine/client.js";
import { abortAll, usageOf, type ChoiceRun, type ChoiceStep } from "./generation.js";
import { HttpError, sendJson } from "./errors.js";
import { SseWriter } from "./sse.js";
import type { ServerContext } from "./context.js";

/** 500 (engine alive) or 503 (engine dead) when any choice ended with an engine error. */
export function failureOf(runs: readonly ChoiceRun[], engine: EngineClient): HttpError | null {
  const bad = runs.find((c) => c.done?.finish === "error");
  if (!bad) return null;
  const msg = bad.done!.error ?? "engine error";
  return new HttpError(engine.alive ? 500 : 503, msg, engine.alive ? "server_error" : "engine_unavailable");
}

/** Start every choice; resolve when all have ended. */
export function runAll(engine: EngineClient, runs: readonly ChoiceRun[]): Promise<void> {
  return new Promise((resolve) => {
    let open = runs.length;
    for (const c of runs) c.start(engine, { onEnd: () => --open === 0 && resolve() });
  });
}

/** All at once: run every choice, then one JSON body of `head`, the choices and the usage. */
export async function respondAll(ctx: ServerContext, res: ServerResponse, runs: readonly ChoiceRun[], head: object, choice: (c: ChoiceRun) => object, promptTokens: number): Promise<void> {
  await runAll(ctx.engine, runs);
  if (res.destroyed) return;
  const failure = failureOf(runs, ctx.engine);
  if (failure) throw failure;
  sendJson(res, 200, { ...head, choices: runs.map(choice), usage: usageOf(runs, promptTokens, ctx.prefixCaching) });
}

export interface StreamShape {
  /** A chunk before any token (chat: the role; completions with echo: the prompt), or null. */
  first?(c: ChoiceRun): object | null;
  step(c: ChoiceRun, s: ChoiceStep): object;
  /** The finish chunk; `tail` is text released at the end. */
  end(c: ChoiceRun, tail: string): object;
}

export interface StreamOptions {
  head: object;
  includeUsage: boolean;
  continuousUsage: boolean;
  promptTokens: number;
}

/**
 * SSE: every token-bearing chunk carries the choice's `token_ids` for those tokens and the chunk
 * `engine_t_ns` (the engine's CLOCK_MONOTONIC time of them), so a client on the same host can put
 * server-side times next to its own. A choice that ends in an engine error turns into an
 * `{"error": ...}` event and the stream ends without [DONE].
 */
export function streamAll(ctx: ServerContext, res: ServerResponse, runs: readonly ChoiceRun[], shape: StreamShape, o: StreamOptions): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
  const writer = new SseWriter(res, ctx.sse, () => abortAll(ctx.engine, runs));
  const usage = () => usageOf(runs, o.promptTokens, ctx.prefixCaching);
  const send = (choice: object, engine_t_ns?: number) =>
    writer.data({ ...o.head, choices: [choice], ...(o.continuousUsage ? { usage: usage() } : {}), ...(engine_t_ns !== undefined ? { engine_t_ns } : {}) });
  for (const c of runs) {
    const first = shape.first?.(c);
    if (first) send(first);
  }
  return new Promise<void>((resolve) => {
    let open = runs.length;
    for (const c of runs)
      c.start(ctx.engine, {
        onStep: (run, step) => send(shape.step(run, step), step.t_ns),
        onEnd: (run, tail) => {
          const why = run.finishReason;
          if (why !== "error" && why !== "abort") send(shape.end(run, tail), run.done?.t_ns);
          if (--open > 0) return;
          const failure = failureOf(runs, ctx.engine);
          if (failure) writer.data({ error: { message: failure.message, type: failure.type, param: null, code: null } });
          else {
            if (o.includeUsage) writer.data({ ...o.head, choices: [], usage: usage() });
            writer.data("[DONE]");
          }
          writer.end();
          resolve();
        },
      });
  });
}
