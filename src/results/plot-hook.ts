// Figures at the end of a bench run. The plotter is another module (src/plot); it is loaded
// lazily so a missing or broken plotter costs a warning, never the measured results.
import { join } from "node:path";

export async function plotAfterBench(resultsPath: string, outRoot: string, stamp: string, log: (s: string) => void): Promise<void> {
  // outputs/figures/<ts>/ (ARCHITECTURE.md): the run folder's name without its kind prefix.
  const outDir = join(outRoot, "figures", stamp.replace(/^(online|offline)_/, ""));
  try {
    const mod = (await import("../plot/index.js" as string)) as { plotResults?: (o: { inputs: string[]; outDir: string }) => Promise<unknown> | unknown };
    if (typeof mod.plotResults !== "function") throw new Error("src/plot/index.ts exports no plotResults");
    await mod.plotResults({ inputs: [resultsPath], outDir });
    log(`figures: ${outDir}`);
  } catch (err) {
    log(`warning: figures skipped: ${(err as Error).message}`);
  }
}
