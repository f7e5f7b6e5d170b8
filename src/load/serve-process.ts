// `attnbench serve` as a child process of bench online: one per (backend, scale), on a port the
// child picks itself (--port 0, URL read from its stdout), so parallel benches never collide.
import { execa } from "execa";
import { createInterface } from "node:readline";
import { BIN_PATH } from "../core/paths.js";

/** serve's exit code when its engine refused to start (commands/serve.ts). */
const EXIT_ENGINE_START = 3;

export class ServeStartError extends Error {
  constructor(message: string, readonly engineRefused: boolean) {
    super(message);
  }
}

export interface ServeChild {
  url: string;
  pid: number | undefined;
  exited: () => string | null;
  stderrTail: () => string;
  stop: (graceMs?: number) => Promise<void>;
}

export async function spawnServe(args: string[], opts: { startTimeoutMs: number; onLog?: (l: string) => void; nodeArgs?: string[] }): Promise<ServeChild> {
  // nodeArgs: flags for the serve process's Node itself (the soak passes --inspect to measure its heap).
  const proc = execa(process.execPath, [...(opts.nodeArgs ?? []), BIN_PATH, "serve", "--port", "0", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    cleanup: true,
  });
  const tail: string[] = [];
  let exitInfo: string | null = null;
  let exitCode: number | undefined;
  createInterface({ input: proc.stderr! }).on("line", (l) => {
    tail.push(l);
    if (tail.length > 20) tail.shift();
    opts.onLog?.(l);
  });
  const done = (proc as unknown as Promise<{ exitCode?: number; signal?: string }>).then((r) => {
    exitCode = r.exitCode;
    exitInfo = r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`;
  });
  const stop = async (graceMs = 5000) => {
    if (exitInfo === null) proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await done;
    clearTimeout(timer);
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ServeStartError(`serve did not start within ${opts.startTimeoutMs / 1000} s`, false)), opts.startTimeoutMs);
    createInterface({ input: proc.stdout! }).on("line", (l) => {
      const m = /listening on (http:\/\/\S+)/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    done.then(() => {
      clearTimeout(timer);
      const msg = tail.filter((l) => l.trim()).slice(-3).join(" | ") || `serve exited (${exitInfo})`;
      reject(new ServeStartError(msg.replace(/^attnbench serve: engine failed to start: /, ""), exitCode === EXIT_ENGINE_START));
    });
  }).catch(async (err) => {
    await stop(2000);
    throw err;
  });
  return { url, pid: proc.pid, exited: () => exitInfo, stderrTail: () => tail.join("\n"), stop };
}

/** Poll GET /health until 200; returns its JSON. */
export async function waitHealthy(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline && alive()) {
    try {
      const res = await fetch(`${url}/health`);
      const body = await res.json();
      if (res.status === 200) return body as Record<string, any>;
      last = `HTTP ${res.status}: ${JSON.stringify(body).slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not healthy: ${last}`);
}
