// Server-sent events with back-pressure: when the socket is full (write returns false) further
// events queue until 'drain'; a client that stays blocked longer than drainTimeoutMs, or lets more
// than maxQueued events pile up, is too slow and is cut off (its engine request gets aborted).
import type { ServerResponse } from "node:http";

export interface SseLimits {
  maxQueued: number;
  drainTimeoutMs: number;
}

export const DEFAULT_SSE_LIMITS: SseLimits = { maxQueued: 4096, drainTimeoutMs: 30_000 };

type Writable = Pick<ServerResponse, "write" | "end" | "once" | "off" | "destroy"> & { writableEnded?: boolean; destroyed?: boolean };

export class SseWriter {
  private queue: string[] = [];
  private blocked = false;
  private timer: NodeJS.Timeout | null = null;
  private failed = false;

  constructor(
    private readonly res: Writable,
    private readonly limits: SseLimits,
    private readonly onTooSlow: (why: string) => void,
  ) {}

  get isFailed(): boolean {
    return this.failed;
  }
  get queued(): number {
    return this.queue.length;
  }

  /** Queue one `data:` event (an object is JSON-encoded; a string is sent as is, e.g. [DONE]). */
  data(payload: unknown): void {
    this.write(`data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`);
  }

  /** End the stream once everything queued has been written. */
  end(): void {
    if (this.failed) return;
    if (!this.blocked) this.res.end();
    else this.queue.push("");
  }

  private write(s: string): void {
    if (this.failed || this.res.destroyed) return;
    if (this.blocked) {
      this.queue.push(s);
      if (this.queue.length > this.limits.maxQueued) this.fail(`client too slow: more than ${this.limits.maxQueued} events queued`);
      return;
    }
    if (!this.res.write(s)) this.block();
  }

  private block(): void {
    this.blocked = true;
    this.timer = setTimeout(() => this.fail(`client too slow: socket not drained within ${this.limits.drainTimeoutMs} ms`), this.limits.drainTimeoutMs);
    this.res.once("drain", this.onDrain);
  }

  private onDrain = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.blocked = false;
    while (this.queue.length && !this.blocked) {
      const s = this.queue.shift()!;
      if (s === "") {
        this.res.end();
        return;
      }
      if (!this.res.write(s)) this.block();
    }
  };

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    if (this.timer) clearTimeout(this.timer);
    this.res.off("drain", this.onDrain);
    this.queue = [];
    this.onTooSlow(why);
    this.res.destroy();
  }
}
