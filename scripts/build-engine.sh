#!/usr/bin/env bash
# Builds the native engine into native/build/attnbench-engine (and the ctest executables).
#   bash scripts/build-engine.sh                   Release, CUDA if nvcc + cuBLAS are found
#   ATTNBENCH_CUDA=OFF bash scripts/build-engine.sh   CPU only
#   extra CMake arguments pass through: bash scripts/build-engine.sh -DFLASHINFER_INCLUDE_DIR=...
set -euo pipefail
# Where this script physically is: CMake's cache records where it was configured, and a checkout
# reached through symlinks (test/readme.test.ts's scratch copy) must build in the same place, not
# reconfigure it.
cd "$(dirname "$(readlink -f "$0")")/.."

# nlohmann/json (header-only) is the one library the CPU engine needs beyond a C++17 compiler.
if [ ! -f /usr/include/nlohmann/json.hpp ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build-engine: installing nlohmann-json3-dev" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nlohmann-json3-dev >/dev/null
  else
    echo "build-engine: nlohmann/json.hpp missing; install nlohmann-json3-dev (apt) or pass -Dnlohmann_json_DIR=..." >&2
  fi
fi

generator=()
if [ ! -f native/build/CMakeCache.txt ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S native -B native/build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DATTNBENCH_CUDA="${ATTNBENCH_CUDA:-AUTO}" "$@"
cmake --build native/build -j "$(nproc 2>/dev/null || echo 2)"
echo "build-engine: native/build/attnbench-engine"
