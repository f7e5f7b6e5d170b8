#!/usr/bin/env bash
# TypeScript tests: node:test through tsx, with an explicit file list (a bare `node --test` finds no
# .ts files on Node 20). Extra args are passed to node (e.g. --test-name-pattern=gate).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(test/*.test.ts)
if [ ${#files[@]} -eq 0 ]; then echo "no TypeScript tests found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 "$@" "${files[@]}"
