#!/usr/bin/env bash
# On the GPU host (CUDA 13.0, cmake, g++ 13, python3 + torch 2.11; no network, no Node):
# build the kernel lab and attnbench-kernels, check correctness, benchmark every backend, measure the
# PyTorch anchors in the same run, print a short table last. Logs and JSON go to $OUT.
#   OUT=/tmp/x FLASHINFER_INCLUDE_DIR=<flashinfer>/include bash scripts/gpu/kernels-check.sh [--quick]
# With CUTLASS_INCLUDE_DIR=<cutlass>/include (opt-in: its two CuTe files add minutes to the build) the
# bench also gets `flashinfer_sm90`, FlashInfer's Hopper prefill (docs/kernels.md).
# Budget: about 5 minutes (builds in parallel; each stage has its own timeout).
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${OUT:-/tmp/attnbench-gpu-out}"; mkdir -p "$OUT"
PY="${PY:-python3}"
QUICK="${1:-}"
FI="${FLASHINFER_INCLUDE_DIR:-$ROOT/.carry/flashinfer/include}"
CUTLASS="${CUTLASS_INCLUDE_DIR:-}"
BUILD="${BUILD:-$ROOT/native/build-kernels}"
NV="nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a"
J=$(nproc)
t0=$(date +%s)
el() { echo "$(( $(date +%s) - t0 ))s"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/gpu.txt" 2>&1; cat "$OUT/gpu.txt"

# 1. kernel lab (standalone nvcc), in the background
mkdir -p "$BUILD/lab"
( cd "$ROOT/native/dev" && $NV -I../src attention_prefill.cu -o "$BUILD/lab/attention_prefill" > "$OUT/lab_build_prefill.log" 2>&1 ) &
LAB1=$!
( cd "$ROOT/native/dev" && $NV -I../src attention_decode.cu -o "$BUILD/lab/attention_decode" > "$OUT/lab_build_decode.log" 2>&1 ) &
LAB2=$!
( cd "$ROOT/native/dev" && $NV -I../src attention_prefill_sm90.cu -o "$BUILD/lab/attention_prefill_sm90" > "$OUT/lab_build_sm90.log" 2>&1 ) &
LAB3=$!

# 2. attnbench-kernels through CMake (the engine's own build: every registered backend)
BENCH=""
cmake_build() {  # $1 = extra configure args
  cmake -S "$ROOT/native" -B "$BUILD/cmake" -DCMAKE_BUILD_TYPE=Release -DATTNBENCH_CUDA=ON -DBUILD_TESTING=OFF $1 \
    > "$OUT/configure.log" 2>&1 && cmake --build "$BUILD/cmake" --target attnbench-kernels -j"$J" > "$OUT/build.log" 2>&1
}
FI_ARG=""; [ -f "$FI/flashinfer/attention/decode.cuh" ] && FI_ARG="-DFLASHINFER_INCLUDE_DIR=$FI"
[ -n "$FI_ARG" ] && [ -n "$CUTLASS" ] && [ -f "$CUTLASS/cute/tensor.hpp" ] && FI_ARG="$FI_ARG -DCUTLASS_INCLUDE_DIR=$CUTLASS"
BUILD_T=240; [[ "$FI_ARG" == *CUTLASS_INCLUDE_DIR* ]] && BUILD_T=480
if timeout $BUILD_T bash -c "$(declare -f cmake_build); ROOT='$ROOT' BUILD='$BUILD' OUT='$OUT' J=$J cmake_build '$FI_ARG'"; then
  BENCH="$BUILD/cmake/attnbench-kernels"
else
  echo "[kernels-check] cmake build failed ($(el)); tail:"; tail -15 "$OUT/configure.log" "$OUT/build.log" 2>/dev/null | grep -iE "error|fatal" | head -15
  cp "$OUT/build.log" "$OUT/build_with_libtorch.log" 2>/dev/null
  echo "[kernels-check] retrying without libtorch"
  if timeout 200 bash -c "$(declare -f cmake_build); ROOT='$ROOT' BUILD='$BUILD' OUT='$OUT' J=$J cmake_build '$FI_ARG -DATTNBENCH_LIBTORCH=OFF'"; then
    BENCH="$BUILD/cmake/attnbench-kernels"
  else
    echo "[kernels-check] engine build failed; standalone build (registry + fused + naive + flashinfer)"
    grep -iE "error" "$OUT/build.log" | head -10
    S="$BUILD/standalone"; mkdir -p "$S"; cd "$ROOT/native"
    srcs="bench/kernels_bench.cu src/attn/fused_prefill_cuda.cu src/attn/fused_decode_cuda.cu src/attn/naive_cuda.cu src/kernels/sm90_probe.cu"
    [ -n "$FI_ARG" ] && srcs="$srcs src/attn/flashinfer_attn.cu src/attn/flashinfer_paged_prefill.cu"
    [[ "$FI_ARG" == *CUTLASS_INCLUDE_DIR* ]] && srcs="$srcs src/attn/flashinfer_sm90_prefill.cu src/attn/flashinfer_sm90_paged.cu"
    pids=""; objs=""
    for f in $srcs; do o="$S/$(basename $f).o"; objs="$objs $o"; $NV --expt-relaxed-constexpr -Isrc -I. -I"$FI" ${CUTLASS:+-I"$CUTLASS"} -c $f -o $o >> "$OUT/standalone.log" 2>&1 & pids="$pids $!"; done
    g++ -O2 -std=c++17 -Isrc -I/usr/local/cuda/include -c src/attn/registry.cpp -o "$S/registry.o" >> "$OUT/standalone.log" 2>&1
    g++ -O2 -std=c++17 -Isrc -c src/core/experiments.cpp -o "$S/experiments.o" >> "$OUT/standalone.log" 2>&1
    g++ -O2 -std=c++17 -c bench/standalone_stub.cpp -o "$S/stub.o"
    for p in $pids; do wait $p; done
    $NV $objs "$S/registry.o" "$S/experiments.o" "$S/stub.o" -o "$S/attnbench-kernels" >> "$OUT/standalone.log" 2>&1 && BENCH="$S/attnbench-kernels"
    cd "$ROOT"
  fi
fi
echo "[kernels-check] bench build: ${BENCH:-FAILED} ($(el))"

# 3. lab correctness + sweep
wait $LAB1 $LAB2
for k in attention_prefill attention_decode; do
  if [ -x "$BUILD/lab/$k" ]; then timeout 100 "$BUILD/lab/$k" > "$OUT/lab_$k.log" 2>&1; echo "[kernels-check] $k rc=$? ($(el))"
  else echo "[kernels-check] $k did not build"; tail -5 "$OUT/lab_build_${k#attention_}.log"; fi
done
# Hopper prefill lab: each version's checks in its own process (a fault or hang stays in it), then
# the FA2 production kernel (9) against the Hopper versions that passed.
wait $LAB3
if [ -x "$BUILD/lab/attention_prefill_sm90" ]; then
  ok_v="9"
  for v in 15 18 25 27 28; do
    timeout 25 "$BUILD/lab/attention_prefill_sm90" check $v >> "$OUT/lab_attention_prefill_sm90.log" 2>&1 && ok_v="$ok_v $v"
  done
  timeout 60 "$BUILD/lab/attention_prefill_sm90" sweep $ok_v >> "$OUT/lab_attention_prefill_sm90.log" 2>&1
  echo "[kernels-check] attention_prefill_sm90 passed: $ok_v ($(el))"
else echo "[kernels-check] attention_prefill_sm90 did not build"; tail -5 "$OUT/lab_build_sm90.log"; fi

# 4. benchmark + anchors
if [ -n "$BENCH" ]; then
  timeout 200 "$BENCH" --json "$OUT/kernels_native.json" $QUICK > "$OUT/kernels_native.log" 2>&1
  echo "[kernels-check] attnbench-kernels rc=$? ($(el))"
fi
timeout 120 "$PY" "$ROOT/scripts/gpu/kernel_anchors.py" --json "$OUT/kernels_anchors.json" $QUICK > "$OUT/kernels_anchors.log" 2>&1
echo "[kernels-check] anchors rc=$? ($(el))"

# 5. short table last
for k in attention_prefill attention_decode attention_prefill_sm90; do [ -f "$OUT/lab_$k.log" ] && tail -n 25 "$OUT/lab_$k.log"; done
"$PY" "$ROOT/scripts/gpu/kernels_summary.py" "$OUT/kernels_native.json" "$OUT/kernels_anchors.json"
echo "[kernels-check] done in $(el); logs and JSON in $OUT"
