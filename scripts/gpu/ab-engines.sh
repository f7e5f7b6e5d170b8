#!/usr/bin/env bash
# Same-run A/B of two engine builds on the GPU host: the checkout's engine (B, native/build) against a
# base source tree (A, e.g. an older commit exported with `git archive <commit> native | tar -x -C
# .carry/ab-base`). Builds A's engine + cuda_offline_bench, then interleaves A B A B ...:
#   runner  cuda_offline_bench --backends fused (offline seed workload through the runner alone: total
#           and per-decode-step times, graphs on) -- AB_ROUNDS rounds (default 3)
#   online  bench online with --engine A / B on the Azure conv trace (first AB_ONLINE_PROMPTS requests,
#           scale AB_ONLINE_SCALE): TPOT / TTFT p50
# Prints a table last; JSON lines go to $OUT/ab_runner.jsonl, results to $OUT/ab_online_{a,b}.json.
#   AB_BASE=.carry/ab-base bash scripts/gpu/ab-engines.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/attnbench-gpu-out}; mkdir -p "$OUT"
BASE=${AB_BASE:-.carry/ab-base}
ROUNDS=${AB_ROUNDS:-3}
BA=/tmp/attnbench-ab-base
export PATH="/usr/local/cuda/bin:$PATH"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
[ -d "$BASE/native" ] || { echo "ab-engines: no $BASE/native (export the base commit there first)"; exit 2; }
B_ENGINE=native/build/attnbench-engine; B_BENCH=native/build/cuda_offline_bench
[ -x "$B_ENGINE" ] && [ -x "$B_BENCH" ] || { echo "ab-engines: build the checkout's engine first (native/build)"; exit 2; }
# The base's own CMake (its tools may live elsewhere); libtorch and FlashInfer off: only fused is compared.
# An existing build in $BA is reused (a caller may have started it in the background).
if ! { cmake -S "$BASE/native" -B "$BA" -DATTNBENCH_CUDA=ON -DATTNBENCH_LIBTORCH=OFF -DCMAKE_BUILD_TYPE=Release \
         "${gen[@]}" >"$OUT/ab_base_configure.log" 2>&1 &&
       cmake --build "$BA" -j "$(nproc)" --target attnbench-engine cuda_offline_bench >"$OUT/ab_base_build.log" 2>&1; }; then
  echo "ab-engines: base build failed"; tail -20 "$OUT/ab_base_build.log"; exit 1
fi
A_ENGINE=$BA/attnbench-engine; A_BENCH=$BA/cuda_offline_bench
: >"$OUT/ab_runner.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  for side in a b; do
    bin=$A_BENCH; [ $side = b ] && bin=$B_BENCH
    timeout 120 "$bin" --backends fused | grep '"cuda_graph":true' | sed "s/^{/{\"side\":\"$side\",\"round\":$r,/" >>"$OUT/ab_runner.jsonl"
  done
done
TRACE=${TRACE:-traces/AzureLLMInferenceTrace_conv.csv}
[ -f "$TRACE" ] || TRACE=.carry/traces/AzureLLMInferenceTrace_conv.csv
ONLINE=(bench online --model synthetic:gpt2 --device cuda --trace "$TRACE" --num-prompts "${AB_ONLINE_PROMPTS:-200}"
        --scales "${AB_ONLINE_SCALE:-0.8}" --max-output-len 64 --ignore-eos --backends fused --no-plot)
if command -v node >/dev/null && [ "${AB_ONLINE_PROMPTS:-200}" != 0 ]; then
  for side in a b a b; do
    eng=$A_ENGINE; [ $side = b ] && eng=$B_ENGINE
    rm -rf "/tmp/ab-online-$side"
    timeout 200 node bin/attnbench.js "${ONLINE[@]}" --engine "$eng" --out "/tmp/ab-online-$side" >>"$OUT/ab_online.log" 2>&1
    cp /tmp/ab-online-$side/online_*/online_results.json "$OUT/ab_online_$side.json" 2>/dev/null
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      for (const run of r.runs) { const s = run.summary || {};
        const p = (m) => (s[m] && s[m].p50 != null ? s[m].p50.toFixed(3) : "-");
        console.log(JSON.stringify({side: process.argv[2], scale: run.scale, ttft_p50_ms: p("ttft_ms"), tpot_p50_ms: p("tpot_ms")})); }
    ' "$OUT/ab_online_$side.json" "$side" >>"$OUT/ab_online.jsonl" 2>/dev/null
  done
fi
echo
echo "== A/B: A = $BASE, B = checkout (fused, GPT-2 shapes, fp16)"
python3 - "$OUT/ab_runner.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for side in ("a", "b"):
    r = [x for x in rows if x["side"] == side]
    if r:
        print(f"runner {side}: total_ms median {statistics.median(x['total_ms'] for x in r):8.2f}  "
              f"decode_step_ms median {statistics.median(x['decode_step_ms'] for x in r):.4f}  "
              f"decode_step_gpu_ms {statistics.median(x['decode_step_gpu_ms'] for x in r):.4f}  (n={len(r)})")
EOF
[ -f "$OUT/ab_online.jsonl" ] && cat "$OUT/ab_online.jsonl"
