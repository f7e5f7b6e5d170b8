#!/usr/bin/env bash
# Engine hot-path measurements on a GPU host in one command (docs/perf-notes.md, "Engine"):
#   build (CUDA + FlashInfer when .carry/flashinfer/include exists; no libtorch, to keep it short),
#   runner-level decode breakdown (cuda_offline_bench --breakdown 1), cuBLASLt tuning experiment,
#   the offline seed workload through the harness with the engine's step profile for the
#   PERF_BUDGETS token budgets, FlashInfer (graphs on and off) under a GPU watchdog, optional GPU
#   ctests (PERF_CTEST=1) and extra backends (PERF_BACKENDS). Logs: one archive + summary.txt in $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FINAL_OUT=${OUT:-/tmp/perf-out}; mkdir -p "$FINAL_OUT"
W=/tmp/perf-work; rm -rf "$W"; mkdir -p "$W"
export PATH="/usr/local/cuda/bin:$PATH"
t_start=$SECONDS
if ! command -v node >/dev/null && [ -f .carry/node.xz ]; then
  mkdir -p /tmp/attnbench-node && xz -dc .carry/node.xz >/tmp/attnbench-node/node && chmod +x /tmp/attnbench-node/node
  export PATH="/tmp/attnbench-node:$PATH"
fi
[ -d node_modules ] || { [ -f .carry/node_modules.tar.xz ] && tar -xJf .carry/node_modules.tar.xz; }
[ -d node_modules/tsx ] || [ -f dist/index.js ] || { [ -f .carry/dist.tar.xz ] && tar -xJf .carry/dist.tar.xz; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader >"$W/gpu.txt" 2>&1
FI=$ROOT/.carry/flashinfer/include
fi_arg=(); [ -f "$FI/flashinfer/attention/decode.cuh" ] && fi_arg=(-DFLASHINFER_INCLUDE_DIR="$FI")
t0=$SECONDS
ATTNBENCH_CUDA=ON bash scripts/build-engine.sh -DATTNBENCH_LIBTORCH=OFF "${fi_arg[@]}" >"$W/build.log" 2>&1
echo "build rc=$? $((SECONDS - t0)) s" | tee "$W/steps.txt"
B=native/build
SEED=(--model synthetic:gpt2 --device cuda --input-len 256 --output-len 64 --num-prompts 128 --seed 0 --no-plot)
step() { local name=$1; shift; local t=$SECONDS; "$@"; echo "$name rc=$? $((SECONDS - t)) s" >>"$W/steps.txt"; }

if [ "${PERF_BREAKDOWN:-1}" = 1 ]; then
  step breakdown timeout 90 $B/cuda_offline_bench --backends fused --breakdown 1 >"$W/breakdown.jsonl" 2>&1
  [ "${PERF_TUNE:-0}" = 1 ] && step tune env ATTNBENCH_GEMM_TUNE=8 timeout 40 $B/cuda_offline_bench --backends fused >"$W/tune.jsonl" 2>&1
fi
# A/B of experiment switches on the seed workload through the runner: PERF_AB="VAR=val VAR2=val" runs
# cuda_offline_bench (fused, graphs and not) once per setting, next to the default run above
# (VAR=a,VAR2=b sets both).
for ab in ${PERF_AB:-}; do
  step "ab-$ab" env ${ab//,/ } timeout 60 $B/cuda_offline_bench --backends fused >"$W/ab_$ab.jsonl" 2>&1
done
# Decode kernel lab (native/dev/attention_decode.cu: versions side by side), PERF_LAB=1.
if [ "${PERF_LAB:-0}" = 1 ]; then
  step lab-build nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Inative/src native/dev/attention_decode.cu \
    -o "$W/attention_decode" >"$W/lab_build.log" 2>&1
  step lab timeout 200 "$W/attention_decode" >"$W/lab_decode.log" 2>&1
fi
# Per-kernel GPU time of the seed workload through the runner (fused, graphs), PERF_NSYS=1: Nsight
# Systems with graph nodes traced one by one, summed per kernel name (nsys stats cuda_gpu_kern_sum).
if [ "${PERF_NSYS:-0}" = 1 ]; then
  NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
  if [ -n "$NSYS" ]; then
    step nsys timeout 150 "$NSYS" profile --cuda-graph-trace=node -t cuda -o "$W/nsys_seed" -f true \
      $B/cuda_offline_bench --backends fused >"$W/nsys.log" 2>&1
    step nsys-stats timeout 90 "$NSYS" stats -q --report cuda_gpu_kern_sum --format csv -o "$W/nsys_seed" "$W/nsys_seed.nsys-rep" \
      >>"$W/nsys.log" 2>&1
  else
    echo "nsys: not found" >"$W/nsys.log"
  fi
fi
# Linear layers at decode row counts, cuBLASLt vs the skinny weight-stream kernel (PERF_GEMM=1).
if [ "${PERF_GEMM:-0}" = 1 ]; then
  step gemm-bench timeout 90 $B/attnbench-gemm-bench >"$W/gemm.txt" 2>&1
fi
# Small-batch decode (what an online TPOT at light load is made of): PERF_SMALL="2x900 8x900" =
# prompts x input length; breakdown with the default GEMM path, plus a run with cuBLASLt only.
for spec in ${PERF_SMALL:-}; do
  np=${spec%x*}; il=${spec#*x}
  step "small-$spec" timeout 120 $B/cuda_offline_bench --backends fused --breakdown 1 --prompts "$np" --input-len "$il" \
    >"$W/small_$spec.jsonl" 2>&1
  step "small-$spec-cublaslt" env ATTNBENCH_SKINNY_MAX_M=0 timeout 60 $B/cuda_offline_bench --backends fused \
    --prompts "$np" --input-len "$il" >"$W/small_${spec}_cublaslt.jsonl" 2>&1
  for ab in ${PERF_AB:-}; do  # the A/B switches at this size too
    step "small-$spec-ab-$ab" env ${ab//,/ } timeout 60 $B/cuda_offline_bench --backends fused --prompts "$np" --input-len "$il" \
      >"$W/small_${spec}_ab_$ab.jsonl" 2>&1
  done
done
for bud in ${PERF_BUDGETS:-8192}; do
  step "offline-fused-$bud" env ATTNBENCH_PROFILE=1 ATTNBENCH_PROFILE_FILE="$W/prof_fused_$bud.txt" timeout 90 \
    node bin/attnbench.js bench offline "${SEED[@]}" --repeats "${PERF_REPEATS:-3}" --backends fused \
    --max-num-batched-tokens "$bud" --out "$W/o_fused_$bud" >"$W/offline_fused_$bud.log" 2>&1
done
for g in graph nograph; do
  flag=(); [ $g = nograph ] && flag=(--no-cuda-graph)
  step "offline-flashinfer-$g" env ATTNBENCH_GPU_TIMEOUT_S=20 ATTNBENCH_PROFILE=1 ATTNBENCH_PROFILE_FILE="$W/prof_fi_$g.txt" \
    timeout 100 node bin/attnbench.js bench offline "${SEED[@]}" --repeats "${PERF_REPEATS:-3}" --backends flashinfer \
    "${flag[@]}" --out "$W/o_fi_$g" >"$W/offline_fi_$g.log" 2>&1
done
if [ -n "${PERF_BACKENDS:-}" ]; then
  step offline-extra timeout 150 node bin/attnbench.js bench offline "${SEED[@]}" --repeats 5 --backends "$PERF_BACKENDS" \
    --out "$W/o_extra" >"$W/offline_extra.log" 2>&1
  cp "$W"/o_extra/offline_*/offline_results.json "$FINAL_OUT/offline_results.json" 2>/dev/null
fi
# Online: the Azure conv trace at PERF_ONLINE_SCALES (e.g. "1.6,0.4"), fused, PERF_ONLINE_PROMPTS requests.
if [ -n "${PERF_ONLINE_SCALES:-}" ]; then
  TRACE=traces/AzureLLMInferenceTrace_conv.csv
  step online timeout 400 node bin/attnbench.js bench online --model synthetic:gpt2 --device cuda --trace "$TRACE" \
    --num-prompts "${PERF_ONLINE_PROMPTS:-100}" --scales "$PERF_ONLINE_SCALES" --max-output-len 64 --ignore-eos \
    --backends "${PERF_ONLINE_BACKENDS:-fused}" --no-plot --out "$W/o_online" >"$W/online.log" 2>&1
  cp "$W"/o_online/online_*/online_results.json "$FINAL_OUT/online_results.json" 2>/dev/null
fi
# Decode attention kernels (attnbench-kernels --phase decode), PERF_KERNELS=1.
if [ "${PERF_KERNELS:-0}" = 1 ]; then
  step kernels timeout 150 $B/attnbench-kernels --phase decode --json "$W/kernels_decode.json" >"$W/kernels.log" 2>&1
  cp "$W/kernels_decode.json" "$FINAL_OUT/" 2>/dev/null
fi
# Hugging Face generate() on the same workload in the same run (PERF_HF=1): the 5x anchor of issue 7.
if [ "${PERF_HF:-0}" = 1 ]; then
  step hf-baseline timeout 240 env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_baseline.py >"$W/hf_baseline.log" 2>&1
fi
if [ "${PERF_CTEST:-0}" = 1 ]; then
  step ctest-gpu timeout "${PERF_CTEST_TIMEOUT:-120}" ctest --test-dir native/build -L gpu ${PERF_CTEST_REGEX:+-R "$PERF_CTEST_REGEX"} --output-on-failure >"$W/ctest_gpu.log" 2>&1
fi
# Runner JSON lines without the fields every line repeats.
trim_json() { sed -E 's/"device":"[^"]*",//; s/"output_tok_per_s":[0-9]+//' "$@"; }
{
  echo "== $(cat "$W/gpu.txt")"
  cat "$W/steps.txt"
  grep -E "error|Error" "$W/build.log" | head -5
  echo "-- breakdown / tune (runner, fused, graphs)"
  cat "$W/breakdown.jsonl" "$W/tune.jsonl" 2>/dev/null | trim_json
  for f in "$W"/ab_*.jsonl; do [ -f "$f" ] && { echo "-- $(basename "$f")"; trim_json "$f"; }; done
  [ -f "$W/lab_decode.log" ] && { echo "-- decode lab"; cat "$W/lab_decode.log"; tail -n 3 "$W/lab_build.log"; }
  for f in "$W"/nsys_seed*kern_sum*.csv; do [ -f "$f" ] && { echo "-- nsys kernels (top 25 by total time)"; head -n 26 "$f" | cut -d, -f1-9 | cut -c1-200; }; done
  [ -f "$W/nsys.log" ] && grep -iE "not found|error" "$W/nsys.log" | head -3
  [ -f "$W/gemm.txt" ] && { echo "-- gemm bench"; sed -n '/^shape/,$p' "$W/gemm.txt"; tail -n 2 "$W/gemm.txt" | grep -i error; }
  for f in "$W"/small_*.jsonl; do echo "-- $(basename "$f")"; trim_json "$f"; done
  [ -f "$W/hf_baseline.log" ] && { echo "-- hf baseline"; tail -n 2 "$W/hf_baseline.log"; }
  [ -f "$W/online.log" ] && { echo "-- online"; grep -E "TTFT|error|Error" "$W/online.log" | tail -n 8; }
  [ -f "$W/kernels.log" ] && { echo "-- kernels (decode)"; tail -n 16 "$W/kernels.log"; }
  for f in "$W"/offline_*.log; do echo "-- $(basename "$f")"; grep -vE "requests, .* elapsed" "$f" | tail -n 4; done
  for f in "$W"/prof_*.txt; do
    [ -f "$f" ] || continue
    echo "-- $(basename "$f") (last period)"
    grep -E "^# (busy|period)" "$f" | tail -n 5
    grep -E "^step" "$f" | tail -n 200 | awk '{k[$3]++} END {for (x in k) printf "%s:%d ", x, k[x]; print ""}'
  done
  for f in "$W"/prof_fi_*.txt; do [ -f "$f" ] && { echo "-- tail $(basename "$f")"; tail -n 4 "$f" | cut -c1-220; }; done
  [ -f "$W/ctest_gpu.log" ] && grep -E "tests passed|tests failed|Failed|\*\*\*" "$W/ctest_gpu.log" | tail -n 8
  echo "total $((SECONDS - t_start)) s"
} >"$W/summary.txt" 2>&1
tar -C "$W" --exclude='o_*' -cJf "$FINAL_OUT/perf-logs.tar.xz" . 2>/dev/null
cp "$W/summary.txt" "$FINAL_OUT/"
cat "$W/summary.txt"
