#!/usr/bin/env bash
# `npm run test:gpu`: the whole product on a GPU host, in one command.
#   build   the CUDA engine (+ flashattn/cudnn via libtorch when python3 has torch, + FlashInfer when
#           .carry/flashinfer/include or $FLASHINFER_INCLUDE_DIR holds its headers)
#   engine  GPU ctests (kernels, attention, runner: greedy vs CPU engine, graphs on/off) + HF check
#   offline the offline seed workload (GPT-2 shapes, fp16, 128 x 256 -> 64) for every backend
#   gate    the gate on two offline runs of the same build (must pass), a planted slowdown (must
#           fail), and the committed H200 baseline (baselines/h200-offline.json.gz) when present
#   online  Azure conv trace, --num-prompts (default 200), scales 0.4..1.6, backends $ONLINE_BACKENDS
#   hf      Hugging Face transformers generate() on the same offline workload (eager, static+compile)
#   kernels scripts/gpu/kernels-check.sh (attention microbenchmark + PyTorch anchors)
#   llama   scripts/gpu/llama_check.py: Llama/Qwen/Mistral logprobs vs HF fp32 (engine error vs HF's own
#           fp16/bf16 error) on the tiny fixtures and 8B-shaped checkpoints; greedy across backends
#   llama-bench  offline at llama-3.1-8b shapes, bf16: the seed workload (128 x 256 -> 64) and a long-
#           context one (16 x 8192 -> 128), backends $LLAMA_BACKENDS / $LLAMA_LONG_BACKENDS
#   llama-profile  where the time of the two llama-bench workloads goes, through the runner alone
#           (cuda_offline_bench --breakdown: each part's cost is the full run minus the run without it),
#           and the linear layers of llama-3.1-8b alone (attnbench-gemm-bench: TFLOPS at prefill rows,
#           GB/s at decode rows)
#   ab      scripts/gpu/ab-engines.sh: this build vs the base tree in .carry/ab-base (same run)
#   hf-llama     HF transformers generate() at llama-3.1-8b shapes, bf16: the seed workload (eager and
#           static cache + compile) and the long one (eager; HF_LLAMA_LONG_STATIC=1 adds static)
#   online-llama bench online at llama-3.1-8b shapes, bf16: the Azure conv trace (--num-prompts
#           $LLAMA_ONLINE_PROMPTS, --scales $LLAMA_ONLINE_SCALES), then the Mooncake-format example
#           trace with prefix caching off and on
#   loadgen the load generator alone at 2000 req/s (bench loadgen), lateness per worker count
#   online-sweep  issue 16's H200 check: bench online, Azure conv, --num-prompts $SWEEP_PROMPTS (1000),
#           --scales $SWEEP_SCALES (auto:5), one run per backend of $SWEEP_BACKENDS (naive,fused,
#           flashattn/fused,flashinfer), model $SWEEP_MODEL (synthetic:llama-3.1-8b) in $SWEEP_DTYPE
#           (fp16: flashinfer's bf16 path is new, not yet run on a GPU). Each backend on its own GPU, when
#           the host has a GPU per backend (an nvidia-h200-x4 call); else one after another. A backend
#           takes about capacity probe + 16.6 x prompts / capacity seconds (auto:5 offers 10-110 % of
#           capacity; the 10 % point dominates). Merge here: scripts/merge-online.ts, then plot.
# Choose with GPU_CHECK_PHASES (default build,engine,offline,gate); logs and JSON go to $OUT. In a
# device-tool call (600 s limit) set GPU_CHECK_DEADLINE_S=570 so the summary always comes back.
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
t_start=$SECONDS
# Stages (scripts/gpu/lib.sh): GPU_CHECK_DEADLINE_S=570 in a device-tool call (600 s limit) stops them
# that long after the start, so the summary and files always come back. Unset: no deadline.
STAGE_LOG_DIR=$OUT STAGE_DEADLINE_S=${GPU_CHECK_DEADLINE_S:-0} STAGE_ENV_NAME=GPU_CHECK_DEADLINE_S STAGE_T0=$t_start
source scripts/gpu/lib.sh

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
TRACE=${TRACE:-traces/AzureLLMInferenceTrace_conv.csv}   # shipped in the checkout

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
  run_stage offline offline.log timeout 400 node bin/attnbench.js bench offline "${SEED_FLAGS[@]}" --repeats "${OFFLINE_REPEATS:-5}" \
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
  if [ -f baselines/h200-offline.json.gz ]; then
    ab gate --baseline baselines/h200-offline.json.gz --candidate "$A" >"$OUT/gate_baseline.md" 2>&1; rc=$?
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

# --- Llama-family models -------------------------------------------------------------------------
if has llama; then
  run_stage llama-check llama_check.log timeout 420 env PYTHONUNBUFFERED=1 OUT="$OUT" python3 scripts/gpu/llama_check.py \
    --engine-score native/build/cuda_score --engine native/build/attnbench-engine --layers "${LLAMA_CHECK_LAYERS:-4}"
  cp "$OUT/llama_check.json" "$FINAL_OUT/" 2>/dev/null
fi
if has llama-bench; then
  L=(bench offline --model synthetic:llama-3.1-8b --device cuda --dtype bf16 --seed 0 --no-plot)
  run_stage llama-seed llama_seed.log timeout 420 node bin/attnbench.js "${L[@]}" --backends "${LLAMA_BACKENDS:-fused}" \
    --input-len 256 --output-len 64 --num-prompts 128 --repeats "${LLAMA_REPEATS:-3}" --out "$OUT/llama_seed"
  cp "$OUT"/llama_seed/offline_*/offline_results.json "$FINAL_OUT/llama_seed_results.json" 2>/dev/null
  # Prefill-heavy: where the prefill backends differ (issue 15's end-to-end comparison).
  run_stage llama-long llama_long.log timeout 560 node bin/attnbench.js "${L[@]}" \
    --backends "${LLAMA_LONG_BACKENDS:-fused,cudnn/fused,flashattn/fused}" --input-len 8192 --output-len 128 \
    --num-prompts 16 --repeats "${LLAMA_REPEATS:-2}" --out "$OUT/llama_long"
  cp "$OUT"/llama_long/offline_*/offline_results.json "$FINAL_OUT/llama_long_results.json" 2>/dev/null
fi
if has llama-profile; then
  P=(native/build/cuda_offline_bench --model synthetic:llama-3.1-8b --dtype bf16 --backends "${LLAMA_PROFILE_BACKENDS:-fused}" --breakdown 1)
  ALL="attn,gemm,lmhead,sample,norm,append,embed"
  run_stage llama-prof-seed llama_prof_seed.jsonl timeout 300 "${P[@]}" --masks "${LLAMA_PROFILE_SEED_MASKS:-;attn;gemm;lmhead,sample;norm;append;$ALL}"
  run_stage llama-prof-long llama_prof_long.jsonl timeout 400 "${P[@]}" --prompts 16 --input-len 8192 --output-len 128 \
    --masks "${LLAMA_PROFILE_LONG_MASKS:-;attn;gemm;$ALL}"
  run_stage gemm-llama gemm_llama.log timeout 120 native/build/attnbench-gemm-bench --dtype bf16 --iters 20 --rows "${LLAMA_GEMM_ROWS:-16,128,8192}" \
    --shapes qkv:6144:4096,o:4096:4096,gate_up:28672:4096,down:4096:14336,lm_head:128256:4096
  cat "$OUT/llama_prof_seed.jsonl" "$OUT/llama_prof_long.jsonl" | grep '^{' >"$FINAL_OUT/llama_profile.jsonl" 2>/dev/null
  grep '^{' "$OUT/gemm_llama.log" >"$FINAL_OUT/gemm_llama.jsonl" 2>/dev/null
fi
if has ab; then
  run_stage ab ab.log timeout 560 env OUT="$OUT" TRACE="$TRACE" bash scripts/gpu/ab-engines.sh
fi

if has hf-llama; then
  run_stage hf-llama-seed hf_llama_seed.log timeout 400 env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_baseline.py \
    --model llama-3.1-8b --num-prompts 128 --input-len 256 --output-len 64 --repeats 2
  static=(--skip-static); [ "${HF_LLAMA_LONG_STATIC:-0}" = 1 ] && static=()
  run_stage hf-llama-long hf_llama_long.log timeout 300 env PYTHONUNBUFFERED=1 python3 scripts/gpu/hf_baseline.py \
    --model llama-3.1-8b --num-prompts 16 --input-len 8192 --output-len 128 --repeats 1 "${static[@]}"
  cat "$OUT/hf_llama_seed.log" "$OUT/hf_llama_long.log" | grep '^{' >"$FINAL_OUT/hf_llama.jsonl" 2>/dev/null
fi
if has online-llama; then
  O=(bench online --model synthetic:llama-3.1-8b --device cuda --dtype bf16 --no-plot)
  run_stage online-llama online_llama.log timeout 420 node bin/attnbench.js "${O[@]}" --trace "$TRACE" \
    --num-prompts "${LLAMA_ONLINE_PROMPTS:-200}" --scales "${LLAMA_ONLINE_SCALES:-auto:3}" --ignore-eos \
    --backends "${LLAMA_ONLINE_BACKENDS:-fused}" --out "$OUT/online_llama"
  cp "$OUT"/online_llama/online_*/online_results.json "$FINAL_OUT/online_llama_results.json" 2>/dev/null
  for pc in off on; do
    flag=(); [ $pc = on ] && flag=(--enable-prefix-caching)
    run_stage "mooncake-prefix-$pc" "mooncake_$pc.log" timeout 200 node bin/attnbench.js "${O[@]}" \
      --trace traces/mooncake_format_example.jsonl --scales 1 --backends fused "${flag[@]}" --out "$OUT/mooncake_$pc"
    cp "$OUT"/mooncake_$pc/online_*/online_results.json "$FINAL_OUT/mooncake_${pc}_results.json" 2>/dev/null
  done
fi
if has online-sweep; then
  IFS=, read -r -a sweep_backends <<<"${SWEEP_BACKENDS:-naive,fused,flashattn/fused,flashinfer}"
  SW=(bench online --model "${SWEEP_MODEL:-synthetic:llama-3.1-8b}" --device "${SWEEP_DEVICE:-cuda}" --dtype "${SWEEP_DTYPE:-fp16}" --no-plot
      --trace "$TRACE" --num-prompts "${SWEEP_PROMPTS:-1000}" --scales "${SWEEP_SCALES:-auto:5}")
  # A sweep split over calls: SWEEP_AUTO_POINTS=1 first, then 2,3,4,5 with SWEEP_CAPACITY_FROM set to
  # the first call's results (carried into the checkout); merge the files here.
  [ -n "${SWEEP_AUTO_POINTS:-}" ] && SW+=(--auto-points "$SWEEP_AUTO_POINTS")
  [ -n "${SWEEP_CAPACITY_FROM:-}" ] && SW+=(--capacity-from "$SWEEP_CAPACITY_FROM")
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  parallel=0; [ "$ngpu" -ge "${#sweep_backends[@]}" ] && [ "${#sweep_backends[@]}" -gt 1 ] && parallel=1
  i=0
  for b in "${sweep_backends[@]}"; do
    tag=${b//\//_}
    if [ $parallel = 1 ]; then  # one GPU each; rows recorded after the wait
      left=$(time_left); st=${SWEEP_TIMEOUT_S:-560}; [ "$left" -lt "$st" ] && st=$left; [ "$st" -lt 5 ] && st=5
      ( t0=$SECONDS; CUDA_VISIBLE_DEVICES=$i timeout "$st" node bin/attnbench.js "${SW[@]}" --backends "$b" \
          --out "$OUT/sweep_$tag" >"$OUT/sweep_$tag.log" 2>&1; echo "$? $((SECONDS - t0))" >"$OUT/sweep_$tag.rc" ) &
    else
      run_stage "sweep-$tag" "sweep_$tag.log" timeout "${SWEEP_TIMEOUT_S:-560}" node bin/attnbench.js "${SW[@]}" --backends "$b" --out "$OUT/sweep_$tag"
    fi
    i=$((i + 1))
  done
  if [ $parallel = 1 ]; then
    wait
    for b in "${sweep_backends[@]}"; do
      tag=${b//\//_}; read -r rc secs <"$OUT/sweep_$tag.rc"
      if [ "$rc" = 0 ]; then row "sweep-$tag (GPU)" ok "$secs" "sweep_$tag.log"; else row "sweep-$tag (GPU)" FAIL "$secs" "sweep_$tag.log (rc $rc)"; tail -n 20 "$OUT/sweep_$tag.log"; fi
    done
  fi
  for b in "${sweep_backends[@]}"; do
    tag=${b//\//_}
    cp "$OUT"/sweep_$tag/online_*/online_results.json "$FINAL_OUT/sweep_${tag}_results.json" 2>/dev/null
  done
fi
if has loadgen; then
  run_stage loadgen loadgen.log timeout 120 node bin/attnbench.js bench loadgen --rate 2000 --duration-s 5 --tokens 32 --workers 0,2,4,8
fi

# --- summary, last -------------------------------------------------------------------------------
{
echo
[ -f "$OUT/backends.txt" ] && cat "$OUT/backends.txt"
[ -f "$OUT/ctest_gpu.log" ] && grep -hE "tests passed|tests failed" "$OUT/ctest_gpu.log" | tail -1
[ -f "$OUT/hf_check.log" ] && tail -n 3 "$OUT/hf_check.log"
[ -f "$OUT/hf_baseline.log" ] && tail -n 2 "$OUT/hf_baseline.log"
[ -f "$OUT/llama_check.log" ] && grep -A40 "^model  " "$OUT/llama_check.log" | tail -n 42
[ -f "$OUT/ab.log" ] && grep -A12 "^== A/B" "$OUT/ab.log"
for f in "$OUT/hf_llama_seed.log" "$OUT/hf_llama_long.log"; do [ -f "$f" ] && grep '^{' "$f" | tail -n 1; done
for f in "$OUT"/sweep_*.log; do [ -f "$f" ] && { echo "-- $(basename "$f")"; grep -iE "capacity|scale|lateness" "$f" | tail -n 12; }; done
for f in "$OUT/online_llama.log" "$OUT/mooncake_off.log" "$OUT/mooncake_on.log" "$OUT/loadgen.log"; do [ -f "$f" ] && tail -n 14 "$f"; done
for f in "$OUT/llama_prof_seed.jsonl" "$OUT/llama_prof_long.jsonl"; do [ -f "$f" ] && node -e '
  for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) { if (!l.startsWith("{")) continue; const r = JSON.parse(l);
    console.log(`${String(r.prompts).padStart(4)}x${String(r.input_len).padEnd(5)} skip=${(r.skip || "-").padEnd(40)} prefill ${r.prefill_ms.toFixed(1).padStart(8)} ms  decode ${r.decode_ms.toFixed(1).padStart(8)} ms  step ${r.decode_step_ms.toFixed(3)} (gpu ${r.decode_step_gpu_ms.toFixed(3)})  total ${r.total_ms.toFixed(1)}`); }' "$f"; done
[ -f "$OUT/gemm_llama.log" ] && sed -n '/^shape/,$p' "$OUT/gemm_llama.log"
for f in "$OUT/llama_seed.log" "$OUT/llama_long.log"; do [ -f "$f" ] && grep -E "tok/s|wall|fused|naive|flash|cudnn" "$f" | tail -n 8; done
for f in "$OUT/offline.log" "$OUT/online.log"; do [ -f "$f" ] && grep -E "^\s*(backend|scale|[a-z/]+ +\|)|tok/s|TTFT" "$f" | tail -n 24; done
echo
echo "== gpu-check summary ($(head -1 "$OUT/gpu.txt")), $((SECONDS - t_start)) s"
printf '%-28s %-6s %6s  %s\n' stage result time log
printf '%s\n' "${stage_rows[@]}"
} 2>&1 | tee "$OUT/summary.txt"
for f in offline_results.json online_results.json gate_a_results.json summary.txt; do [ -f "$OUT/$f" ] && cp "$OUT/$f" "$FINAL_OUT/"; done
tar -C "$OUT" -cJf "$FINAL_OUT/gpu-check-logs.tar.xz" . 2>/dev/null
! any_stage_failed
