#!/usr/bin/env bash
# GPU host check of the CUDA engine: configure + build with CUDA, run the GPU ctests, compare
# teacher-forced logprobs with Hugging Face (hf_check.py), run the engine one-shot on CUDA, and
# optionally time the offline workload (ENGINE_CHECK_BENCH=1: cuda_offline_bench; add
# ENGINE_CHECK_HF_BASELINE=1 for hf_baseline.py). Logs go to $OUT (default /tmp/attnbench-gpu-out);
# a short summary table is printed last. Exit code: number of failed stages.
#   usage: bash scripts/gpu/engine-check.sh
# Builds only the CUDA engine's own targets; libtorch backends are off unless
# ENGINE_CHECK_CMAKE_ARGS says otherwise. Optional stages are skipped once ENGINE_CHECK_DEADLINE_S
# (default 170) seconds have passed, so the whole check fits a short lease.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/attnbench-gpu-out}
mkdir -p "$OUT"
export PATH="/usr/local/cuda/bin:$PATH"
BUILD=${BUILD:-native/build-gpu}
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
declare -a rows=()
fails=0
deadline=${ENGINE_CHECK_DEADLINE_S:-170}
budget=${ENGINE_CHECK_BUDGET_S:-228}   # whole-check limit: a stage's timeout never runs past it
left() { local l=$((budget - SECONDS)); [ $l -lt 5 ] && l=5; [ $l -gt "$1" ] && l=$1; echo $l; }
late() {  # late NAME: true (and recorded) when past the deadline
  if [ "$SECONDS" -gt "$deadline" ]; then rows+=("$(printf '%-14s %-7s %4ss  %s' "$1" skipped 0 "past ${deadline}s")"); return 0; fi
  return 1
}
stage() {  # stage NAME LOG CMD...: runs CMD with output to LOG, records the result
  local name=$1 log=$2
  shift 2
  local t0=$SECONDS
  "$@" >"$OUT/$log" 2>&1
  local rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then rows+=("$(printf '%-14s %-7s %4ss  %s' "$name" ok "$dt" "$log")")
  else
    rows+=("$(printf '%-14s %-7s %4ss  %s (rc %s)' "$name" FAIL "$dt" "$log" "$rc")")
    fails=$((fails + 1))
    echo "---- $name failed (rc $rc), last lines of $OUT/$log:"
    tail -n 25 "$OUT/$log"
  fi
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1 || true
read -r -a extra <<<"${ENGINE_CHECK_CMAKE_ARGS:--DATTNBENCH_LIBTORCH=OFF}"
targets=(attnbench-engine cuda_kernels_test cuda_attn_test cuda_runner_test cuda_score cuda_offline_bench)
if stage configure configure.log cmake -S native -B "$BUILD" -DATTNBENCH_CUDA=ON -DCMAKE_BUILD_TYPE=Release "${gen[@]}" "${extra[@]}" &&
   stage build build.log cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}"; then
  stage ctest-gpu ctest_gpu.log timeout "$(left 120)" ctest --test-dir "$BUILD" -L gpu -V
  late hf_check || stage hf_check hf_check.log timeout "$(left 90)" env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_check.py --engine-score "$BUILD/cuda_score"
  late one-shot || stage one-shot one_shot.log timeout "$(left 60)" "$BUILD/attnbench-engine" --model synthetic:gpt2 --device cuda --generate \
    --prompt-ids 464,2068,7586,21831,18045,625,262,16931,3290 --max-tokens 16 --temperature 0 --ignore-eos --kv-cache-gb 1
  if [ "${ENGINE_CHECK_BENCH:-0}" = 1 ]; then
    late offline || stage offline offline_bench.log timeout "$(left 60)" "$BUILD/cuda_offline_bench" --backends "${ENGINE_CHECK_BACKENDS:-naive}"
  fi
fi
if [ "${ENGINE_CHECK_HF_BASELINE:-0}" = 1 ]; then
  late hf_baseline || stage hf_baseline hf_baseline.log timeout "$(left 90)" env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_baseline.py
fi

echo
echo "== details"
if [ -f "$OUT/ctest_gpu.log" ]; then
  grep -h "NOT OK" "$OUT/ctest_gpu.log" | head -20
  grep -hE "tests passed|tests failed|\*\*\*Failed|Passed +[0-9.]+ sec" "$OUT/ctest_gpu.log" | tail -8
fi
[ -f "$OUT/hf_check.log" ] && tail -n 4 "$OUT/hf_check.log"
[ -f "$OUT/one_shot.log" ] && tail -n 1 "$OUT/one_shot.log" | cut -c1-200
[ -f "$OUT/offline_bench.log" ] && cat "$OUT/offline_bench.log"
[ -f "$OUT/hf_baseline.log" ] && tail -n 1 "$OUT/hf_baseline.log"
echo
echo "== engine-check summary ($(cat "$OUT/gpu.txt" 2>/dev/null | head -1))"
printf '%-14s %-7s %5s  %s\n' stage result time log
for r in "${rows[@]}"; do echo "$r"; done
exit $fails
