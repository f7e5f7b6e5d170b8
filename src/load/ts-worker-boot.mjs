// Worker-thread entry used only when attnbench runs from its TypeScript sources (tsx, no dist/):
// a worker does not inherit the parent's tsx loader, so register it here, then load the real entry.
import { workerData } from "node:worker_threads";

const { register } = await import(workerData.tsxApi);
register();
await import(workerData.entry);
