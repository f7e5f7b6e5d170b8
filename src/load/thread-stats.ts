// What a load-generator thread saw of itself during a run: its sends, the connections it had to open
// on the way, and its garbage-collection pauses (a pause stops the thread's event loop, sends included).
import { PerformanceObserver } from "node:perf_hooks";

/** What a thread saw of its own pauses during a run (garbage collection stops its event loop). */
export interface ThreadStats {
  sent: number;
  /** Sends that found no idle kept-alive connection and opened one (connection setup in the lateness). */
  connects: number;
  gc_count: number;
  gc_ms_total: number;
  gc_ms_max: number;
}

/** Watch this thread's GC pauses until the returned function is called. */
export function watchGc(stats: Pick<ThreadStats, "gc_count" | "gc_ms_total" | "gc_ms_max">): () => Promise<void> {
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      stats.gc_count++;
      stats.gc_ms_total += e.duration;
      stats.gc_ms_max = Math.max(stats.gc_ms_max, e.duration);
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  return async () => {
    await new Promise((r) => setImmediate(r)); // the last entries
    obs.disconnect();
  };
}

