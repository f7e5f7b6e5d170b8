// Start an in-process server over an engine (the fake one unless told otherwise).
import type { AddressInfo } from "node:net";
import { EngineClient } from "../../src/engine/client.js";
import { createApp, type AppOptions } from "../../src/server/app.js";
import { FAKE_ENGINE } from "./paths.js";

export async function startTestServer(opts: Partial<AppOptions> & { engineEnv?: Record<string, string>; enginePath?: string; engineArgs?: string[] } = {}) {
  const engine = await EngineClient.start({
    path: opts.enginePath ?? FAKE_ENGINE,
    args: opts.engineArgs ?? ["--model", "synthetic:tiny", "--device", "cpu"],
    readyTimeoutMs: 30_000,
    env: opts.engineEnv,
  });
  const server = createApp({ engine, ...opts });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    engine,
    server,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await engine.shutdown(2000);
    },
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* SSE or empty */
  }
  return { status: res.status, json, text };
}
