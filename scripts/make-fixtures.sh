#!/usr/bin/env bash
# Regenerates native/tests/fixtures with HF transformers. Uses $PYTHON, else .venv/bin/python, else
# /work/venv/bin/python, else python3 (each needs torch, transformers, safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-}
for cand in .venv/bin/python /work/venv/bin/python python3; do
  [ -n "$py" ] && break
  if [ -x "$cand" ] || command -v "$cand" >/dev/null 2>&1; then py=$cand; fi
done
exec "$py" scripts/make-fixtures.py "$@"
