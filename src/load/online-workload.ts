// From a trace to the requests an online run sends: first N, clamped to the model, with prompts.
// Traces with hash_ids (Mooncake / Qwen) get prefix-faithful prompts (load/prefix-prompts.ts) unless
// --no-prefix-replay; every token-id workload is measured for prefix sharing.
import type { LoadedTrace } from "../traces/load.js";
import { clampTrace } from "../traces/clamp.js";
import { hashIdSharing } from "../traces/hash-ids.js";
import type { PrefixWorkload } from "../results/schema.js";
import { prefixSharing } from "../metrics/prefix-sharing.js";
import type { OnlineItem } from "./online-run.js";
import { syntheticPrompt } from "./prompts.js";
import { HashBlockPrompts } from "./prefix-prompts.js";
import { textPrompt } from "./text-prompts.js";
import type { TextTokenizer } from "../tokenizer/types.js";

export interface ModelLimits {
  nCtx: number;
  vocab: number;
  eos?: number | null;
  /** The engine's KV block size, when known (for the ideal prefix-cache hit rate). */
  blockSize?: number | null;
}

export interface WorkloadOptions {
  numPrompts: number;
  maxInputLen?: number;
  maxOutputLen?: number;
  seed: number;
  promptFormat: "ids" | "text";
  /** Build prompts from hash_ids when the trace has them (default true). */
  prefixReplay?: boolean;
  /** Text prompts are exact lengths in this tokenizer's tokens. */
  tokenizer?: TextTokenizer;
}

export interface OnlineWorkload {
  items: OnlineItem[];
  clamped: number;
  /** Prefix sharing of the prompts (null for text prompts); `replay` says whether hash_ids were used. */
  prefix: PrefixWorkload | null;
  /** Why hash_ids were not used, when a trace has them. */
  prefixNote: string | null;
}

export function buildOnlineItems(trace: LoadedTrace, model: ModelLimits, o: WorkloadOptions): OnlineWorkload {
  const first = trace.requests.slice(0, o.numPrompts);
  const { requests, clamped } = clampTrace(first, { nCtx: model.nCtx, maxInputLen: o.maxInputLen, maxOutputLen: o.maxOutputLen });
  const blocks = trace.hashBlocks ?? null;
  let prefixNote: string | null = null;
  if (blocks && o.promptFormat === "text") prefixNote = "hash_ids ignored: text prompts cannot share exact token prefixes (use --prompt-format ids)";
  else if (blocks && o.prefixReplay === false) prefixNote = "hash_ids ignored (--no-prefix-replay)";
  const replay = blocks !== null && prefixNote === null;
  const hashPrompts = replay ? new HashBlockPrompts(o.seed, blocks.blockSize, model.vocab, model.eos) : null;
  const items = requests.map((r, i) => ({
    i,
    t_s: r.t_s,
    prompt:
      o.promptFormat === "text"
        ? textPrompt(o.seed, i, r.input_tokens, o.tokenizer)
        : hashPrompts && first[i].hash_ids
          ? hashPrompts.prompt(i, first[i].hash_ids!, r.input_tokens)
          : syntheticPrompt(o.seed, i, r.input_tokens, model.vocab, model.eos),
    promptTokens: r.input_tokens,
    maxTokens: r.output_tokens,
  }));
  let prefix: PrefixWorkload | null = null;
  if (o.promptFormat === "ids") {
    const sharing = prefixSharing(items.map((it) => it.prompt as number[]), model.blockSize ?? null);
    const fromIds = replay ? hashIdSharing(first, requests.map((r) => r.input_tokens), blocks!.blockSize) : null;
    prefix = {
      replay,
      trace_block_size: blocks?.blockSize ?? null,
      block_size_source: blocks?.source ?? null,
      mismatched_lines: blocks ? first.filter((r) => r.hash_ids && Math.ceil(r.input_tokens / blocks.blockSize) !== r.hash_ids.length).length : 0,
      sharing_ratio: sharing.sharing_ratio,
      trace_sharing_ratio: fromIds?.ratio ?? null,
      trace_block_sharing_ratio: fromIds?.block_ratio ?? null,
      ideal_hit_rate: sharing.ideal_hit_rate,
      engine_block_size: sharing.block_size,
      prompt_tokens: sharing.prompt_tokens,
      shared_tokens: sharing.shared_tokens,
    };
  }
  return { items, clamped, prefix, prefixNote };
}
