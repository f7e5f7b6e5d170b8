// A raw JSON-lines driver for the real engine binary: write any bytes, read every event. The harness'
// EngineClient hides protocol errors on purpose; the reliability tests need to see them.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { REAL_ENGINE } from "./paths.js";

export type Ev = Record<string, any>;

export class RawEngine {
  readonly events: Ev[] = [];
  readonly stderr: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiters: { pred: (e: Ev) => boolean; from: number; resolve: (e: Ev) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.trim() === "") return;
      let ev: Ev;
      try {
        ev = JSON.parse(line);
      } catch {
        ev = { ev: "__unparsable", line };
      }
      this.events.push(ev);
      const idx = this.events.length - 1;
      for (const w of [...this.waiters]) {
        if (idx >= w.from && w.pred(ev)) {
          clearTimeout(w.timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(ev);
        }
      }
    });
    createInterface({ input: proc.stderr }).on("line", (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 50) this.stderr.shift();
    });
    proc.stdin.on("error", () => {});
    proc.on("exit", (code, signal) => {
      this.exit = { code, signal };
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`engine exited (${code ?? signal}) while waiting; stderr: ${this.stderr.slice(-5).join(" | ")}`));
      }
    });
  }

  static async start(args: string[] = []): Promise<RawEngine> {
    const proc = spawn(REAL_ENGINE, ["--model", "synthetic:tiny", "--device", "cpu", "--cpu-threads", "1", ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const e = new RawEngine(proc);
    await e.waitFor((ev) => ev.ev === "ready", 30_000);
    return e;
  }

  get pid(): number {
    return this.proc.pid!;
  }
  get alive(): boolean {
    return this.exit === null;
  }
  get ready(): Ev {
    return this.events.find((e) => e.ev === "ready")!;
  }

  /** Write raw text (a newline is NOT added). */
  write(text: string | Buffer): void {
    this.proc.stdin.write(text);
  }
  send(obj: unknown): void {
    this.write(JSON.stringify(obj) + "\n");
  }

  /** The next event (from index `from`, default: any not yet seen at call time) matching pred. */
  waitFor(pred: (e: Ev) => boolean, timeoutMs = 20_000, from = this.events.length): Promise<Ev> {
    for (let i = from; i < this.events.length; i++) if (pred(this.events[i])) return Promise.resolve(this.events[i]);
    if (this.exit) return Promise.reject(new Error(`engine already exited (${this.exit.code ?? this.exit.signal})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.resolve === resolve);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no matching event within ${timeoutMs} ms; last events: ${JSON.stringify(this.events.slice(-3))}`));
      }, timeoutMs);
      this.waiters.push({ pred, from, resolve, reject, timer });
    });
  }

  async stats(timeoutMs = 20_000): Promise<Ev> {
    const from = this.events.length;
    this.send({ op: "stats" });
    return this.waitFor((e) => e.ev === "stats", timeoutMs, from);
  }

  /** A good request still gets served: the engine is alive and answering. */
  async probe(id = `probe-${Math.random().toString(36).slice(2)}`): Promise<Ev> {
    const from = this.events.length;
    this.send({ op: "add", id, prompt: [1, 2, 3], max_tokens: 2, ignore_eos: true, temperature: 0 });
    return this.waitFor((e) => e.ev === "done" && e.id === id, 30_000, from);
  }

  /** Wait until the pool is fully free and nothing runs (stats polled). */
  async settled(timeoutMs = 20_000): Promise<Ev> {
    const deadline = Date.now() + timeoutMs;
    let s = await this.stats();
    while ((s.kv_blocks_free !== s.kv_blocks_total || s.running !== 0 || s.waiting !== 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      s = await this.stats();
    }
    return s;
  }

  dones(): Ev[] {
    return this.events.filter((e) => e.ev === "done");
  }

  async shutdown(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.send({ op: "shutdown" });
    this.proc.stdin.end();
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
}
