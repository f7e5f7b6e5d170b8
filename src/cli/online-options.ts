// `bench online` options: trace, scales, load shape, SLOs, endpoint. Defaults follow vllm bench serve.
import { Command } from "commander";
import { z } from "zod";
import { EngineOptionsSchema } from "./engine-options.js";
import { backendsConflict, BenchCommonSchema } from "./bench-options.js";
import { int, keyValueList, optInt } from "./schemas.js";
import { parseScales } from "./scales.js";
import { TRACE_FORMATS } from "../traces/load.js";
import { DEFAULT_TRACE } from "../core/paths.js";

export const DEFAULT_SCALES = "0.4,0.5,0.6,0.8,1.6";

const rate = z.union([z.literal("inf").transform(() => Infinity), z.coerce.number().positive()]);

export const OnlineSchema = z
  .intersection(
    z.intersection(EngineOptionsSchema, BenchCommonSchema),
    z.object({
      trace: z.string().min(1).default(DEFAULT_TRACE),
      traceFormat: z.enum(TRACE_FORMATS).default("auto"),
      timestampUnit: z.enum(["ms", "s"]).optional(),
      numPrompts: int(1).default(200),
      scales: z
        .string()
        .default(DEFAULT_SCALES)
        .transform((s, ctx) => {
          try {
            return parseScales(s);
          } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message });
            return z.NEVER;
          }
        }),
      capacityRequests: optInt(1),
      capacityFrom: z.string().min(1).optional(),
      autoPoints: z
        .string()
        .optional()
        .transform((s, ctx) => {
          if (s === undefined) return undefined;
          const parts = s.split(",").map((p) => p.trim());
          if (parts.some((p) => !/^[1-9][0-9]*$/.test(p))) {
            ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)}: a comma-separated list of point numbers (1 = the lightest load)` });
            return z.NEVER;
          }
          const points = parts.map(Number);
          if (new Set(points).size !== points.length) {
            ctx.addIssue({ code: "custom", message: "each point once" });
            return z.NEVER;
          }
          return points;
        }),
      maxConcurrency: optInt(1),
      loadWorkers: optInt(0, 64),
      latenessTargetMs: z.coerce.number().positive().default(1),
      traceBlockSize: optInt(1, 1 << 20),
      prefixReplay: z.boolean().default(true),
      requestRate: rate.optional(),
      burstiness: z.coerce.number().positive().optional(),
      inputLen: optInt(1),
      outputLen: optInt(1),
      maxInputLen: optInt(1),
      maxOutputLen: optInt(1),
      ignoreEos: z.boolean().default(false),
      endpoint: z.string().url().optional(),
      promptFormat: z.enum(["ids", "text"]).optional(),
      endpointType: z.enum(["completions", "chat"]).default("completions"),
      tokenizer: z.string().min(1).optional(),
      apiKey: z.string().min(1).optional(),
      servedModelName: z.string().min(1).optional(),
      vocabSize: optInt(2),
      maxModelLen: optInt(2),
      slo: keyValueList(["ttft_ms", "tpot_ms", "e2e_ms"] as const).optional(),
      itlMode: z.enum(["chunk", "token"]).default("chunk"),
      maxLatenessMs: z.coerce.number().positive().default(50),
      warmupRequests: int(0).default(3),
      requestTimeoutS: z.coerce.number().positive().default(600),
      verbose: z.boolean().default(false),
    }),
  )
  .superRefine((o, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    const synthetic = o.trace.startsWith("synthetic:");
    if (synthetic && !["synthetic:poisson", "synthetic:gamma"].includes(o.trace)) issue("trace", `unknown synthetic trace ${o.trace} (synthetic:poisson or synthetic:gamma)`);
    if (!synthetic)
      for (const k of ["requestRate", "burstiness", "inputLen", "outputLen"] as const)
        if (o[k] !== undefined) issue(k, `only applies to --trace synthetic:poisson|synthetic:gamma`);
    if (o.trace === "synthetic:poisson" && o.burstiness !== undefined && o.burstiness !== 1) issue("burstiness", "synthetic:poisson has burstiness 1; use synthetic:gamma");
    if (synthetic && o.traceFormat !== "auto") issue("traceFormat", "does not apply to synthetic traces");
    if (o.timestampUnit && !(o.traceFormat === "mooncake" || o.traceFormat === "auto")) issue("timestampUnit", "only applies to mooncake traces");
    if (o.capacityRequests !== undefined && o.scales?.mode !== "auto") issue("capacityRequests", "only applies to --scales auto");
    if (o.capacityFrom !== undefined && o.scales?.mode !== "auto") issue("capacityFrom", "only applies to --scales auto");
    if (o.capacityFrom !== undefined && o.capacityRequests !== undefined) issue("capacityFrom", "the capacity is read, not measured: drop --capacity-requests");
    if (o.autoPoints !== undefined) {
      const sc = o.scales;
      if (sc?.mode !== "auto") issue("autoPoints", "only applies to --scales auto");
      else {
        const bad = o.autoPoints.filter((k) => k > sc.points);
        if (bad.length) issue("autoPoints", `point(s) ${bad.join(", ")} past auto:${sc.points}`);
      }
    }
    if (o.traceBlockSize !== undefined && synthetic) issue("traceBlockSize", "only applies to traces with hash_ids (Mooncake / Qwen)");
    if (backendsConflict(o)) issue("backends", "give --backends or --prefill/--decode-attn-backend, not both");
    if (o.endpoint && o.backends && o.backends.length > 1) issue("backends", "--endpoint benchmarks one server: give at most one backend label");
    if (o.endpointType === "chat" && o.promptFormat === "ids") issue("promptFormat", "chat requests carry text: --endpoint-type chat needs --prompt-format text (its default)");
    if (!o.endpoint) for (const k of ["vocabSize", "maxModelLen"] as const) if (o[k] !== undefined) issue(k, "only applies to --endpoint (our own server reports its model)");
  });
export type OnlineOptions = z.infer<typeof OnlineSchema>;

/** ids for completions unless asked otherwise; chat messages are text. */
export function promptFormatOf(o: Pick<OnlineOptions, "promptFormat" | "endpointType">): "ids" | "text" {
  return o.promptFormat ?? (o.endpointType === "chat" ? "text" : "ids");
}

export function addOnlineOptions(cmd: Command): Command {
  return cmd
    .option("--trace <path>", "request trace file (default: the Azure 2023 conversation trace shipped in traces/), or synthetic:poisson / synthetic:gamma")
    .option("--trace-format <fmt>", "auto, jsonl (docs/traces.md), azure (CSV) or mooncake (JSONL)", "auto")
    .option("--timestamp-unit <unit>", "mooncake timestamps in ms or s (default: auto: all integers -> ms, else s)")
    .option("--num-prompts <n>", "use the first N requests of the trace", "200")
    .option("--scales <list>", "arrival-time scales (t' = (t - t0) x scale, smaller = heavier load), or auto / auto:N: measure each backend's capacity, then N scales offering 10%..110% of it (auto: N = 5)", DEFAULT_SCALES)
    .option("--capacity-requests <n>", "--scales auto: requests in the saturating capacity run (default: --num-prompts; the trace's requests, cycled)")
    .option("--capacity-from <file>", "--scales auto: each backend's capacity from an earlier online results file of the same trace and requests, instead of measuring it (a sweep split over calls)")
    .option("--auto-points <list>", "--scales auto: run only these of the N scales (1 = the lightest load), e.g. 1 in one call and 2,3,4,5 in another; scripts/merge-online.ts joins them")
    .option("--max-concurrency <n>", "at most N requests in flight; later arrivals wait in a client queue, recorded per request as queue_ms (default: no cap)")
    .option("--load-workers <n>", "worker threads that keep the schedule (each its share) and stream the responses (0: this thread does both; default: min(4, cores - 2), 0 below 4 cores)")
    .option("--lateness-target-ms <ms>", "dispatch lateness p99 the load generator aims for; above it the run says the schedule was not held", "1")
    .option("--trace-block-size <tokens>", "tokens per hash id of a Mooncake/Qwen trace (default: what the trace's lengths imply, else 512)")
    .option("--no-prefix-replay", "ignore a trace's hash_ids: unrelated random prompts instead of shared prefixes")
    .option("--request-rate <req/s>", "synthetic traces: mean arrival rate in requests/s, or inf (default: 10)")
    .option("--burstiness <k>", "synthetic:gamma: gamma shape of the inter-arrival times; 1 = Poisson (default: 1)")
    .option("--input-len <tokens>", "synthetic traces: prompt length (default: 64)")
    .option("--output-len <tokens>", "synthetic traces: output length (default: 32)")
    .option("--max-input-len <tokens>", "clamp every prompt to at most this many tokens")
    .option("--max-output-len <tokens>", "clamp every output to at most this many tokens")
    .option("--ignore-eos", "ask for exactly max_tokens output tokens (the trace's output length)")
    .option("--endpoint <url>", "benchmark this running OpenAI-compatible server instead of spawning serve")
    .option("--prompt-format <fmt>", "ids (token-id arrays) or text of the exact length in --tokenizer's tokens (default: r50k for --endpoint, else the model's tokenizer) (default: ids; text for --endpoint-type chat)")
    .option("--endpoint-type <type>", "completions (POST /v1/completions) or chat (POST /v1/chat/completions, one user message per request)", "completions")
    .option("--tokenizer <dir>", "tokenizer directory (tokenizer.json) for text prompts, also given to our serve (default: the model's; r50k for --endpoint)")
    .option("--api-key <key>", "Bearer token for the server")
    .option("--served-model-name <name>", "model name to send (default: the server's first in /v1/models)")
    .option("--vocab-size <n>", "--endpoint: vocabulary for synthetic token ids (default: the server's, from GET /health; else 50257)")
    .option("--max-model-len <tokens>", "--endpoint: context that prompts are clamped to (default: the server's max_model_len from GET /v1/models)")
    .option("--slo <list>", "goodput SLOs in ms, e.g. ttft_ms=200,tpot_ms=50,e2e_ms=2000 (failures count as misses)")
    .option("--itl-mode <mode>", "chunk: one ITL per gap between chunks (vLLM); token: gaps spread over the chunk's tokens", "chunk")
    .option("--max-lateness-ms <ms>", "mark a run invalid when dispatch lateness p99 exceeds this (default: $ATTNBENCH_MAX_LATENESS_MS, else 50)", process.env.ATTNBENCH_MAX_LATENESS_MS ?? "50")
    .option("--warmup-requests <n>", "short untimed requests before each run", "3")
    .option("--request-timeout-s <s>", "give up on one request after this long", "600")
    .option("--verbose", "copy serve's and the engine's logs to stderr");
}
