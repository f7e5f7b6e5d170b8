// A STUB OpenAI-style SSE server for benchmarking the load generator alone (`attnbench bench
// loadgen`), never an engine: POST /v1/completions answers with max_tokens token-bearing chunks, one
// every chunkMs, in our serve's chunk format, then the finish chunk, usage and [DONE]. It runs as
// node:cluster processes (the `bench loadgen --stub-server` command re-run by cluster.fork), so its
// CPU is not the generator's.
import cluster from "node:cluster";
import http from "node:http";
import { execa, type ResultPromise } from "execa";
import { BIN_PATH } from "../core/paths.js";

/** In the `--stub-server` process: fork `procs` workers that serve; the primary reports the port on stdout. */
export function runStubServer(procs: number, chunkMs: number): void {
  if (cluster.isPrimary) {
    let listening = 0;
    for (let i = 0; i < procs; i++) cluster.fork();
    cluster.on("listening", (_w, addr) => {
      if (++listening === procs) process.stdout.write(`stub listening on http://127.0.0.1:${addr.port}\n`);
    });
    // Stop with the parent: it closes our stdin.
    process.stdin.on("end", () => process.exit(0)).resume();
    return;
  }
  process.on("disconnect", () => process.exit(0)); // the primary is gone
  type Stream = { res: http.ServerResponse; left: number; n: number };
  const live = new Set<Stream>();
  // One timer writes the next chunk of every open stream: cheap at thousands of streams.
  setInterval(() => {
    const t = Number(process.hrtime.bigint());
    for (const s of live) {
      if (s.left > 0) {
        s.left--;
        s.res.write(`data: {"id":"stub","object":"text_completion","choices":[{"index":0,"text":"a","token_ids":[${s.n - s.left}],"logprobs":null,"finish_reason":null}],"engine_t_ns":${t}}\n\n`);
      } else {
        s.res.write(`data: {"id":"stub","object":"text_completion","choices":[{"index":0,"text":"","token_ids":[],"logprobs":null,"finish_reason":"length"}],"engine_t_ns":${t}}\n\n`);
        s.res.write(`data: {"id":"stub","object":"text_completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${s.n},"total_tokens":${s.n + 1}}}\n\n`);
        s.res.end("data: [DONE]\n\n");
        live.delete(s);
      }
    }
  }, chunkMs);
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => {
      let n = 16;
      try {
        n = Math.max(1, Number((JSON.parse(body) as { max_tokens?: number }).max_tokens) || 16);
      } catch {
        /* not JSON: the default */
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
      live.add({ res, left: n, n });
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, "127.0.0.1");
}

/** Start the stub in its own process group of `procs` processes; resolves with its URL. */
export async function startStubServer(procs: number, chunkMs: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const proc: ResultPromise = execa(process.execPath, [BIN_PATH, "bench", "loadgen", "--stub-server", "--procs", String(procs), "--chunk-ms", String(chunkMs)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    buffer: false,
    reject: false,
    cleanup: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => {
      const m = /listening on (http:\/\/\S+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    void (proc as unknown as Promise<{ exitCode?: number }>).then((r) => reject(new Error(`stub server exited (${r.exitCode})`)));
  });
  return {
    url,
    stop: async () => {
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await proc;
      clearTimeout(timer);
    },
  };
}
