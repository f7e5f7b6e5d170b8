// The HTTP front (node:http): routes, auth, health. Engine work lives in completions.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { EngineClient } from "../engine/client.js";
import { readJsonBody, DEFAULT_MAX_BODY_BYTES } from "./body.js";
import { handleCompletion } from "./completions.js";
import { handleChat } from "./chat.js";
import type { ServerContext } from "./context.js";
import { resolveTokenizer, type TokenizerChoice } from "../tokenizer/resolve.js";
import { HttpError, sendError, sendJson } from "./errors.js";
import { DEFAULT_SSE_LIMITS, type SseLimits } from "./sse.js";

export interface AppOptions {
  engine: EngineClient;
  /** Name served in /v1/models and required (when given) in requests; default: the engine's. */
  modelName?: string;
  apiKey?: string;
  maxBodyBytes?: number;
  sse?: SseLimits;
  /** Default: resolveTokenizer(the engine's model) (its tokenizer.json, r50k for GPT-2, else none). */
  tokenizer?: TokenizerChoice;
  /** --chat-template: overrides the tokenizer's chat_template. */
  chatTemplate?: string;
}

export function createApp(o: AppOptions): Server {
  const ready = o.engine.ready;
  const modelName = o.modelName ?? ready.model.name;
  const tok = o.tokenizer ?? resolveTokenizer(ready.model.name, ready.model.vocab_size);
  const ctx: ServerContext = {
    engine: o.engine,
    modelName,
    nCtx: ready.model.n_ctx,
    vocab: ready.model.vocab_size,
    eosTokenId: ready.model.eos_token_id ?? null,
    tokenizer: tok.tokenizer,
    noTokenizer: tok.why,
    chatTemplate: o.chatTemplate ?? tok.tokenizer?.chatTemplate ?? null,
    sse: o.sse ?? DEFAULT_SSE_LIMITS,
    prefixCaching: ready.config.enable_prefix_caching === true,
  };
  const tokenizerInfo = tok.tokenizer
    ? { description: tok.tokenizer.description, vocab_size: tok.tokenizer.vocabSize, eos_token_id: tok.tokenizer.eosTokenId, chat_template: ctx.chatTemplate !== null }
    : { description: null, reason: tok.why, chat_template: false };
  const started = Math.floor(Date.now() / 1000);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      if (req.method !== "GET") throw new HttpError(405, "use GET");
      if (!o.engine.alive) return sendJson(res, 503, { status: "unhealthy", reason: o.engine.deathReason });
      let stats: unknown = null;
      try {
        stats = await o.engine.stats(2000);
      } catch (err) {
        return sendJson(res, 503, { status: "unhealthy", reason: (err as Error).message });
      }
      return sendJson(res, 200, { status: "ok", model: ready.model, device: ready.device, backends: ready.backends, config: ready.config, tokenizer: tokenizerInfo, version: ready.version ?? null, in_flight: o.engine.inFlight, stats });
    }
    if (!path.startsWith("/v1/")) throw new HttpError(404, `no route ${req.method} ${path}`, "invalid_request_error", null, "not_found");
    if (o.apiKey && req.headers.authorization !== `Bearer ${o.apiKey}`)
      throw new HttpError(401, "missing or wrong API key (Authorization: Bearer <key>)", "invalid_request_error", null, "invalid_api_key");
    if (path === "/v1/models") {
      if (req.method !== "GET") throw new HttpError(405, "use GET");
      // vLLM's model card: `root` is what `vllm bench serve` reads as the model id, `max_model_len` the context.
      const card = { id: modelName, object: "model", created: started, owned_by: "attnbench", root: ready.model.name, parent: null, max_model_len: ctx.nCtx, permission: [] };
      return sendJson(res, 200, { object: "list", data: [card] });
    }
    if (path === "/v1/completions") {
      if (req.method !== "POST") throw new HttpError(405, "use POST");
      const body = await readJsonBody(req, o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      return handleCompletion(ctx, req, res, body);
    }
    if (path === "/v1/chat/completions") {
      if (req.method !== "POST") throw new HttpError(405, "use POST");
      const body = await readJsonBody(req, o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      return handleChat(ctx, req, res, body);
    }
    throw new HttpError(404, `no route ${req.method} ${path}`, "invalid_request_error", null, "not_found");
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err) => {
      if (err instanceof HttpError && err.status === 413) res.setHeader("connection", "close");
      sendError(res, err);
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}
