#!/usr/bin/env bash
# Compile-checks every .cu under native/ with nvcc (sm_90a, C++17, -I native/src) into a temp dir,
# for machines with nvcc but no GPU and possibly no cuBLAS/cuDNN/libtorch/FlashInfer headers.
# A file that fails only because one of those optional headers is missing is skipped and listed;
# any other compile error fails the script.
#   usage: scripts/check-cuda-compile.sh [extra nvcc flags...]     (NVCC=... to pick the compiler)
set -uo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-nvcc}
if ! command -v "$NVCC" >/dev/null 2>&1; then
  for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-13.0/bin/nvcc; do [ -x "$c" ] && NVCC=$c && break; done
fi
command -v "$NVCC" >/dev/null 2>&1 || { echo "check-cuda-compile: nvcc not found"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t files < <(find native -name '*.cu' -not -path 'native/build*' | sort)
jobs=$(nproc 2>/dev/null || echo 2)

# Optional libraries whose headers may be absent here: their missing-header errors mean "skip".
optional_re='(cublas[A-Za-z_]*\.h|cudnn[A-Za-z_]*\.h|torch/|ATen/|c10/|flashinfer/|cute/|cutlass/)'

compile_one() {
  local f=$1 tmp=$2
  local key=${f//\//_}
  if "$NVCC" -c -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I native/src -I native ${EXTRA_FLAGS:-} \
       "$f" -o "$tmp/$key.o" >"$tmp/$key.log" 2>&1; then
    echo "ok $f" >"$tmp/$key.res"
  else
    echo "fail $f" >"$tmp/$key.res"
  fi
}
export -f compile_one
export NVCC
export EXTRA_FLAGS="$*"
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} bash -c 'compile_one "$1" "$2"' _ {} "$tmp"

compiled=0; skipped=(); failed=()
for f in "${files[@]}"; do
  key=${f//\//_}
  read -r status _ <"$tmp/$key.res"
  if [ "$status" = ok ]; then
    compiled=$((compiled + 1))
  else
    missing=$(grep -oE "(cannot open source file \"|fatal error: )[^\":]*" "$tmp/$key.log" | head -1 |
              sed -E 's/cannot open source file "|fatal error: //')
    if [ -n "$missing" ] && [[ "$missing" =~ $optional_re ]]; then
      skipped+=("$f (missing header $missing)")
    else
      failed+=("$f")
      echo "---- $f"; head -40 "$tmp/$key.log"
    fi
  fi
done
echo "compiled ${compiled}, skipped ${#skipped[@]}$( [ ${#skipped[@]} -gt 0 ] && printf ': %s' "$(printf "%s; " "${skipped[@]}")")"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED ${#failed[@]}: ${failed[*]}"
  exit 1
fi
