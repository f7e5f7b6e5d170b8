// The engine binary's argv and the backend pair it runs: the one place that knows the engine's flags
// (docs/protocol.md, "Engine flags"). cli/engine-options.ts parses the same options from the command line.

/** The prefill and decode attention backends of one engine (results' Backend adds a label). */
export interface BackendPair {
  prefill: string;
  decode: string;
}

/** The engine options argv is built from; unset ones are left to the engine's defaults. */
export interface EngineFlags {
  model: string;
  device: "cpu" | "cuda";
  dtype?: string;
  prefillAttnBackend?: string;
  decodeAttnBackend?: string;
  blockSize?: number;
  numKvBlocks?: number;
  kvCacheGb?: number;
  gpuMemoryUtilization?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  cudaGraph: boolean;
  stepDelayUs?: number;
  cpuThreads?: number;
  engineSeed?: number;
  enablePrefixCaching?: boolean;
}

/** argv for the engine binary (everything but the binary itself). */
export function engineArgs(o: EngineFlags, backend?: BackendPair): string[] {
  const a: string[] = ["--model", o.model, "--device", o.device];
  const put = (flag: string, v: string | number | undefined) => {
    if (v !== undefined) a.push(flag, String(v));
  };
  put("--dtype", o.dtype);
  put("--prefill-attn-backend", backend?.prefill ?? o.prefillAttnBackend);
  put("--decode-attn-backend", backend?.decode ?? o.decodeAttnBackend);
  put("--block-size", o.blockSize);
  put("--num-kv-blocks", o.numKvBlocks);
  put("--kv-cache-gb", o.kvCacheGb);
  put("--gpu-memory-utilization", o.gpuMemoryUtilization);
  put("--max-num-seqs", o.maxNumSeqs);
  put("--max-num-batched-tokens", o.maxNumBatchedTokens);
  if (!o.cudaGraph) a.push("--no-cuda-graph");
  put("--step-delay-us", o.stepDelayUs);
  put("--cpu-threads", o.cpuThreads);
  put("--seed", o.engineSeed);
  if (o.enablePrefixCaching) a.push("--enable-prefix-caching");
  return a;
}

// A backend the engine does not have (not built, unknown name, shape or dtype it does not support)
// is "unavailable", a note in the results; anything else that stops an engine is a failure. The
// engine's fatal message says which (attn/registry.cpp): the one pattern bench offline (the engine
// directly) and bench online (through serve) both read.
const REFUSAL = /unavailable|unknown|not built|not available|unsupported/i;

/** Is this start-up failure the engine refusing the backend pair? */
export function isBackendRefusal(message: string, backend?: BackendPair): boolean {
  const m = message.toLowerCase();
  return REFUSAL.test(m) || (backend !== undefined && (m.includes(backend.prefill) || m.includes(backend.decode)));
}

/** A backend that the ready event (or serve's /health) marks as anything but "ok": its reason, else null. */
export function unavailableReason(backends: unknown, backend: BackendPair): string | null {
  const m = backends as { prefill?: Record<string, string>; decode?: Record<string, string> } | undefined;
  const p = m?.prefill?.[backend.prefill];
  const d = m?.decode?.[backend.decode];
  if (p !== undefined && p !== "ok") return `prefill ${backend.prefill}: ${p}`;
  if (d !== undefined && d !== "ok") return `decode ${backend.decode}: ${d}`;
  return null;
}
