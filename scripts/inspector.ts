// A minimal client of the V8 inspector protocol, for measuring another Node process's live memory:
// a process started with `--inspect=127.0.0.1:0` prints "Debugger listening on ws://..." on stderr;
// connect to that URL, force a full garbage collection, then read process.memoryUsage() in it.
//
// Why not RSS: V8 hands freed pages back to the OS lazily (its memory reducer runs when the process
// has been idle a while), so the RSS of a healthy server after load wanders by tens of MiB with the
// machine's load (the soak's old RSS check failed at +68 MiB vs +64 under CPU contention). The bytes
// still reachable after a full GC are what a leak grows, and they do not depend on GC timing.
import WebSocket from "ws";

export const INSPECTOR_URL_RE = /Debugger listening on (ws:\/\/\S+)/;

export interface LiveMemory {
  /** JS heap bytes still reachable after a full GC. */
  heap_used_bytes: number;
  /** Memory of C++ objects bound to JS objects (Buffers, ArrayBuffers) after that GC. */
  external_bytes: number;
  rss_bytes: number;
}

export class Inspector {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(private ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return; // events: not used
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`inspector: ${msg.error.message}`));
      else p.resolve(msg.result);
    });
    ws.on("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("inspector: connection closed"));
      this.pending.clear();
    });
  }

  static connect(url: string, timeoutMs = 10_000): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
      ws.once("open", () => resolve(new Inspector(ws)));
      ws.once("error", (err) => reject(new Error(`inspector: cannot connect to ${url}: ${err.message}`)));
    });
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Full GC (twice: the first can leave objects that weak callbacks free only in the next), then memoryUsage(). */
  async liveMemory(): Promise<LiveMemory> {
    await this.send("HeapProfiler.collectGarbage");
    await this.send("HeapProfiler.collectGarbage");
    const r = await this.send<{ result: { value?: string }; exceptionDetails?: unknown }>("Runtime.evaluate", {
      expression: "JSON.stringify(process.memoryUsage())",
      returnByValue: true,
    });
    if (r.exceptionDetails || typeof r.result.value !== "string") throw new Error(`inspector: memoryUsage() failed: ${JSON.stringify(r.exceptionDetails ?? r.result)}`);
    const m = JSON.parse(r.result.value) as { heapUsed: number; external: number; rss: number };
    return { heap_used_bytes: m.heapUsed, external_bytes: m.external, rss_bytes: m.rss };
  }

  close(): void {
    this.ws.close();
  }
}
