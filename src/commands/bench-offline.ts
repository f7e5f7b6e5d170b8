// `attnbench bench offline`: fixed token-id prompts straight into the engine (no HTTP), per backend.
import { Command } from "commander";
import { z } from "zod";
import { join } from "node:path";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { addEngineOptions, EngineOptionsSchema, sharedEngineFlags } from "../cli/engine-options.js";
import { addBenchOptions, backendsConflict, BenchCommonSchema, resolveBackends } from "../cli/bench-options.js";
import { int } from "../cli/schemas.js";
import { onTerminate } from "../cli/signals.js";
import { isBackendRefusal, startEngine, unavailableReason } from "../engine/start.js";
import type { EngineClient } from "../engine/client.js";
import type { ReadyEvent } from "../engine/events.js";
import { OFFLINE_SCHEMA, OfflineResultsSchema, type Backend, type OfflineResults, type OfflineRun } from "../results/schema.js";
import { buildMeta, finishMeta } from "../results/meta.js";
import { runDirName, writeResults } from "../results/writer.js";
import { plotAfterBench } from "../results/plot-hook.js";
import { agreement, agreementDetail, nearTieTolerances, type AgreementDetail, type ScoredOutputs } from "../metrics/offline.js";
import { runOffline, summarizeRepeats, type OfflineOutcome } from "../load/offline-run.js";
import { syntheticPrompt } from "../load/prompts.js";
import { Progress } from "../progress/progress.js";
import { offlineVerdict, verdictLines } from "../report/run-verdict.js";

const OfflineSchema = z
  .intersection(
    z.intersection(EngineOptionsSchema, BenchCommonSchema),
    z.object({
      inputLen: int(1).default(256),
      outputLen: int(1).default(64),
      numPrompts: int(1).default(128),
      repeats: int(1).default(3),
      warmupPrompts: int(1).optional(),
    }),
  )
  .superRefine((o, ctx) => {
    if (backendsConflict(o)) ctx.addIssue({ code: "custom", path: ["backends"], message: "give --backends or --prefill/--decode-attn-backend, not both" });
  });

export const benchOfflineCommand = addBenchOptions(
  addEngineOptions(new Command("offline").description("offline throughput: fixed token-id prompts submitted at once to the engine, per backend")),
)
  .option("--input-len <tokens>", "prompt length of every request", "256")
  .option("--output-len <tokens>", "output tokens of every request (greedy, ignore_eos)", "64")
  .option("--num-prompts <n>", "requests per repeat", "128")
  .option("--repeats <n>", "timed repeats per backend (the summary is their median)", "3")
  .option("--warmup-prompts <n>", "prompts in the untimed warm-up pass (default: min(num-prompts, 16))")
  .action(action(async (raw: Record<string, unknown>) => benchOffline(parseOptions(OfflineSchema, raw))));

type Opts = z.infer<typeof OfflineSchema>;

async function benchOffline(o: Opts): Promise<void> {
  const startedAt = new Date();
  const stamp = runDirName("offline", startedAt);
  const resultsPath = join(o.out, stamp, "offline_results.json");
  const backends = resolveBackends(o);
  const progress = new Progress();
  const workload = { input_len: o.inputLen, output_len: o.outputLen, num_prompts: o.numPrompts, seed: o.seed, repeats: o.repeats };
  const runs: OfflineRun[] = [];
  const outputsByLabel = new Map<string, number[][]>();
  const scoredByLabel = new Map<string, ScoredOutputs>();
  let ready: ReadyEvent | null = null;
  let current: { backend: Backend; engine: EngineClient | null; partial?: OfflineOutcome["run"] } | null = null;

  const results = (): OfflineResults => {
    const meta = buildMeta({ startedAt, ready, engineFlags: sharedEngineFlags(o), workload: { workload: `offline in=${o.inputLen} out=${o.outputLen} n=${o.numPrompts} seed=${o.seed}` } });
    const ref = runs.find((r) => outputsByLabel.has(r.backend.label))?.backend.label ?? null;
    const by_backend: Record<string, number> = {};
    if (ref) for (const [label, outs] of outputsByLabel) by_backend[label] = agreement(outputsByLabel.get(ref)!, outs);
    const detail: Record<string, AgreementDetail> = {};
    const refScored = ref ? scoredByLabel.get(ref) : undefined;
    const tols = nearTieTolerances(meta.device.dtype);
    if (refScored) for (const [label, sc] of scoredByLabel) detail[label] = agreementDetail(refScored, sc, tols.tie_tol, tols.prefix_tol);
    return { schema: OFFLINE_SCHEMA, meta: finishMeta(meta, startedAt), workload, runs, agreement: { reference: ref, by_backend, detail } };
  };
  const flush = () => writeResults(resultsPath, OfflineResultsSchema, results());
  onTerminate(async () => {
    if (current) {
      current.engine?.kill();
      const partial = current.partial;
      if (partial) {
        summarizeRepeats(partial, null);
        partial.invalid.push("interrupted: only the repeats finished before the signal are here");
        runs.push({ backend: current.backend, status: "failed", reason: "interrupted (signal)", ...partial });
      } else runs.push(emptyRun(current.backend, "failed", "interrupted (signal)"));
    }
    flush();
    progress.log(`partial results: ${resultsPath}`);
  });

  for (const backend of backends) {
    current = { backend, engine: null };
    progress.log(`backend ${backend.label}: starting engine`);
    let engine: EngineClient;
    try {
      engine = await startEngine(o, backend);
    } catch (err) {
      const status = isBackendRefusal(err, backend) ? "unavailable" : "failed";
      progress.log(`backend ${backend.label}: ${status}: ${(err as Error).message}`);
      runs.push(emptyRun(backend, status, (err as Error).message));
      flush();
      continue;
    }
    current.engine = engine;
    ready ??= engine.ready;
    const why = unavailableReason(engine.ready, backend);
    if (why) {
      runs.push(emptyRun(backend, "unavailable", why));
      await engine.shutdown(3000);
      flush();
      continue;
    }
    const { vocab_size, n_ctx, eos_token_id } = engine.ready.model;
    if (o.inputLen + o.outputLen > n_ctx) {
      await engine.shutdown(3000);
      throw new UsageError([`--input-len: ${o.inputLen} + --output-len ${o.outputLen} exceed the model's context of ${n_ctx}`]);
    }
    const prompts = Array.from({ length: o.numPrompts }, (_, i) => syntheticPrompt(o.seed, i, o.inputLen, vocab_size, eos_token_id));
    const outcome = await runOffline(
      engine,
      { prompts, outputLen: o.outputLen, repeats: o.repeats, warmupPrompts: o.warmupPrompts ?? Math.min(o.numPrompts, 16) },
      (phase, done, total) => progress.update({ phase: `offline ${backend.label} ${phase}`, done, total }),
      (partial) => {
        if (current) current.partial = partial;
      },
    );
    progress.endLine();
    const status = outcome.died ? "failed" : "ok";
    runs.push({ backend, status, reason: outcome.died, ...outcome.run });
    if (outcome.outputs && !outcome.died) outputsByLabel.set(backend.label, outcome.outputs);
    if (outcome.scored && !outcome.died) scoredByLabel.set(backend.label, outcome.scored);
    await engine.shutdown(3000);
    current = null;
    flush();
    const r = runs[runs.length - 1];
    progress.log(
      status === "ok"
        ? `backend ${backend.label}: ${r.wall_s!.toFixed(3)} s, ${r.req_s!.toFixed(1)} req/s, ${r.output_tok_s!.toFixed(0)} output tok/s, ${r.total_tok_s!.toFixed(0)} total tok/s${r.invalid.length ? ` (INVALID: ${r.invalid[0]})` : ""}`
        : `backend ${backend.label}: failed: ${outcome.died}`,
    );
  }
  current = null;
  flush();
  const final = results();
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  for (const [label, a] of Object.entries(final.agreement.by_backend)) {
    if (label === final.agreement.reference) continue;
    const d = final.agreement.detail?.[label];
    const more = d
      ? `; of the rest: ${pct(d.near_tie)} diverge at a near tie, ${pct(d.diverged)} really diverge; max |Δ logprob| on common prefixes ${d.max_logprob_diff.toExponential(1)}`
      : "";
    progress.log(`greedy agreement ${label} vs ${final.agreement.reference}: ${pct(a)} identical${more}`);
  }
  process.stdout.write(`${resultsPath}\n`);
  if (o.plot) await plotAfterBench(resultsPath, o.out, stamp, (s) => progress.log(s));
  const verdict = offlineVerdict(final);
  for (const line of verdictLines(verdict)) progress.log(line);
  process.exitCode = verdict.exitCode;
}

function emptyRun(backend: Backend, status: "unavailable" | "failed", reason: string): OfflineRun {
  return { backend, status, reason, wall_s: null, req_s: null, output_tok_s: null, total_tok_s: null, total_latency_s: null, repeats: [], outputs_sha256: null, records: [], invalid: [] };
}
