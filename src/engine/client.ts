// The one place that spawns the engine: a JSON-lines client over its stdin/stdout.
// Requests are multiplexed by id; each ends with exactly one onDone, including when the engine
// dies (a synthetic done with finish "error"), so no caller can hang on a dead process.
import { execa, type ResultPromise } from "execa";
import { createInterface } from "node:readline";
import { parseEventLine, type AddOp, type DoneEvent, type ReadyEvent, type StatsEvent, type TokEvent } from "./events.js";

export interface RequestHandlers {
  onTok?(ev: TokEvent): void;
  /** Called exactly once per submitted request. */
  onDone(ev: DoneEvent): void;
}

export interface StartOptions {
  path: string;
  args: string[];
  readyTimeoutMs?: number;
  /** Every stderr line of the engine (its logs). */
  onLog?: (line: string) => void;
  env?: Record<string, string>;
}

/** The engine refused to start: `fatal` event, exit before ready, or no ready in time. */
export class EngineStartError extends Error {
  constructor(message: string, readonly fatal: boolean) {
    super(message);
    this.name = "EngineStartError";
  }
}

const STDERR_TAIL_LINES = 40;

export class EngineClient {
  private readonly pending = new Map<string, RequestHandlers>();
  private readonly statsWaiters: { resolve: (ev: StatsEvent) => void; reject: (e: Error) => void }[] = [];
  private readonly deathListeners: ((reason: string) => void)[] = [];
  private readonly stderrTail: string[] = [];
  private dead: string | null = null;
  private shuttingDown = false;
  private exited: Promise<void>;
  private readyEvent: ReadyEvent | null = null;
  private startWaiter: { resolve: (r: ReadyEvent) => void; reject: (e: Error) => void } | null = null;
  private nextId = 0;

  private constructor(private readonly proc: ResultPromise<{ stdin: "pipe"; stdout: "pipe"; stderr: "pipe"; buffer: false; reject: false }>, onLog?: (line: string) => void) {
    createInterface({ input: proc.stdout! }).on("line", (line) => this.onLine(line));
    createInterface({ input: proc.stderr! }).on("line", (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      onLog?.(line);
    });
    proc.stdin!.on("error", () => {
      /* EPIPE after death: the exit handler reports it */
    });
    this.exited = (proc as unknown as Promise<{ exitCode?: number; signal?: string; failed: boolean; message?: string; originalMessage?: string }>).then(
      (r) => this.onExit(r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode ?? "?"}`, r.originalMessage),
      (e: Error) => this.onExit("spawn failed", e.message),
    );
  }

  /** Spawn the engine and resolve once it printed `ready`. */
  static async start(o: StartOptions): Promise<EngineClient> {
    const proc = execa(o.path, o.args, {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      buffer: false,
      reject: false,
      cleanup: true,
      env: o.env,
    });
    const client = new EngineClient(proc, o.onLog);
    const timeoutMs = o.readyTimeoutMs ?? 300_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<ReadyEvent>((resolve, reject) => {
        client.startWaiter = { resolve, reject };
        timer = setTimeout(() => reject(new EngineStartError(`engine did not become ready within ${timeoutMs / 1000} s`, false)), timeoutMs);
      });
    } catch (err) {
      client.kill();
      await client.exited;
      throw err;
    } finally {
      clearTimeout(timer);
      client.startWaiter = null;
    }
    return client;
  }

  get ready(): ReadyEvent {
    return this.readyEvent!;
  }
  get alive(): boolean {
    return this.dead === null;
  }
  get deathReason(): string | null {
    return this.dead;
  }
  get inFlight(): number {
    return this.pending.size;
  }
  get pid(): number | undefined {
    return this.proc.pid;
  }

  onDeath(cb: (reason: string) => void): void {
    if (this.dead !== null) cb(this.dead);
    else this.deathListeners.push(cb);
  }

  /** A fresh request id unique within this client. */
  newId(prefix = "r"): string {
    return `${prefix}${this.nextId++}`;
  }

  submit(op: AddOp, h: RequestHandlers): void {
    if (this.dead !== null || this.shuttingDown) {
      const why = this.dead ?? "engine is shutting down";
      queueMicrotask(() => h.onDone({ ev: "done", id: op.id, finish: "error", error: `engine unavailable: ${why}` }));
      return;
    }
    if (this.pending.has(op.id)) throw new Error(`duplicate request id ${op.id}`);
    this.pending.set(op.id, h);
    this.send({ op: "add", ...op });
  }

  /** Submit and collect everything (for one-shot use: generate, offline warm-up). */
  run(op: AddOp): Promise<{ tokens: number[]; logprobs: number[]; tok_t_ns: number[]; done: DoneEvent }> {
    const tokens: number[] = [];
    const logprobs: number[] = [];
    const tok_t_ns: number[] = [];
    return new Promise((resolve) =>
      this.submit(op, {
        onTok: (ev) => {
          tokens.push(...ev.tokens);
          if (ev.logprobs) logprobs.push(...ev.logprobs);
          tok_t_ns.push(ev.t_ns);
        },
        onDone: (done) => resolve({ tokens, logprobs, tok_t_ns, done }),
      }),
    );
  }

  abort(id: string): void {
    if (this.pending.has(id) && this.dead === null) this.send({ op: "abort", id });
  }

  stats(timeoutMs = 5000): Promise<StatsEvent> {
    if (this.dead !== null) return Promise.reject(new Error(`engine is dead: ${this.dead}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("engine did not answer stats")), timeoutMs);
      this.statsWaiters.push({
        resolve: (ev) => {
          clearTimeout(timer);
          resolve(ev);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ op: "stats" });
    });
  }

  /** Ask politely (in-flight requests end with finish "abort"), then kill after the grace period. */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.dead === null && !this.shuttingDown) {
      this.shuttingDown = true;
      this.send({ op: "shutdown" });
      this.proc.stdin?.end();
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    try {
      this.proc.kill(signal);
    } catch {
      /* already gone */
    }
  }

  stderrLines(): string[] {
    return [...this.stderrTail];
  }

  private send(obj: unknown): void {
    try {
      this.proc.stdin?.write(JSON.stringify(obj) + "\n");
    } catch {
      /* the exit handler reports death */
    }
  }

  private onLine(line: string): void {
    if (line.trim() === "") return;
    const e = parseEventLine(line);
    switch (e.kind) {
      case "ready":
        this.readyEvent = e.ev;
        this.startWaiter?.resolve(e.ev);
        return;
      case "fatal":
        this.startWaiter?.reject(new EngineStartError(e.message, true));
        return;
      case "tok":
        this.pending.get(e.ev.id)?.onTok?.(e.ev);
        return;
      case "done": {
        const h = this.pending.get(e.ev.id);
        if (h) {
          this.pending.delete(e.ev.id);
          h.onDone(e.ev);
        }
        return;
      }
      case "stats":
        this.statsWaiters.shift()?.resolve(e.ev);
        return;
      case "error":
        // An abort can cross the request's own done on the wire: harmless.
        if (e.ev.code === "unknown_id") return;
        // Errors tied to a new request come as done{finish:error}; these are protocol complaints
        // about our own lines (a bug on our side), so make them visible.
        process.stderr.write(`attnbench: engine protocol error${e.ev.code ? ` (${e.ev.code})` : ""}: ${e.ev.message}\n`);
        return;
      case "bye":
        return;
      case "invalid":
        process.stderr.write(`attnbench: unexpected engine output (${e.problem}): ${line.slice(0, 200)}\n`);
        return;
    }
  }

  private onExit(how: string, detail?: string): void {
    const tail = this.stderrTail.slice(-5).join(" | ");
    const reason = `engine exited (${how})${detail && !tail ? `: ${detail}` : ""}${tail ? `: ${tail}` : ""}`;
    this.dead = this.shuttingDown ? `engine shut down (${how})` : reason;
    this.startWaiter?.reject(new EngineStartError(reason, false));
    for (const [id, h] of this.pending) h.onDone({ ev: "done", id, finish: "error", error: this.dead });
    this.pending.clear();
    for (const w of this.statsWaiters.splice(0)) w.reject(new Error(this.dead));
    for (const cb of this.deathListeners.splice(0)) cb(this.dead);
  }
}
