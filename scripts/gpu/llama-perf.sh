#!/usr/bin/env bash
# Llama-3.1-8B-shaped performance experiments on a GPU host, in one command (docs/perf-notes.md,
# "Session 5"): the GEMM paths per shape and row count, then the two offline workloads through the
# runner alone (cuda_offline_bench, bf16, graphs on) once per A/B setting.
#   build   CUDA engine without libtorch (FlashInfer when .carry/flashinfer/include holds its headers)
#   gemm    attnbench-gemm-bench: GPT-2 small and XL shapes (fp16; where the skinny kernels win) and
#           Llama-3.1-8B's (bf16, cuBLASLt's top $GEMM_ALGOS heuristic algorithms)
#   seed    128 x 256 -> 64, once by default and once per ';'-separated setting in $AB
#           (e.g. AB="ATTNBENCH_GEMM_TUNE=8;ATTNBENCH_SKINNY_MAX_WEIGHT_MB=1000")
#   long    16 x 8192 -> 128, the same settings
#   small   2 x 900 -> 64 and 8 x 900 -> 64 (the decode steps an online TPOT is made of), same settings
# Choose with LLAMA_PERF_PHASES (default build,gemm,seed,long); logs and JSONL go to $OUT. Each step
# prints a line when it ends; run it without `| tail` so a call cut off at its limit still reports.
set -uo pipefail
cd "$(dirname "$0")/../.."
FINAL_OUT=${OUT:-/tmp/llama-perf-out}; mkdir -p "$FINAL_OUT"
W=/tmp/llama-perf-work; rm -rf "$W"; mkdir -p "$W"
export PATH="/usr/local/cuda/bin:$PATH"
PHASES=",${LLAMA_PERF_PHASES:-build,gemm,seed,long},"
has() { [[ $PHASES == *",$1,"* ]]; }
t_start=$SECONDS
# Stages (scripts/gpu/lib.sh): in a device-tool call (600 s limit) set LLAMA_PERF_DEADLINE_S=570: they
# stop that long after the start (the running one is stopped, the rest skipped), leaving 20 s for the
# summary. Unset: none.
STAGE_LOG_DIR=$W STAGE_DEADLINE_S=${LLAMA_PERF_DEADLINE_S:-0} STAGE_ENV_NAME=LLAMA_PERF_DEADLINE_S STAGE_T0=$t_start
source scripts/gpu/lib.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader >"$W/gpu.txt" 2>&1
B=native/build
if has build; then
  FI=$PWD/.carry/flashinfer/include
  fi_arg=(); [ -f "$FI/flashinfer/attention/decode.cuh" ] && fi_arg=(-DFLASHINFER_INCLUDE_DIR="$FI")
  run_stage build build.log env ATTNBENCH_CUDA=ON bash scripts/build-engine.sh -DATTNBENCH_LIBTORCH=OFF "${fi_arg[@]}"
fi
LLAMA_SHAPES=qkv:6144:4096,o:4096:4096,gate_up:28672:4096,down:4096:14336,lm_head:128256:4096
if has gemm; then
  run_stage gemm-gpt2 gemm_gpt2.log timeout 60 $B/attnbench-gemm-bench --rows 1,2,4,8,16,32 --iters 30
  run_stage gemm-gpt2-xl gemm_gpt2_xl.log timeout 60 $B/attnbench-gemm-bench --model-dim 1600 --rows 1,2,4,8,16,32 --iters 30
  run_stage gemm-llama gemm_llama.log timeout 150 $B/attnbench-gemm-bench --dtype bf16 --iters 20 \
    --rows "${LLAMA_GEMM_ROWS:-1,2,4,16,128,8192}" --algos "${GEMM_ALGOS:-6}" --shapes "$LLAMA_SHAPES"
  cat "$W"/gemm_*.log | grep '^{' >"$FINAL_OUT/gemm.jsonl"
fi
OB=($B/cuda_offline_bench --model synthetic:llama-3.1-8b --dtype bf16 --backends "${LLAMA_PERF_BACKENDS:-fused}" --graphs 1)
IFS=';' read -r -a settings <<<"${AB:-}"
settings=("" "${settings[@]}")
run_workload() {  # run_workload NAME ARGS...: once per setting
  local name=$1; shift
  local i=0
  for s in "${settings[@]}"; do
    run_stage "$name${s:+ $s}" "${name}_$i.jsonl" env $s timeout 200 "${OB[@]}" "$@"
    [ -f "$W/${name}_$i.jsonl" ] && sed "s/^{/{\"setting\":\"${s}\",/" "$W/${name}_$i.jsonl" | grep '^{' >>"$FINAL_OUT/offline.jsonl"
    i=$((i + 1))
  done
}
has seed && run_workload seed
has long && run_workload long --prompts 16 --input-len 8192 --output-len 128
if has small; then
  run_workload small2 --prompts 2 --input-len 900
  run_workload small8 --prompts 8 --input-len 900
fi
{
  echo "== llama-perf ($(head -1 "$W/gpu.txt")), $((SECONDS - t_start)) s"
  printf '%s\n' "${stage_rows[@]}"
  for f in "$W"/gemm_*.log; do [ -f "$f" ] && { echo "-- $(basename "$f")"; sed -n '/^shape/,$p' "$f"; }; done
  [ -f "$FINAL_OUT/offline.jsonl" ] && python3 - "$FINAL_OUT/offline.jsonl" <<'EOF'
import json, sys
print(f"{'workload':<11} {'setting':<40} {'prefill ms':>10} {'decode ms':>10} {'step ms':>8} {'total ms':>9}")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "error" in r: print(r); continue
    print(f"{r['prompts']:>3}x{r['input_len']:<7} {r['setting'] or '-':<40} {r['prefill_ms']:>10.1f} {r['decode_ms']:>10.1f} {r['decode_step_ms']:>8.3f} {r['total_ms']:>9.1f}")
EOF
} | tee "$FINAL_OUT/summary.txt"
tar -C "$W" -cJf "$FINAL_OUT/llama-perf-logs.tar.xz" . 2>/dev/null
