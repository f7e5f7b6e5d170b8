#!/usr/bin/env bash
# Fill .carry/ (git-ignored) with what a GPU host without Node or network needs for the harness:
#   node.xz (portable Node), node_modules.tar.xz (production deps), dist.tar.xz (built JS),
# (traces/ travels with the checkout itself.)
# FlashInfer headers, when wanted, go to .carry/flashinfer/include (see docs/kernels.md).
# Then pass carry: [".carry"] to the device tool; on the host: bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .carry
bash ../shared/tools/portable-node.sh .carry >/dev/null
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
if [ ! -f .carry/node_modules.tar.xz ] || [ package-lock.json -nt .carry/node_modules.tar.xz ]; then
  cp package.json package-lock.json "$stage/"
  ( cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null )
  tar -C "$stage" -cf - node_modules | xz -T0 -6 > .carry/node_modules.tar.xz
fi
npx --no-install tsc -p tsconfig.json --outDir "$stage/dist"
tar -C "$stage" -cf - dist | xz -T0 -6 > .carry/dist.tar.xz
du -sh .carry
