// The engine's flags, shared by every command that starts an engine, and their pass-through argv.
// Flags left unset are not passed, so the engine's own defaults (docs/protocol.md) apply.
import { Command } from "commander";
import { z } from "zod";
import { optInt, optNum } from "./schemas.js";
import { resolveEnginePath } from "../core/paths.js";
import { engineArgs, type BackendPair } from "../engine/args.js";

export { engineArgs, type BackendPair };

export const EngineOptionsSchema = z
  .object({
    model: z.string().min(1).default("synthetic:tiny"),
    device: z.enum(["cpu", "cuda"]).default("cpu"),
    dtype: z.enum(["fp32", "fp16", "bf16"]).optional(),
    prefillAttnBackend: z.string().min(1).optional(),
    decodeAttnBackend: z.string().min(1).optional(),
    blockSize: optInt(1, 1024),
    numKvBlocks: optInt(1),
    kvCacheGb: optNum(0.001, 4096),
    gpuMemoryUtilization: optNum(0.01, 1),
    maxNumSeqs: optInt(1),
    maxNumBatchedTokens: optInt(1),
    cudaGraph: z.boolean().default(true),
    stepDelayUs: optInt(0),
    cpuThreads: optInt(1, 1024),
    engineSeed: optInt(0),
    enablePrefixCaching: z.boolean().default(false),
    engine: z.string().optional(),
    readyTimeoutS: z.coerce.number().positive().default(300),
  })
  .superRefine((o, ctx) => {
    if (o.device === "cpu" && o.dtype && o.dtype !== "fp32")
      ctx.addIssue({ code: "custom", path: ["dtype"], message: `--device cpu supports fp32 only, got ${o.dtype}` });
    if (o.numKvBlocks !== undefined && o.kvCacheGb !== undefined)
      ctx.addIssue({ code: "custom", path: ["numKvBlocks"], message: "give --num-kv-blocks or --kv-cache-gb, not both" });
    if (o.gpuMemoryUtilization !== undefined && o.device !== "cuda")
      ctx.addIssue({ code: "custom", path: ["gpuMemoryUtilization"], message: "--gpu-memory-utilization applies to --device cuda only" });
  });
export type EngineOptions = z.infer<typeof EngineOptionsSchema>;

/** Register the engine flags on a command. `backendFlags` false for bench (it has --backends). */
export function addEngineOptions(cmd: Command, backendFlags = true): Command {
  cmd
    .option(
      "--model <name>",
      "Hugging Face model directory (GPT-2, Llama, Mistral, Qwen2, Qwen3) or synthetic:<preset> (tiny, gpt2..gpt2-xl, llama-tiny, llama-3.2-1b, llama-3.1-8b, qwen2-tiny, qwen3-tiny, qwen3-0.6b, qwen3-8b)",
      "synthetic:tiny",
    )
    .option("--device <kind>", "cpu or cuda", "cpu")
    .option("--dtype <type>", "fp32, fp16 or bf16 (default: the engine's: fp32 on cpu, fp16 on cuda)");
  if (backendFlags)
    cmd
      .option("--prefill-attn-backend <name>", "attention backend for prefill (default: the engine's, naive)")
      .option("--decode-attn-backend <name>", "attention backend for decode (default: the engine's, naive)");
  return cmd
    .option("--block-size <tokens>", "tokens per KV-cache block (default: the engine's, 16)")
    .option("--num-kv-blocks <n>", "KV-cache blocks in the pool (default: derived from --kv-cache-gb)")
    .option("--kv-cache-gb <GiB>", "KV-cache pool size in GiB (default: the engine's: 0.25 cpu; cuda: from --gpu-memory-utilization)")
    .option("--gpu-memory-utilization <fraction>", "cuda: fraction of GPU memory for the engine; what weights and buffers leave becomes KV cache (default: the engine's, 0.9)")
    .option("--max-num-seqs <n>", "running sequences per engine step (default: the engine's, 256)")
    .option("--max-num-batched-tokens <tokens>", "token budget per engine step (default: the engine's: 2048 cpu, 8192 cuda)")
    .option("--no-cuda-graph", "disable CUDA graphs for decode (default: on for cuda)")
    .option("--step-delay-us <us>", "planted slowdown: sleep this many microseconds per engine step (default: 0)")
    .option("--cpu-threads <n>", "engine threads for the CPU device (default: the engine's, all cores)")
    .option("--engine-seed <n>", "engine --seed: synthetic weights and default sampling seed (default: the engine's, 0)")
    .option("--enable-prefix-caching", "reuse the KV blocks of cached prompt prefixes (engine flag; default: off)")
    .option("--engine <path>", "engine binary (default: $ATTNBENCH_ENGINE, else native/build/attnbench-engine in the package)")
    .option("--ready-timeout-s <seconds>", "how long to wait for the engine's ready event", "300");
}

/** The same flags as `attnbench` options (for spawning `attnbench serve` as a child). */
export function engineCliArgs(o: EngineOptions, backend?: BackendPair): string[] {
  const a = engineArgs(o, backend).map((x) => (x === "--seed" ? "--engine-seed" : x));
  if (o.engine) a.push("--engine", resolveEnginePath(o.engine));
  a.push("--ready-timeout-s", String(o.readyTimeoutS));
  return a;
}

/** Engine flags minus the backend choice: what every backend run of a bench shares. */
export function sharedEngineFlags(o: EngineOptions): string[] {
  const a = engineArgs({ ...o, prefillAttnBackend: undefined, decodeAttnBackend: undefined });
  return a;
}
