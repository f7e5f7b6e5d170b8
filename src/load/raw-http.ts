// The load generator's own HTTP/1.1 client for streamed requests to http: URLs. A request is built
// into one buffer before its send time and sent with one write on a kept-alive socket (a new
// connection only when none is idle), so nothing is set up on the critical path and the recorded
// send time is the time of that write: the bytes are in the kernel when it returns. Responses are
// framed here (Content-Length, chunked, or until close) and their bytes go straight to the SSE parser.
// Idle sockets are unref'd (they keep no thread alive) and dropped when the server closes them.
import net from "node:net";
import type { RequestRecord } from "../results/schema.js";
import type { StreamRecorder } from "./http-stream.js";
import { SseParser } from "./sse-parser.js";

export interface RawRequest {
  host: string;
  port: number;
  /** Connections are pooled per host:port. */
  key: string;
  bytes: Buffer;
}

export function prepareRaw(url: URL, body: unknown, apiKey?: string): RawRequest {
  if (apiKey !== undefined && /[\r\n]/.test(apiKey)) throw new Error("API key contains a line break");
  const json = Buffer.from(JSON.stringify(body), "utf8");
  const head =
    `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${json.length}\r\nAccept: text/event-stream\r\nConnection: keep-alive\r\n` +
    (apiKey ? `Authorization: Bearer ${apiKey}\r\n` : "") +
    "\r\n";
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80), key: url.host, bytes: Buffer.concat([Buffer.from(head, "latin1"), json]) };
}

/** The error of a non-200 answer: the server's error.message when it sent JSON, else the text. */
export function httpError(status: number, text: string): string {
  let msg = text.slice(0, 300);
  try {
    msg = JSON.parse(text).error?.message ?? msg;
  } catch {
    /* keep the raw text */
  }
  return `HTTP ${status}: ${msg}`;
}

interface Head {
  status: number;
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
}

/**
 * Incremental HTTP/1.1 response framing: bytes in; the head, body pieces and the end out through the
 * callbacks. 1xx heads are skipped. Bytes after the end of the response make it non-reusable.
 */
export class ResponseFramer {
  private state: "head" | "size" | "data" | "crlf" | "trailer" | "length" | "close" | "done" = "head";
  private pending: Buffer | null = null;
  private line = "";
  private left = 0;
  head: Head | null = null;
  /** Bytes arrived after the response ended (the connection is not reused). */
  extra = false;

  constructor(
    private readonly onHead: (h: Head) => void,
    private readonly onBody: (b: Buffer) => void,
    private readonly onEnd: () => void,
  ) {}

  get done(): boolean {
    return this.state === "done";
  }

  /** The body runs until the connection closes (neither Content-Length nor chunked). */
  get closeDelimited(): boolean {
    return this.state === "close";
  }

  /** Feed bytes; throws on a malformed response. */
  push(b: Buffer): void {
    let i = 0;
    while (i < b.length) {
      switch (this.state) {
        case "head": {
          const buf: Buffer = this.pending ? Buffer.concat([this.pending, b.subarray(i)]) : b.subarray(i);
          const end = buf.indexOf("\r\n\r\n", 0, "latin1");
          if (end < 0) {
            if (buf.length > 65536) throw new Error("response head over 64 KiB");
            this.pending = Buffer.from(buf);
            return;
          }
          this.pending = null;
          const consumed = end + 4 - (buf.length - (b.length - i));
          i += consumed;
          this.parseHead(buf.toString("latin1", 0, end));
          break;
        }
        case "size": {
          const nl = b.indexOf(10, i);
          if (nl < 0) {
            this.line += b.toString("latin1", i);
            if (this.line.length > 1024) throw new Error("chunk size line too long");
            return;
          }
          const line = (this.line + b.toString("latin1", i, nl)).trim();
          this.line = "";
          i = nl + 1;
          const size = parseInt(line.split(";")[0], 16);
          if (!Number.isFinite(size) || size < 0) throw new Error(`bad chunk size ${JSON.stringify(line.slice(0, 20))}`);
          if (size === 0) this.state = "trailer";
          else {
            this.left = size;
            this.state = "data";
          }
          break;
        }
        case "data":
        case "length": {
          const take = Math.min(this.left, b.length - i);
          if (take > 0) this.onBody(b.subarray(i, i + take));
          this.left -= take;
          i += take;
          if (this.left === 0) {
            if (this.state === "data") this.state = "crlf";
            else this.finish();
          }
          break;
        }
        case "crlf": {
          const nl = b.indexOf(10, i);
          if (nl < 0) return;
          i = nl + 1;
          this.state = "size";
          break;
        }
        case "trailer": {
          const nl = b.indexOf(10, i);
          if (nl < 0) {
            this.line += b.toString("latin1", i);
            return;
          }
          const line = (this.line + b.toString("latin1", i, nl)).trim();
          this.line = "";
          i = nl + 1;
          if (line === "") this.finish();
          break;
        }
        case "close":
          this.onBody(i === 0 ? b : b.subarray(i));
          return;
        case "done":
          this.extra = true;
          return;
      }
    }
  }

  private parseHead(text: string): void {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0].slice(0, 40))}`);
    const status = Number(m[2]);
    if (status >= 100 && status < 200) return; // 100 Continue and the like: the real head follows
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
    }
    const conn = (headers.get("connection") ?? "").toLowerCase();
    const keepAlive = m[1] === "1" ? !conn.includes("close") : conn.includes("keep-alive");
    const te = (headers.get("transfer-encoding") ?? "").toLowerCase();
    const cl = headers.get("content-length");
    this.head = { status, keepAlive };
    this.onHead(this.head);
    if (status === 204 || status === 304) this.finish();
    else if (te.includes("chunked")) this.state = "size";
    else if (cl !== undefined) {
      this.left = Number(cl);
      if (!Number.isInteger(this.left) || this.left < 0) throw new Error(`bad content-length ${cl}`);
      this.state = "length";
      if (this.left === 0) this.finish();
    } else {
      this.head.keepAlive = false;
      this.state = "close";
    }
  }

  private finish(): void {
    this.state = "done";
    this.onEnd();
  }

  /** The connection closed: a close-delimited body ends here. */
  closed(): void {
    if (this.state === "close") this.finish();
  }
}

class Conn {
  exchange: Exchange | null = null;
  closed = false;
  error: Error | null = null;

  constructor(
    readonly key: string,
    readonly socket: net.Socket,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (b: Buffer) => {
      if (this.exchange) this.exchange.data(b);
      else socket.destroy(); // bytes on an idle connection: not ours to read
    });
    socket.on("error", (e) => (this.error = e));
    socket.on("end", () => dropIdle(this));
    socket.on("close", () => {
      this.closed = true;
      dropIdle(this);
      const x = this.exchange;
      this.exchange = null;
      x?.closed(this.error);
    });
  }

  get usable(): boolean {
    return !this.closed && this.socket.writable && !this.socket.destroyed;
  }
}

const idle = new Map<string, Conn[]>();
let opened = 0;

/** Connections this thread has opened for requests that found none idle (diagnostics). */
export function connectionsOpenedOnDemand(): number {
  return opened;
}

function dropIdle(c: Conn): void {
  const list = idle.get(c.key);
  const k = list ? list.indexOf(c) : -1;
  if (k >= 0) list!.splice(k, 1);
}

function takeIdle(key: string): Conn | null {
  const list = idle.get(key);
  while (list && list.length > 0) {
    const c = list.pop()!;
    if (c.usable) {
      c.socket.ref();
      return c;
    }
  }
  return null;
}

function release(c: Conn): void {
  if (!c.usable) return;
  c.socket.unref();
  let list = idle.get(c.key);
  if (!list) idle.set(c.key, (list = []));
  list.push(c);
}

/** Idle kept-alive connections per host:port (for tests and diagnostics). */
export function idleConnections(key: string): number {
  return idle.get(key)?.length ?? 0;
}

/**
 * Top the idle kept-alive connections to an http: URL's host up to `n` ahead of a run, so its
 * requests find one open (only http: URLs; resolves with the number opened now).
 */
export async function openConnections(url: string, n: number): Promise<number> {
  const u = new URL(url);
  if (u.protocol !== "http:") return 0;
  const { host, port, key } = prepareRaw(u, null);
  const opened = await Promise.all(
    Array.from(
      { length: Math.max(0, n - idleConnections(key)) },
      () =>
        new Promise<boolean>((resolve) => {
          const c = new Conn(key, net.connect({ host, port }));
          c.socket.once("connect", () => {
            release(c);
            resolve(true);
          });
          c.socket.once("error", () => resolve(false));
        }),
    ),
  );
  return opened.filter(Boolean).length;
}

/** Close every idle connection of this thread. */
export function closeIdleConnections(): void {
  for (const list of idle.values()) for (const c of list.splice(0)) c.socket.destroy();
}

class Exchange {
  private conn: Conn | null = null;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly framer: ResponseFramer;
  private readonly decoder = new TextDecoder();
  private readonly sse = new SseParser();
  private errorText = "";
  private now = 0n;
  private attempted: bigint | null = null;

  constructor(
    private readonly rec: StreamRecorder,
    private readonly resolve: (r: RequestRecord) => void,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.rec.fail(`timed out after ${timeoutMs} ms`);
      this.settle(false);
    }, timeoutMs);
    this.framer = new ResponseFramer(
      () => {},
      (b) => {
        if (this.framer.head!.status === 200) {
          for (const p of this.sse.push(this.decoder.decode(b, { stream: true }))) this.rec.payload(p, this.now);
        } else if (this.errorText.length < 4096) this.errorText += b.toString("utf8");
      },
      () => {
        const h = this.framer.head!;
        if (h.status !== 200) this.rec.fail(httpError(h.status, this.errorText));
        this.settle(h.keepAlive);
      },
    );
  }

  /** Send on a connected socket: one write, and its time is the send time. */
  write(c: Conn, bytes: Buffer): void {
    if (this.settled) {
      release(c);
      return;
    }
    this.conn = c;
    c.exchange = this;
    c.socket.write(bytes);
    this.rec.sent(process.hrtime.bigint());
  }

  /** For a new connection: its connect error is this request's, dispatched (not sent) at `at`. */
  attach(c: Conn, at: bigint): void {
    this.conn = c;
    c.exchange = this;
    this.attempted = at;
  }

  data(b: Buffer): void {
    if (this.settled) return;
    this.now = process.hrtime.bigint();
    try {
      this.framer.push(b);
    } catch (e) {
      this.rec.fail(`stream error: ${(e as Error).message}`);
      this.settle(false);
    }
  }

  closed(err: Error | null): void {
    if (this.settled) return;
    this.framer.closed();
    if (this.settled) return;
    const why = err?.message ?? "connection closed";
    this.rec.fail(this.framer.head === null ? `connection error: ${why}` : `stream error: ${why}`);
    this.settle(false);
  }

  private settle(reuse: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    // A connection that never came up: the request failed when it was dispatched (not "not sent").
    if (!this.rec.wasSent && this.attempted !== null) this.rec.sent(this.attempted);
    const c = this.conn;
    if (c) {
      c.exchange = null;
      if (reuse && !this.framer.extra) release(c);
      else c.socket.destroy();
    }
    this.resolve(this.rec.record());
  }
}

/** Stream one prepared request on a kept-alive connection (a new one if none is idle); never rejects. */
export function sendRaw(p: RawRequest, rec: StreamRecorder, timeoutMs: number): Promise<RequestRecord> {
  return new Promise<RequestRecord>((resolve) => {
    const x = new Exchange(rec, resolve, timeoutMs);
    const c = takeIdle(p.key);
    if (c) {
      x.write(c, p.bytes);
      return;
    }
    const at = process.hrtime.bigint();
    opened++;
    const conn = new Conn(p.key, net.connect({ host: p.host, port: p.port }));
    x.attach(conn, at);
    conn.socket.once("connect", () => x.write(conn, p.bytes));
  });
}
