// `attnbench generate`: one prompt through the engine protocol; prints one JSON object.
import { Command } from "commander";
import { z } from "zod";
import { action, parseOptions, UsageError } from "../cli/errors.js";
import { addEngineOptions, EngineOptionsSchema } from "../cli/engine-options.js";
import { int, num, numberList } from "../cli/schemas.js";
import { startEngine } from "../engine/start.js";
import { resolveTokenizer } from "../tokenizer/resolve.js";

const GenerateSchema = z
  .intersection(
    EngineOptionsSchema,
    z.object({
      promptIds: numberList(z.coerce.number().int().nonnegative()).optional(),
      prompt: z.string().min(1).optional(),
      maxTokens: int(1).default(16),
      temperature: num(0, 2).default(1),
      topP: z.coerce.number().gt(0).max(1).default(1),
      topK: int(0).default(0),
      seed: int(0).optional(),
      ignoreEos: z.boolean().default(false),
      stopTokenIds: numberList(z.coerce.number().int().nonnegative()).optional(),
      tokenizer: z.string().min(1).optional(),
    }),
  )
  .superRefine((o, ctx) => {
    if ((o.promptIds === undefined) === (o.prompt === undefined))
      ctx.addIssue({ code: "custom", path: ["promptIds"], message: "give exactly one of --prompt-ids and --prompt" });
  });

export const generateCommand = addEngineOptions(
  new Command("generate").description("generate from one prompt through the engine; prints {tokens, text, logprobs, ...} as JSON"),
)
  .option("--prompt-ids <ids>", "prompt as comma-separated token ids, e.g. 1,2,3")
  .option("--prompt <text>", "prompt as text, through the model's tokenizer (r50k for GPT-2 models: ids folded with id % vocab on small-vocab ones)")
  .option("--tokenizer <dir>", "tokenizer directory (tokenizer.json) instead of the model's")
  .option("--max-tokens <n>", "tokens to generate", "16")
  .option("--temperature <t>", "sampling temperature (0 = greedy)", "1")
  .option("--top-p <p>", "nucleus sampling mass in (0, 1]", "1")
  .option("--top-k <k>", "sample from the k most likely tokens (0 = off)", "0")
  .option("--seed <n>", "sampling seed (default: the engine's seed mixed with the request id)")
  .option("--ignore-eos", "keep generating past the end-of-sequence token")
  .option("--stop-token-ids <ids>", "comma-separated token ids that end generation")
  .action(
    action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(GenerateSchema, raw);
      const engine = await startEngine(o);
      try {
        const { vocab_size, n_ctx } = engine.ready.model;
        let choice;
        try {
          choice = resolveTokenizer(o.model, vocab_size, o.tokenizer);
        } catch (err) {
          throw new UsageError([(err as Error).message]);
        }
        const tok = choice.tokenizer;
        if (o.prompt !== undefined && !tok) throw new UsageError([`--prompt: ${choice.why}`]);
        const prompt = o.promptIds ?? tok!.encode(o.prompt!, true);
        const problems: string[] = [];
        const bad = prompt.find((t) => t >= vocab_size);
        if (bad !== undefined) problems.push(`--prompt-ids: token id ${bad} is outside the model's vocabulary [0, ${vocab_size})`);
        if (prompt.length + o.maxTokens > n_ctx)
          problems.push(`--max-tokens: ${prompt.length} prompt tokens + ${o.maxTokens} exceed the model's context of ${n_ctx}`);
        if (problems.length) throw new UsageError(problems);
        const r = await engine.run({
          id: "generate",
          prompt,
          max_tokens: o.maxTokens,
          temperature: o.temperature,
          top_p: o.topP,
          top_k: o.topK,
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ignore_eos: o.ignoreEos,
          stop_token_ids: o.stopTokenIds ?? [],
          logprobs: true,
        });
        if (r.done.finish === "error") throw new Error(r.done.error ?? "engine error");
        const out = {
          model: engine.ready.model.name,
          prompt_ids: prompt,
          tokens: r.tokens,
          text: tok ? tok.decode(r.tokens) : null,
          logprobs: r.logprobs,
          finish: r.done.finish,
          prompt_tokens: prompt.length,
          output_tokens: r.tokens.length,
        };
        process.stdout.write(JSON.stringify(out) + "\n");
      } finally {
        await engine.shutdown(3000);
      }
    }),
  );
