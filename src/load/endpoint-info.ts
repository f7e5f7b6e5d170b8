// What `bench online --endpoint` learns from the server before it sends anything: the model and its
// context from GET /v1/models (`max_model_len`, as vLLM and our own serve report it), and, where the
// server offers it, vocabulary, EOS, device and dtype from GET /health (our serve's JSON; vLLM's
// /health is an empty 200 and says nothing). Flags given by the user win over what the server says.
import { z } from "zod";

const ModelsSchema = z.object({
  data: z.array(z.object({ id: z.string(), max_model_len: z.number().int().positive().nullish() }).passthrough()),
});

// Only the fields we use; anything else (or a body that is not JSON) means "not offered".
const HealthSchema = z.object({
  model: z
    .object({
      name: z.string().optional(),
      vocab_size: z.number().int().positive().optional(),
      eos_token_id: z.number().int().nullable().optional(),
      n_ctx: z.number().int().positive().optional(),
    })
    .passthrough()
    .optional(),
  device: z
    .object({ kind: z.string().optional(), name: z.string().optional(), dtype: z.string().optional(), driver: z.string().nullish(), cuda: z.string().nullish() })
    .passthrough()
    .optional(),
});

export interface EndpointInfo {
  /** Model id to send (the first listed, unless --served-model-name). */
  modelId: string;
  /** Context to clamp prompts to; null when neither the server nor a flag says. */
  maxModelLen: number | null;
  vocabSize: number;
  eosTokenId: number | null;
  device: { kind: string; name: string; dtype: string; driver: string | null; cuda: string | null };
  /** Where each value came from, for the log ("vocab 1024 from /health"). */
  sources: string[];
  /** Things we had to assume. */
  warnings: string[];
}

export interface EndpointOverrides {
  servedModelName?: string;
  vocabSize?: number;
  maxModelLen?: number;
  apiKey?: string;
}

/** The GPT-2 vocabulary, assumed for token-id prompts when nobody says otherwise. */
export const FALLBACK_VOCAB = 50257;

function headers(apiKey?: string): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export async function fetchModels(url: string, apiKey?: string): Promise<z.infer<typeof ModelsSchema>["data"]> {
  const res = await fetch(`${url}/v1/models`, { headers: headers(apiKey) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}/v1/models: HTTP ${res.status}: ${text.slice(0, 200)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}/v1/models: not JSON: ${text.slice(0, 120)}`);
  }
  const parsed = ModelsSchema.safeParse(body);
  if (!parsed.success) throw new Error(`GET ${url}/v1/models: unexpected body (${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message})`);
  if (parsed.data.data.length === 0) throw new Error(`GET ${url}/v1/models lists no model`);
  return parsed.data.data;
}

/** /health's JSON when the server offers one; null otherwise (missing, not JSON, not 200). */
export async function fetchHealth(url: string, apiKey?: string): Promise<z.infer<typeof HealthSchema> | null> {
  try {
    const res = await fetch(`${url}/health`, { headers: headers(apiKey), signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) return null;
    const r = HealthSchema.safeParse(JSON.parse(await res.text()));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export async function learnEndpoint(url: string, o: EndpointOverrides): Promise<EndpointInfo> {
  const models = await fetchModels(url, o.apiKey);
  const health = await fetchHealth(url, o.apiKey);
  const sources: string[] = [];
  const warnings: string[] = [];
  let card = models[0];
  if (o.servedModelName) {
    card = models.find((m) => m.id === o.servedModelName) ?? card;
    if (card.id !== o.servedModelName) warnings.push(`--served-model-name ${o.servedModelName} is not listed in /v1/models (${models.map((m) => m.id).join(", ")})`);
  }
  const modelId = o.servedModelName ?? card.id;

  // The first source that has a value wins: flag, /v1/models, /health.
  const pick = (what: string, options: [number | null | undefined, string][]): number | null => {
    for (const [v, from] of options)
      if (v !== undefined && v !== null) {
        sources.push(`${what} ${v} from ${from}`);
        return v;
      }
    return null;
  };
  const maxModelLen = pick("context", [[o.maxModelLen, "--max-model-len"], [card.max_model_len, "/v1/models"], [health?.model?.n_ctx, "/health"]]);
  if (maxModelLen === null) warnings.push("the server reports no max_model_len: prompts are not clamped to a context (give --max-model-len)");
  let vocabSize = pick("vocabulary", [[o.vocabSize, "--vocab-size"], [health?.model?.vocab_size, "/health"]]);
  if (vocabSize === null) {
    vocabSize = FALLBACK_VOCAB;
    warnings.push(`the server does not report its vocabulary: token-id prompts assume ${FALLBACK_VOCAB} (GPT-2); give --vocab-size`);
  }

  const d = health?.device;
  const device = {
    kind: d?.kind ?? "remote",
    name: d?.name ?? url,
    dtype: d?.dtype ?? "unknown",
    driver: d?.driver ?? null,
    cuda: d?.cuda ?? null,
  };
  if (d?.name) sources.push(`device ${d.name} (${d.dtype ?? "dtype ?"}) from /health`);
  return { modelId, maxModelLen, vocabSize, eosTokenId: health?.model?.eos_token_id ?? null, device, sources, warnings };
}
