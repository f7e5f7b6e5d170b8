// Issue 6, load: the short soak (CI). serve over the real engine with a small KV pool, at
// saturation for 15 s (after a 10 s warm-up that grows the server heap to its working size; the
// server's memory is read after a forced full GC through the V8 inspector, not as RSS, so it does not
// depend on when V8 returns pages) with 20% of clients disconnecting at random and 5% sending bad input.
// The long one: `npx tsx scripts/soak.ts --duration-s 600` (docs/reliability.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSoak, runSoak } from "../scripts/soak.js";
import { alive, waitFor } from "../scripts/procs.js";
import { realEngineMissing } from "./helpers/paths.js";

test("soak (15 s): 0 unaccounted, 0 failed, KV pool whole, nothing in flight, engine RSS and server live memory (after a forced GC) back near their start, no process left", { skip: realEngineMissing(), timeout: 90_000 }, async () => {
  const lines: string[] = [];
  const r = await runSoak({ durationS: 15, warmupS: 10, concurrency: 16, seed: 7, rssSettleMs: 15_000, log: (l) => lines.push(l) });
  const text = formatSoak(r);
  assert.ok(r.ok, text);
  assert.equal(r.unaccounted, 0);
  assert.ok(r.sent > 100, text);
  assert.equal(r.sent, r.completed + r.rejected_as_intended + r.disconnected + r.failed);
  assert.ok(r.disconnected > 0 && r.rejected_as_intended > 0, "the run exercised disconnects and bad input");
  assert.ok(r.engine_preemptions > 0, "the small pool ran out and requests were preempted");
  assert.equal(r.kv_blocks_free, r.kv_blocks_total);
  await waitFor(() => !alive(r.pids.server!) && !alive(r.pids.engine!), 10_000, "serve and engine stopped");
});
