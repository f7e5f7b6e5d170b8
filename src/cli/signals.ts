// Ctrl-C / SIGTERM: run the registered cleanups (flush results, stop children), then exit
// 130 / 143 as shells expect. A second signal exits at once.
type Cleanup = () => Promise<void> | void;
const cleanups = new Set<Cleanup>();
let installed = false;
let stopping = false;

export function onTerminate(fn: Cleanup): () => void {
  install();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function install(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals, code: number) => async () => {
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\nattnbench: ${sig}, stopping\n`);
    for (const fn of [...cleanups].reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`attnbench: cleanup failed: ${(err as Error).message}\n`);
      }
    }
    process.exit(code);
  };
  process.on("SIGINT", handler("SIGINT", 130));
  process.on("SIGTERM", handler("SIGTERM", 143));
}

export function isStopping(): boolean {
  return stopping;
}
