# Shared by the GPU-host scripts (scripts/gpu-check.sh, scripts/gpu/llama-perf.sh): timed stages with
# a deadline, and the summary rows they leave. Source it, then set
#   STAGE_LOG_DIR    where each stage's output goes
#   STAGE_DEADLINE_S seconds after STAGE_T0 (default: when this file was sourced) at which stages stop
#                    (one still running is stopped, the rest are not started), leaving 20 s for the
#                    summary; 0 = none. In a device-tool call (600 s limit) 570 makes sure the summary
#                    and the files come back: a call cut off at its limit returns nothing written later.
#   STAGE_ENV_NAME   the variable a user sets for the deadline, named in SKIP rows
STAGE_LOG_DIR=${STAGE_LOG_DIR:-/tmp}
STAGE_DEADLINE_S=${STAGE_DEADLINE_S:-0}
STAGE_ENV_NAME=${STAGE_ENV_NAME:-the deadline}
STAGE_T0=${STAGE_T0:-$SECONDS}
stage_rows=()
# row NAME RESULT SECONDS NOTE: one summary row, printed as it is added (a call cut off later still
# shows what ran).
row() { stage_rows+=("$(printf '%-28s %-6s %5ss  %s' "$1" "$2" "$3" "$4")"); echo "${stage_rows[-1]}"; }
time_left() {
  if [ "$STAGE_DEADLINE_S" -gt 0 ]; then echo $((STAGE_DEADLINE_S - (SECONDS - STAGE_T0) - 20)); else echo 1000000; fi
}
# run_stage NAME LOG CMD...: runs CMD with its output in $STAGE_LOG_DIR/LOG; records ok / FAIL / SKIP
# and the seconds; prints the log's tail on failure. Returns CMD's exit status (1 when skipped).
run_stage() {
  local name=$1 log=$2; shift 2
  local t0=$SECONDS left
  left=$(time_left)
  if [ "$left" -le 5 ]; then row "$name" SKIP 0 "not started: $STAGE_ENV_NAME=$STAGE_DEADLINE_S reached"; return 1; fi
  timeout -k 5 "$left" "$@" >"$STAGE_LOG_DIR/$log" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && echo "stage $name stopped at the deadline ($STAGE_ENV_NAME=$STAGE_DEADLINE_S)" >>"$STAGE_LOG_DIR/$log"
  if [ $rc -eq 0 ]; then row "$name" ok $((SECONDS - t0)) "$log"
  else row "$name" FAIL $((SECONDS - t0)) "$log (rc $rc)"; echo "---- $name failed (rc $rc):"; tail -n 30 "$STAGE_LOG_DIR/$log"; fi
  return $rc
}
# True when any row so far failed.
any_stage_failed() { printf '%s\n' "${stage_rows[@]}" | grep -q " FAIL "; }
