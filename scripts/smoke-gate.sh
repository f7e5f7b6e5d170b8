#!/usr/bin/env bash
# CPU smoke benchmark + perf gate, as CI runs it:
#   1. two runs of the same build must pass the gate against each other (noise is not a regression);
#   2. a run with a planted slowdown (--step-delay-us) must fail it (a regression is caught);
#   3. the fresh run is gated against the committed CPU baseline (baselines/cpu-smoke-offline.json.gz)
#      when it was measured on the same kind of machine; otherwise the gate's refusal is shown.
#      Tolerances (baselines/cpu-smoke.tolerances, used for all three checks) are ~5x the run-to-run
#      spread measured on a quiet 2-core machine (3 runs: <= 4% on throughput, <= 5% on e2e p90); the
#      planted slowdown is ~4x, far past them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SMOKE_OUT:-$(mktemp -d)}; mkdir -p "$out"
ab() { node bin/attnbench.js "$@"; }
common=(--model synthetic:tiny --device cpu --backends naive,fused --num-prompts 64 --input-len 128
        --output-len 32 --repeats 5 --seed 0 --no-plot --cpu-threads 1)

echo "[smoke] run A"; ab bench offline "${common[@]}" --out "$out/a" >"$out/a.log" 2>&1 || { cat "$out/a.log"; exit 1; }
echo "[smoke] run B"; ab bench offline "${common[@]}" --out "$out/b" >"$out/b.log" 2>&1 || { cat "$out/b.log"; exit 1; }
echo "[smoke] run C (planted slowdown: --step-delay-us 10000)"
ab bench offline "${common[@]}" --step-delay-us 10000 --out "$out/c" >"$out/c.log" 2>&1 || { cat "$out/c.log"; exit 1; }
A=$(ls "$out"/a/offline_*/offline_results.json); B=$(ls "$out"/b/offline_*/offline_results.json)
C=$(ls "$out"/c/offline_*/offline_results.json)

echo "[smoke] gate A vs B (same build: must pass)"
# CPU tolerances (baselines/cpu-smoke.tolerances) come from the spread measured on 2-core machines; a
# busy neighbour moves a 0.25 s CPU repeat by more than the gate's GPU-oriented defaults.
tol=$(cat baselines/cpu-smoke.tolerances)
# One retry with a fresh run B: on a shared 2-core VM a whole engine process now and then runs ~40 %
# slow for all its repeats (seen once in four CI runs: fused 0.38 s vs 0.26 s, steady across the
# five repeats, the next backend normal), which no per-repeat statistic can absorb. Both reports are
# printed; a second failure fails the run.
if ! ab gate --baseline "$A" --candidate "$B" --max-regression "$tol" --report "$out/gate_ab.md" >"$out/gate_ab.log" 2>&1; then
  cat "$out/gate_ab.log"
  echo "[smoke] A vs B failed; one retry with a fresh run B"
  ab bench offline "${common[@]}" --out "$out/b2" >"$out/b2.log" 2>&1 || { cat "$out/b2.log"; exit 1; }
  B=$(ls "$out"/b2/offline_*/offline_results.json)
  ab gate --baseline "$A" --candidate "$B" --max-regression "$tol" --report "$out/gate_ab.md" >"$out/gate_ab.log" 2>&1 \
    || { cat "$out/gate_ab.log"; echo "gate failed on noise (twice)"; exit 1; }
fi
grep -E "^## " "$out/gate_ab.log"
echo "[smoke] gate A vs C (planted slowdown: must fail with exit 1)"
set +e; ab gate --baseline "$A" --candidate "$C" --force --max-regression "$tol" --report "$out/gate_ac.md" >/dev/null; rc=$?; set -e
[ "$rc" = 1 ] || { echo "gate did not catch the planted slowdown (exit $rc)"; cat "$out/gate_ac.md"; exit 1; }
echo "[smoke] planted slowdown caught (exit 1)"

base=baselines/cpu-smoke-offline.json.gz
if [ -f "$base" ]; then
  echo "[smoke] gate committed baseline vs run A"
  set +e; ab gate --baseline "$base" --candidate "$A" --max-regression "$tol" \
    --report "$out/gate_base.md" >"$out/gate_base.log" 2>&1; rc=$?; set -e
  grep -E "^## |REGRESSION|differ" "$out/gate_base.log" | head -20
  case $rc in
    0) echo "[smoke] within tolerance of the committed baseline" ;;
    1) echo "[smoke] REGRESSION against the committed baseline"; exit 1 ;;
    *) echo "[smoke] baseline not comparable on this machine (see above); not gated" ;;
  esac
fi
echo "[smoke] ok"
