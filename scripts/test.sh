#!/usr/bin/env bash
# The test command (README and CI): builds what changed, then runs every suite that needs no GPU:
#   native ctest (golden vs HF fixtures, backends, scheduler, protocol), the CUDA compile check,
#   the TypeScript typecheck and tests, and the CPU perf gate (a same-run A/B of the base commit
#   against this checkout, interleaved, with a planted slowdown that must fail; docs/gate.md).
# Ends with one line "attnbench: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
logdir=$(mktemp -d)
passed=0; failed=0; status=0

step() { echo; echo "==== $*"; }
count_ctest() {  # "100% tests passed, 0 tests failed out of 12"
  local line; line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$1" | tail -1)
  [ -n "$line" ] || return 0
  local total fail; total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line"); fail=$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + total - fail)); failed=$((failed + fail))
}
count_node() {  # TAP summary "# pass N" / "# fail N"
  local p f; p=$(grep -E "^# pass [0-9]+" "$1" | tail -1 | awk '{print $3}'); f=$(grep -E "^# fail [0-9]+" "$1" | tail -1 | awk '{print $3}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

step "build (scripts/build-engine.sh)"
if ! bash scripts/build-engine.sh; then echo "engine build FAILED"; exit 1; fi

step "native tests (ctest)"
ctest --test-dir native/build --output-on-failure -j2 2>&1 | tee "$logdir/ctest.log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
count_ctest "$logdir/ctest.log"

step "CUDA compile check (no GPU needed)"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  if bash scripts/check-cuda-compile.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
else
  echo "skipped: nvcc not found on this machine"
fi

step "TypeScript typecheck"
if npx --no-install tsc -p tsconfig.json --noEmit; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

step "TypeScript tests (node:test)"
# PIPESTATUS is read on the very next line: after a `|| true` it would describe `true` instead (that
# once let a failing TypeScript test end in exit status 0).
bash scripts/test-ts.sh --test-reporter=tap 2>&1 | tee "$logdir/node.log" | grep -E "^(not ok|# (tests|pass|fail|skipped|duration))|^ok "
ts_rc=${PIPESTATUS[0]}
[ "$ts_rc" = 0 ] || { status=1; grep -B2 -A30 "^not ok" "$logdir/node.log" | head -200; }
count_node "$logdir/node.log"

step "CPU perf gate: base vs candidate, interleaved (scripts/smoke-gate.sh)"
if bash scripts/smoke-gate.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

echo
echo "attnbench: $passed passed, $failed failed"
[ "$passed" -gt 0 ] || status=1
[ "$failed" = 0 ] || status=1
exit $status
