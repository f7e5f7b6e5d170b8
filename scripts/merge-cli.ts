// The command line both merge scripts share: `NAME OUT.json IN.json [IN.json ...]`, every input read
// and schema-checked as KIND results, the merge validated before it is written; exit 2 on any error.
import { writeFileSync } from "node:fs";
import type { z } from "zod";
import { loadResults } from "../src/results/load-results.js";
import type { AnyResults } from "../src/results/schema.js";

export function runMergeCli<R extends AnyResults>(
  name: string,
  kind: "online" | "offline",
  schema: z.ZodType<R>,
  merge: (files: { file: string; results: R }[]) => R,
): void {
  const main = async () => {
    const [out, ...inputs] = process.argv.slice(2);
    if (!out || inputs.length === 0) throw new Error(`usage: ${name}.ts OUT.json IN.json [IN.json ...]`);
    const loaded = await Promise.all(inputs.map(loadResults));
    const files = loaded.map((l) => {
      if (l.results.schema !== `attnbench.${kind}/1`) throw new Error(`${l.file}: not an ${kind} results file (${l.results.schema})`);
      return { file: l.file, results: l.results as R };
    });
    writeFileSync(out, JSON.stringify(schema.parse(merge(files))) + "\n");
  };
  main().catch((err) => {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exit(2);
  });
}
