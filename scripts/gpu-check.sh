#!/usr/bin/env bash
# `npm run test:gpu`: the whole product on a GPU host, in one command.
#   build   the CUDA engine (+ flashattn/cudnn via libtorch when python3 has torch, + FlashInfer when
#           .carry/flashinfer/include or $FLASHINFER_INCLUDE_DIR holds its headers)
#   engine  GPU ctests (kernels, attention, runner: greedy vs CPU engine, graphs on/off) + HF check
#   offline the offline seed workload (GPT-2 shapes, fp16, 128 x 256 -> 64) for every backend
#   gate    the gate on two offline runs of the same build (must pass), a planted slowdown (must
#           fail), and the committed H100 baseline (baselines/h100-offline.json.gz) when present
#   online  Azure conv trace, --num-prompts (default 200), scales 0.4..1.6, backends $ONLINE_BACKENDS
#   hf      Hugging Face transformers generate() on the same offline workload (eager, static+compile)
#   kernels scripts/gpu/kernels-check.sh (attention microbenchmark + PyTorch anchors)
# Choose with GPU_CHECK_PHASES (default build,engine,offline,gate); logs and JSON go to $OUT.
# Node: uses `node` if present, else .carry/node.xz; production deps and built JS from .carry/
# (scripts/carry-prep.sh makes them). A short summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Everything is written under $WORK; $OUT (what comes back from a device-tool call: at most 8 files)
# gets the results JSONs, the summary and one archive of all logs.
FINAL_OUT=${OUT:-/tmp/attnbench-gpu-out}; mkdir -p "$FINAL_OUT"
OUT=${GPU_CHECK_WORK:-/tmp/attnbench-gpu-work}; rm -rf "$OUT"; mkdir -p "$OUT"
PHASES=",${GPU_CHECK_PHASES:-build,engine,offline,gate},"
has() { [[ $PHASES == *",$1,"* ]]; }
export PATH="/usr/local/cuda/bin:$PATH"
declare -a rows=()
t_start=$SECONDS
row() { rows+=("$(printf '%-22s %-6s %5ss  %s' "$1" "$2" "$3" "$4")"); }
run_stage() {  # run_stage NAME LOG CMD... (records ok/FAIL and time; prints the log tail on failure)
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  "$@" >"$OUT/$log" 2>&1; local rc=$?
  if [ $rc -eq 0 ]; then row "$name" ok $((SECONDS - t0)) "$log"
  else row "$name" FAIL $((SECONDS - t0)) "$log (rc $rc)"; echo "---- $name failed (rc $rc):"; tail -n 30 "$OUT/$log"; fi
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1 || true
echo "[gpu-check] $(head -1 "$OUT/gpu.txt"); phases ${PHASES//,/ }"

# --- Node and the built harness (the GPU host has no Node and no network) ---------------------
if ! command -v node >/dev/null && [ -f .carry/node.xz ]; then
  mkdir -p /tmp/attnbench-node && xz -dc .carry/node.xz >/tmp/attnbench-node/node && chmod +x /tmp/attnbench-node/node
  export PATH="/tmp/attnbench-node:$PATH"
fi
[ -d node_modules ] || { [ -f .carry/node_modules.tar.xz ] && tar -xJf .carry/node_modules.tar.xz; }
[ -d node_modules/tsx ] || [ -f dist/index.js ] || { [ -f .carry/dist.tar.xz ] && tar -xJf .carry/dist.tar.xz; }
ab() { node bin/attnbench.js "$@"; }
TRACE=${TRACE:-../shared/traces/AzureLLMInferenceTrace_conv.csv}
[ -f "$TRACE" ] || TRACE=.carry/traces/AzureLLMInferenceTrace_conv.csv

# --- build --------------------------------------------------------------------------------------
FI=${FLASHINFER_INCLUDE_DIR:-$ROOT/.carry/flashinfer/include}
fi_arg=(); [ -f "$FI/flashinfer/attention/decode.cuh" ] && fi_arg=(-DFLASHINFER_INCLUDE_DIR="$FI")
if has build; then
  run_stage build build.log env ATTNBENCH_CUDA=ON bash scripts/build-engine.sh "${fi_arg[@]}" || { echo "build failed"; }
fi
ENGINE=native/build/attnbench-engine
if [ -x "$ENGINE" ]; then
  echo '{"op":"shutdown"}' | timeout 120 "$ENGINE" --device cuda --model synthetic:tiny --kv-cache-gb 0.1 2>/dev/null | head -1 >"$OUT/ready.json"
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));for(const p of ["prefill","decode"])console.log(p.padEnd(8),Object.entries(r.backends[p]).map(([k,v])=>k+"="+v).join("  "))' "$OUT/ready.json" 2>/dev/null | tee "$OUT/backends.txt"
fi

# --- engine correctness -------------------------------------------------------------------------
if has engine; then
  run_stage ctest-gpu ctest_gpu.log timeout 240 ctest --test-dir native/build -L gpu --output-on-failure
  run_stage hf-check hf_check.log timeout 120 env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_check.py --engine-score native/build/cuda_score
fi

# --- offline seed workload, every backend -------------------------------------------------------
SEED_FLAGS=(--model synthetic:gpt2 --device cuda --input-len 256 --output-len 64 --num-prompts 128 --seed 0 --no-plot)
OFFLINE_BACKENDS=${OFFLINE_BACKENDS:-naive,fused,flashattn/fused,cudnn/fused,flashinfer}
if has offline; then
  run_stage offline offline.log timeout 400 node bin/attnbench.js bench offline "${SEED_FLAGS[@]}" --repeats 5 \
    --backends "$OFFLINE_BACKENDS" --out "$OUT/offline"
  cp "$OUT"/offline/offline_*/offline_results.json "$OUT/offline_results.json" 2>/dev/null
fi
if has gate; then
  g=(bench offline "${SEED_FLAGS[@]}" --repeats 5 --backends naive,fused)
  run_stage gate-run-a gate_a.log timeout 120 node bin/attnbench.js "${g[@]}" --out "$OUT/ga"
  run_stage gate-run-b gate_b.log timeout 120 node bin/attnbench.js "${g[@]}" --out "$OUT/gb"
  run_stage gate-run-c-slow gate_c.log timeout 180 node bin/attnbench.js "${g[@]}" --step-delay-us 2000 --out "$OUT/gc"
  A=$(ls "$OUT"/ga/offline_*/offline_results.json 2>/dev/null); B=$(ls "$OUT"/gb/offline_*/offline_results.json 2>/dev/null)
  C=$(ls "$OUT"/gc/offline_*/offline_results.json 2>/dev/null)
  run_stage "gate A~B (pass)" gate_ab.md node bin/attnbench.js gate --baseline "$A" --candidate "$B"
  ab gate --baseline "$A" --candidate "$C" --force >"$OUT/gate_ac.md" 2>&1; rc=$?
  if [ $rc = 1 ]; then row "gate A~C slow (fail)" ok 0 "gate_ac.md: regression caught"; else row "gate A~C slow (fail)" FAIL 0 "exit $rc"; fi
  if [ -f baselines/h100-offline.json.gz ]; then
    ab gate --baseline baselines/h100-offline.json.gz --candidate "$A" >"$OUT/gate_baseline.md" 2>&1; rc=$?
    # Not comparable (exit 2): say why in the row (the differing fingerprint keys), not only in the file.
    why=$([ $rc = 2 ] && grep -E '^  [a-z_]+: baseline ' "$OUT/gate_baseline.md" | head -3 | sed 's/^ *//' | paste -sd ';' -)
    row "gate vs baseline" "$([ $rc = 0 ] && echo ok || echo "rc$rc")" 0 "gate_baseline.md${why:+: not comparable: $why}"
  fi
  cp "$A" "$OUT/gate_a_results.json" 2>/dev/null
fi

# --- online: real trace, several arrival scales -------------------------------------------------
if has online; then
  run_stage online online.log timeout 560 node bin/attnbench.js bench online --model synthetic:gpt2 --device cuda \
    --trace "$TRACE" --num-prompts "${ONLINE_PROMPTS:-200}" --scales "${ONLINE_SCALES:-0.4,0.5,0.6,0.8,1.6}" \
    --max-output-len 64 --ignore-eos --backends "${ONLINE_BACKENDS:-naive,fused}" --no-plot --out "$OUT/online"
  cp "$OUT"/online/online_*/online_results.json "$OUT/online_results.json" 2>/dev/null
fi

# --- Hugging Face transformers on the same offline workload -------------------------------------
if has hf; then
  run_stage hf-baseline hf_baseline.log timeout 200 env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_baseline.py
fi
if has kernels; then
  run_stage kernels kernels.log timeout 300 env OUT="$OUT" FLASHINFER_INCLUDE_DIR="$FI" bash scripts/gpu/kernels-check.sh
fi

# --- summary, last -------------------------------------------------------------------------------
{
echo
[ -f "$OUT/backends.txt" ] && cat "$OUT/backends.txt"
[ -f "$OUT/ctest_gpu.log" ] && grep -hE "tests passed|tests failed" "$OUT/ctest_gpu.log" | tail -1
[ -f "$OUT/hf_check.log" ] && tail -n 3 "$OUT/hf_check.log"
[ -f "$OUT/hf_baseline.log" ] && tail -n 2 "$OUT/hf_baseline.log"
for f in "$OUT/offline.log" "$OUT/online.log"; do [ -f "$f" ] && grep -E "^\s*(backend|scale|[a-z/]+ +\|)|tok/s|TTFT" "$f" | tail -n 24; done
echo
echo "== gpu-check summary ($(head -1 "$OUT/gpu.txt")), $((SECONDS - t_start)) s"
printf '%-22s %-6s %6s  %s\n' stage result time log
for r in "${rows[@]}"; do echo "$r"; done
} 2>&1 | tee "$OUT/summary.txt"
for f in offline_results.json online_results.json gate_a_results.json summary.txt; do [ -f "$OUT/$f" ] && cp "$OUT/$f" "$FINAL_OUT/"; done
tar -C "$OUT" -cJf "$FINAL_OUT/gpu-check-logs.tar.xz" . 2>/dev/null
! printf '%s\n' "${rows[@]}" | grep -q " FAIL "
