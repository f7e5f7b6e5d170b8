// The results-file vocabulary: one versioned zod schema that bench writes and plot/gate read.
// Raw per-request records are kept so that every metric can be recomputed later.
import { z } from "zod";

export const ONLINE_SCHEMA = "attnbench.online/1" as const;
export const OFFLINE_SCHEMA = "attnbench.offline/1" as const;

/** Percentile summary of one metric (all values in the unit named by the field holding it). */
export const StatsSchema = z.object({
  n: z.number().int().nonnegative(),
  mean: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  min: z.number(),
  max: z.number(),
});
export type Stats = z.infer<typeof StatsSchema>;

/** One token-bearing chunk as the client saw it: arrival time since run start, tokens in it. */
export const ChunkSchema = z.object({ t_ms: z.number(), n: z.number().int().positive() });

/** Raw record of one request. Times are ms since the run's t0 (first scheduled send). Dispatch
 *  lateness = sent_ms - queue_ms - scheduled_ms; fields added after attnbench.online/1 first shipped
 *  are optional, so older files still read. */
export const RequestRecordSchema = z.object({
  i: z.number().int().nonnegative(),
  id: z.string(),
  prompt_tokens: z.number().int().nonnegative(),
  max_tokens: z.number().int().positive(),
  scheduled_ms: z.number(),
  sent_ms: z.number().nullable(),
  chunks: z.array(ChunkSchema),
  end_ms: z.number().nullable(),
  output_tokens: z.number().int().nonnegative(),
  ok: z.boolean(),
  finish: z.string().nullable(),
  error: z.string().nullable(),
  /** Engine-side times (ms since the same t0; engine and harness share CLOCK_MONOTONIC). */
  engine: z
    .object({ first_tok_ms: z.number().nullable(), last_tok_ms: z.number().nullable(), done_ms: z.number().nullable() })
    .nullable(),
  /** Time spent waiting for a --max-concurrency slot before the send (0 without a cap). */
  queue_ms: z.number().nonnegative().optional(),
  /** Prompt tokens the server served from its prefix cache (usage.prompt_tokens_details), when told. */
  cached_tokens: z.number().int().nonnegative().nullable().optional(),
});
export type RequestRecord = z.infer<typeof RequestRecordSchema>;

export const BackendSchema = z.object({
  /** Display label, e.g. "fused" or "fused/naive" when prefill and decode differ. */
  label: z.string(),
  prefill: z.string(),
  decode: z.string(),
});
export type Backend = z.infer<typeof BackendSchema>;

export const RunStatusSchema = z.enum(["ok", "unavailable", "failed"]);

export const MetaSchema = z.object({
  tool: z.literal("attnbench"),
  tool_version: z.string(),
  git_sha: z.string().nullable(),
  command: z.string(),
  started_at: z.string(),
  ended_at: z.string().nullable(),
  wall_s: z.number().nullable(),
  host: z.string(),
  node_version: z.string(),
  device: z.object({
    kind: z.string(),
    name: z.string(),
    dtype: z.string(),
    driver: z.string().nullable().optional(),
    cuda: z.string().nullable().optional(),
  }),
  model: z.record(z.string(), z.unknown()),
  /** Engine flags shared by every backend run (backend flags excluded). */
  engine_flags: z.array(z.string()),
  /** The ATTNBENCH_* experiment switches the engine read and found set (its ready event's
   *  config.experiments; docs/experiments.md): they change which kernels run. Absent in older files. */
  engine_env: z.record(z.string(), z.string()).optional(),
  /** The environment fingerprint the gate compares; see src/gate. */
  fingerprint: z.record(z.string(), z.string()),
});
export type Meta = z.infer<typeof MetaSchema>;

export const OnlineSummarySchema = z.object({
  n: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  failures: z.record(z.string(), z.number().int()),
  duration_s: z.number(),
  request_throughput: z.number(),
  output_throughput: z.number(),
  total_token_throughput: z.number(),
  ttft_ms: StatsSchema,
  tpot_ms: StatsSchema,
  itl_ms: StatsSchema,
  e2e_ms: StatsSchema,
  /** Requests/s that met every --slo bound, latencies counted from the arrival (client queue included). */
  goodput: z.object({ slo: z.record(z.string(), z.number()), req_s: z.number(), fraction: z.number() }).nullable(),
  lateness_ms: StatsSchema,
  /** Waiting for a --max-concurrency slot (all zeros without a cap). */
  queue_ms: StatsSchema.optional(),
  /** Did the load generator hold its schedule (lateness p99 within the target)? */
  load_generator: z
    .object({ lateness_target_ms: z.number(), schedule_held: z.boolean(), workers: z.number().int().nonnegative(), max_concurrency: z.number().int().positive().nullable() })
    .optional(),
  /** The server's prefix cache over this run: from each request's cached_tokens, and the engine's own counters. */
  prefix_cache: z
    .object({
      /** sum(cached_tokens) / sum(prompt_tokens) over completed requests that reported cached_tokens. */
      hit_rate: z.number().nullable(),
      cached_tokens: z.number().int().nonnegative(),
      prompt_tokens: z.number().int().nonnegative(),
      /** Engine stats over the timed replay (our serve only): tokens hit / computed at admissions, evictions. */
      engine: z
        .object({ hit_tokens: z.number(), miss_tokens: z.number(), evicted_blocks: z.number(), hit_rate: z.number().nullable() })
        .nullable(),
    })
    .optional(),
  offered_rate: z.number(),
  achieved_rate: z.number(),
  /** Reasons this run's numbers should not be trusted (empty when valid). */
  invalid: z.array(z.string()),
});
export type OnlineSummary = z.infer<typeof OnlineSummarySchema>;

export const OnlineRunSchema = z.object({
  backend: BackendSchema,
  scale: z.number().positive(),
  /** Offered load: the trace's mean arrival rate divided by the scale (req/s). */
  offered_req_s: z.number().nonnegative().optional(),
  /** offered_req_s / this backend's measured capacity (--scales auto), else null. */
  load_fraction: z.number().nullable().optional(),
  status: RunStatusSchema,
  reason: z.string().nullable(),
  summary: OnlineSummarySchema.nullable(),
  records: z.array(RequestRecordSchema),
});
export type OnlineRun = z.infer<typeof OnlineRunSchema>;

export const TraceInfoSchema = z.object({
  path: z.string(),
  format: z.string(),
  sha256: z.string(),
  requests_used: z.number().int(),
  clamped: z.number().int(),
  /** Mean arrival rate of the requests used, at scale 1: (n - 1) / span (req/s). */
  rate_req_s: z.number().nonnegative().optional(),
});

/** --scales auto: one backend's capacity on the trace's request mix, and the scales chosen from it. */
export const CapacitySchema = z.object({
  backend: BackendSchema,
  status: RunStatusSchema,
  reason: z.string().nullable(),
  /** Sustained completions/s under saturation: the first 90 % of completions over first send to the last of them (load/capacity.ts). */
  req_s: z.number().nullable(),
  output_tok_s: z.number().nullable(),
  requests: z.number().int().nonnegative(),
  completed: z.number().int().nonnegative(),
  duration_s: z.number().nonnegative(),
  /** Where the capacity came from when it was not measured in this run (--capacity-from FILE). */
  from_file: z.string().optional(),
  /** Load fractions of the chosen scales run here (--auto-points: a subset), and their scales and offered req/s. */
  fractions: z.array(z.number()),
  scales: z.array(z.number().positive()),
  offered_req_s: z.array(z.number()),
});
export type Capacity = z.infer<typeof CapacitySchema>;

/** Prompts built from a trace's hash_ids (docs/traces.md, "Prefix replay") and how much they share. */
export const PrefixWorkloadSchema = z.object({
  /** Prompts were built from hash_ids (false: hash_ids ignored, e.g. text prompts). */
  replay: z.boolean(),
  /** Tokens per hash id, and where that came from (flag, trace, default). */
  trace_block_size: z.number().int().positive().nullable(),
  block_size_source: z.string().nullable(),
  /** Lines whose hash_ids count disagrees with ceil(input_length / block size). */
  mismatched_lines: z.number().int().nonnegative(),
  /** Token-level prefix sharing of the prompts sent, computed from the token ids (metrics/prefix-sharing.ts). */
  sharing_ratio: z.number(),
  /** The same ratio computed from the trace's hash_ids and the lengths sent (null without hash_ids). */
  trace_sharing_ratio: z.number().nullable(),
  /** Block level: hash ids sent that an earlier request had already sent as the same leading run, over all hash ids sent. */
  trace_block_sharing_ratio: z.number().nullable().optional(),
  /** The hit rate an unbounded engine cache with the engine's block size would reach (null: unknown block size). */
  ideal_hit_rate: z.number().nullable(),
  engine_block_size: z.number().int().positive().nullable(),
  prompt_tokens: z.number().int().nonnegative(),
  shared_tokens: z.number().int().nonnegative(),
});
export type PrefixWorkload = z.infer<typeof PrefixWorkloadSchema>;

export const OnlineResultsSchema = z.object({
  schema: z.literal(ONLINE_SCHEMA),
  meta: MetaSchema,
  trace: TraceInfoSchema,
  /** Every scale run (with --scales auto: the union over backends; see capacity). */
  scales: z.array(z.number().positive()),
  num_prompts: z.number().int().positive(),
  runs: z.array(OnlineRunSchema),
  /** "fixed": --scales list; "auto": chosen per backend from its measured capacity. */
  scale_mode: z.enum(["fixed", "auto"]).optional(),
  capacity: z.array(CapacitySchema).optional(),
  max_concurrency: z.number().int().positive().nullable().optional(),
  prefix: PrefixWorkloadSchema.nullable().optional(),
});
export type OnlineResults = z.infer<typeof OnlineResultsSchema>;

/** One timed repetition of the offline workload. */
export const OfflineRepeatSchema = z.object({
  wall_s: z.number().positive(),
  req_s: z.number(),
  output_tok_s: z.number(),
  total_tok_s: z.number(),
  valid: z.boolean(),
  invalid_reason: z.string().nullable(),
});

export const OfflineRunSchema = z.object({
  backend: BackendSchema,
  status: RunStatusSchema,
  reason: z.string().nullable(),
  /** Median over repeats (null when the run did not happen). */
  wall_s: z.number().nullable(),
  req_s: z.number().nullable(),
  output_tok_s: z.number().nullable(),
  total_tok_s: z.number().nullable(),
  total_latency_s: z.number().nullable(),
  repeats: z.array(OfflineRepeatSchema),
  /** sha256 over the greedy output token ids of every request (for cross-backend agreement). */
  outputs_sha256: z.string().nullable(),
  records: z.array(RequestRecordSchema),
  invalid: z.array(z.string()),
});
export type OfflineRun = z.infer<typeof OfflineRunSchema>;

/** Greedy agreement of one backend with the reference, split by cause (metrics/offline.ts agreementDetail). */
export const AgreementDetailSchema = z.object({
  /** Fractions of requests: identical tokens, first divergence at a near tie, a real divergence. */
  exact: z.number(),
  near_tie: z.number(),
  diverged: z.number(),
  /** Largest |logprob difference| of the same chosen token over the common prefixes. */
  max_logprob_diff: z.number(),
  /** The tolerances that made a near tie (metrics/offline.ts nearTieTolerances; absent in older files). */
  tie_tol: z.number().optional(),
  prefix_tol: z.number().optional(),
});
export type AgreementDetail = z.infer<typeof AgreementDetailSchema>;

export const OfflineResultsSchema = z.object({
  schema: z.literal(OFFLINE_SCHEMA),
  meta: MetaSchema,
  workload: z.object({
    input_len: z.number().int().positive(),
    output_len: z.number().int().positive(),
    num_prompts: z.number().int().positive(),
    seed: z.number().int(),
    repeats: z.number().int().positive(),
  }),
  runs: z.array(OfflineRunSchema),
  /** Per backend label: fraction of requests whose greedy tokens equal the reference backend's. */
  agreement: z.object({
    reference: z.string().nullable(),
    by_backend: z.record(z.string(), z.number()),
    /** Per backend label: identical / near-tie / real divergences vs the reference (see metrics/offline.ts). */
    detail: z.record(z.string(), AgreementDetailSchema).optional(),
  }),
});
export type OfflineResults = z.infer<typeof OfflineResultsSchema>;

export const AnyResultsSchema = z.discriminatedUnion("schema", [OnlineResultsSchema, OfflineResultsSchema]);
export type AnyResults = z.infer<typeof AnyResultsSchema>;
