// `attnbench serve`: an OpenAI-compatible HTTP server in front of one engine process.
import { Command } from "commander";
import { z } from "zod";
import { readFileSync } from "node:fs";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { resolveTokenizer, type TokenizerChoice } from "../tokenizer/resolve.js";
import { addEngineOptions, EngineOptionsSchema } from "../cli/engine-options.js";
import { int } from "../cli/schemas.js";
import { onTerminate } from "../cli/signals.js";
import { startEngine } from "../engine/start.js";
import { EngineStartError } from "../engine/client.js";
import { createApp } from "../server/app.js";

/** Exit code when the engine refuses to start (bench online tells "unavailable" from it). */
export const EXIT_ENGINE_START = 3;

const ServeSchema = z.intersection(
  EngineOptionsSchema,
  z.object({
    port: int(0, 65535).default(8000),
    host: z.string().min(1).default("127.0.0.1"),
    apiKey: z.string().min(1).optional(),
    servedModelName: z.string().min(1).optional(),
    maxBodyBytes: int(1).default(1 << 20),
    maxQueuedChunks: int(1).default(4096),
    slowClientTimeoutMs: int(1).default(30_000),
    requestTimeoutS: z.coerce.number().positive().max(86_400).default(60),
    engineLogs: z.boolean().default(false),
    tokenizer: z.string().min(1).optional(),
    chatTemplate: z.string().min(1).optional(),
  }),
);

export const serveCommand = addEngineOptions(
  new Command("serve").description("serve POST /v1/completions, POST /v1/chat/completions, GET /v1/models and GET /health in front of one engine"),
)
  .option("--port <port>", "TCP port (0 picks a free one; the URL is printed on stdout)", "8000")
  .option("--host <addr>", "address to listen on", "127.0.0.1")
  .option("--api-key <key>", "require Authorization: Bearer <key> on /v1/* (default: no auth)")
  .option("--served-model-name <name>", "model name in /v1/models and requests (default: the engine's model name)")
  .option("--max-body-bytes <bytes>", "largest request body accepted (bigger -> 413)", String(1 << 20))
  .option("--max-queued-chunks <n>", "SSE events queued for a client whose socket is full before it is cut off", "4096")
  .option("--slow-client-timeout-ms <ms>", "how long a client may leave its socket full before it is cut off", "30000")
  .option("--request-timeout-s <seconds>", "time a client has to send the whole request (headers + body) before a 408", "60")
  .option("--engine-logs", "copy the engine's stderr to ours")
  .option("--tokenizer <dir>", "tokenizer directory (tokenizer.json + tokenizer_config.json) for text and chat (default: the model directory's; r50k for GPT-2 models)")
  .option("--chat-template <file>", "Jinja chat template for /v1/chat/completions (default: the tokenizer's chat_template)")
  .action(
    action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(ServeSchema, raw);
      let engine;
      try {
        engine = await startEngine(o, undefined, o.engineLogs ? (l) => process.stderr.write(`engine: ${l}\n`) : undefined);
      } catch (err) {
        if (err instanceof EngineStartError) {
          process.stderr.write(`attnbench serve: engine failed to start: ${err.message}\n`);
          process.exitCode = EXIT_ENGINE_START;
          return;
        }
        throw err;
      }
      let tokenizer: TokenizerChoice;
      let chatTemplate: string | undefined;
      try {
        tokenizer = resolveTokenizer(o.model, engine.ready.model.vocab_size, o.tokenizer);
        if (o.chatTemplate) chatTemplate = readFileSync(o.chatTemplate, "utf8");
      } catch (err) {
        await engine.shutdown(3000);
        throw new UsageError([(err as Error).message]);
      }
      process.stderr.write(`attnbench serve: tokenizer: ${tokenizer.tokenizer?.description ?? `none (${tokenizer.why})`}\n`);
      engine.onDeath((why) => process.stderr.write(`attnbench serve: ${why}; /health now reports unhealthy\n`));
      const server = createApp({
        engine,
        modelName: o.servedModelName,
        tokenizer,
        chatTemplate,
        apiKey: o.apiKey,
        maxBodyBytes: o.maxBodyBytes,
        sse: { maxQueued: o.maxQueuedChunks, drainTimeoutMs: o.slowClientTimeoutMs },
      });
      // A stalled or trickling request body gets a 408 instead of holding a socket forever.
      server.requestTimeout = Math.round(o.requestTimeoutS * 1000);
      server.headersTimeout = Math.min(server.requestTimeout, 60_000);
      onTerminate(async () => {
        server.close();
        server.closeAllConnections();
        await engine.shutdown(3000);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(o.port, o.host, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : o.port;
      const host = o.host.includes(":") ? `[${o.host}]` : o.host;
      process.stdout.write(`attnbench serve: listening on http://${host}:${port} (model ${engine.ready.model.name}, ${engine.ready.device.name})\n`);
    }),
  );
