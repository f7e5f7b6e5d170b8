#!/usr/bin/env bash
# CPU perf gate in CI: a same-run A/B of the base commit against this checkout (docs/gate.md).
#
#   base (A)       the merge-base of HEAD with the main branch (origin/main, main, origin/HEAD; or
#                  $SMOKE_BASE_REF); when there is no other branch, or HEAD is on it, the parent of the
#                  latest commit that changed the engine or harness. Exported with `git archive` and
#                  built in its own directory (cached by commit under .cache/smoke-base/).
#   candidate (B)  this checkout as built (native/build, the working tree's src/).
#   planted (C)    the candidate with a planted slowdown (--step-delay-us): the gate must fail it.
#
# The smoke workload runs interleaved, A B C A B C ..., SMOKE_ROUNDS rounds of SMOKE_REPEATS timed
# repeats each, so drift on a shared machine (a neighbour, a slow process) lands on both sides; the
# rounds of each arm are merged (scripts/merge-offline.ts) and gated: A vs B must pass, A vs C must
# fail with exit 1. Whatever makes A and B not comparable is printed with its reason. Exit 0 pass,
# 1 regression or a gate that misses the planted slowdown.
#   SMOKE_OUT=dir keeps the files; SMOKE_BASE_REF=ref picks the base branch.
#   scripts/smoke-gate.sh --which-base   prints the base commit and why (or why there is none), runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${SMOKE_ROUNDS:-3}
repeats=${SMOKE_REPEATS:-2}
planted_us=${SMOKE_PLANTED_US:-10000}
common=(--model synthetic:tiny --device cpu --backends naive,fused --num-prompts 64 --input-len 128
        --output-len 32 --repeats "$repeats" --seed 0 --no-plot --cpu-threads 1)
say() { echo "[smoke] $*"; }
ts() { node --import tsx "$@"; }

# ---- which base ---------------------------------------------------------------------------------
head_sha=$(git rev-parse HEAD)
base="" why="" not_comparable=""
for ref in ${SMOKE_BASE_REF:-} origin/main main origin/HEAD; do
  git rev-parse -q --verify "$ref^{commit}" >/dev/null || continue
  mb=$(git merge-base HEAD "$ref" 2>/dev/null) || continue
  if [ "$mb" != "$head_sha" ]; then base=$mb; why="merge-base of HEAD and $ref"; break; fi
done
if [ -z "$base" ]; then
  changed=(native/src native/CMakeLists.txt native/cmake src bin package.json package-lock.json)
  last=$(git log -1 --format=%H -- "${changed[@]}")
  if [ -z "$last" ]; then
    not_comparable="no commit in this clone changed the engine or harness"
  elif base=$(git rev-parse -q --verify "$last^" 2>/dev/null); then
    why="no other branch to compare with (HEAD is on it or none exists): the parent of $(git log -1 --format='%h "%s"' "$last" | cut -c1-90), the latest commit that changed the engine or harness"
  else
    base=""
    if [ "$(git rev-parse --is-shallow-repository)" = true ]; then not_comparable="shallow clone: the parent of ${last:0:12} is not here (fetch more history: git fetch --deepen=50)"
    else not_comparable="${last:0:12} is the first commit: nothing before it to compare with"; fi
  fi
fi
if [ "${1:-}" = --which-base ]; then
  if [ -n "$base" ]; then echo "base $base: $why"; else echo "no base: $not_comparable"; fi
  exit 0
fi
out=${SMOKE_OUT:-$(mktemp -d)}; mkdir -p "$out"
tol=$(cat baselines/cpu-smoke.tolerances)
dirty=$(git status --porcelain --untracked-files=no -- native src bin package.json | head -1)
say "candidate (B): HEAD ${head_sha:0:12}${dirty:+ plus uncommitted changes}, native/build/attnbench-engine"

# ---- build the base in its own directory --------------------------------------------------------
base_dir=""
if [ -n "$base" ]; then
  say "base (A): ${base:0:12}, $why"
  base_dir="$root/.cache/smoke-base/$base"
  # One cached base at a time: older ones go.
  for d in "$root"/.cache/smoke-base/*; do [ -d "$d" ] && [ "$d" != "$base_dir" ] && rm -rf "$d"; done
  if [ ! -x "$base_dir/native/build/attnbench-engine" ]; then
    rm -rf "$base_dir"; mkdir -p "$base_dir"
    t0=$(date +%s)
    if ! git archive "$base" | tar -x -C "$base_dir"; then
      not_comparable="git archive $base failed"
    else
      gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
      if ! { cmake -S "$base_dir/native" -B "$base_dir/native/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
               -DATTNBENCH_CUDA=OFF -DBUILD_TESTING=OFF >"$out/base-build.log" 2>&1 &&
             cmake --build "$base_dir/native/build" --target attnbench-engine -j "$(nproc 2>/dev/null || echo 2)" >>"$out/base-build.log" 2>&1; }; then
        tail -20 "$out/base-build.log"
        not_comparable="the base's engine does not build (log above)"
        rm -rf "$base_dir/native/build"
      fi
    fi
    [ -z "$not_comparable" ] && say "base built in $(( $(date +%s) - t0 )) s ($base_dir)"
  else
    say "base already built ($base_dir)"
  fi
  if [ -z "$not_comparable" ] && [ ! -e "$base_dir/node_modules" ]; then
    if cmp -s package-lock.json "$base_dir/package-lock.json"; then
      ln -s "$root/node_modules" "$base_dir/node_modules"
    elif ! ( cd "$base_dir" && npm ci --no-audit --no-fund --loglevel=error ) >"$out/base-npm.log" 2>&1; then
      tail -20 "$out/base-npm.log"; not_comparable="npm ci for the base failed (log above)"
      rm -rf "$base_dir/node_modules"
    fi
  fi
fi

# ---- interleaved runs -------------------------------------------------------------------------
run_arm() {  # arm round cli-root [extra args]
  local arm=$1 round=$2 cli=$3; shift 3
  local dir="$out/$arm$round"
  rm -rf "$dir"
  # Exit 1 only means "not every run valid" (reported by the gate below); the results file counts.
  node "$cli/bin/attnbench.js" bench offline "${common[@]}" "$@" --out "$dir" >"$dir.log" 2>&1 || true
  local f; f=$(ls "$dir"/offline_*/offline_results.json 2>/dev/null | head -1)
  if [ -z "$f" ]; then tail -5 "$dir.log" | sed "s/^/[smoke]   $arm$round: /"; return 1; fi
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log("[smoke]   "+process.argv[2]+": "+r.runs.map(x=>x.backend.label+" "+(x.req_s===null?x.status:x.req_s.toFixed(1)+" req/s")).join(", "))' "$f" "$arm$round"
  echo "$f" >>"$out/$arm.files"
}
rm -f "$out"/{A,B,C}.files
t0=$(date +%s)
for r in $(seq 1 "$rounds"); do
  say "round $r/$rounds"
  if [ -n "$base_dir" ] && [ -z "$not_comparable" ]; then
    run_arm A "$r" "$base_dir" || not_comparable="the base could not run the smoke workload (its log: $out/A$r.log, tail above)"
  fi
  run_arm B "$r" "$root" || { say "the candidate could not run the smoke workload"; cat "$out/B$r.log"; exit 1; }
  run_arm C "$r" "$root" --step-delay-us "$planted_us" || { cat "$out/C$r.log"; exit 1; }
done
say "$(cat "$out"/{A,B,C}.files 2>/dev/null | wc -l) runs in $(( $(date +%s) - t0 )) s"
merge() { ts scripts/merge-offline.ts "$out/$1.json" $(cat "$out/$1.files"); }
merge B; merge C

gate() {  # name baseline candidate -> sets rc
  set +e
  node bin/attnbench.js gate --baseline "$2" --candidate "$3" --max-regression "$tol" --report "$out/gate_$1.md" "${@:4}" >"$out/gate_$1.log" 2>&1
  rc=$?
  set -e
}

status=0
if [ -n "$not_comparable" ] || [ -z "$base_dir" ]; then
  say "A/B NOT RUN: ${not_comparable:-no base}; the candidate is not compared with another commit"
  rm -f "$out/A.files"
else
  merge A
  say "gate base (A) vs candidate (B), $((rounds * repeats)) repeats each"
  gate ab "$out/A.json" "$out/B.json"
  if [ "$rc" = 2 ] && grep -q "fingerprint" "$out/gate_ab.log"; then
    # Same machine, same workload by construction: what differs is how the two harnesses describe it.
    say "not comparable as is, the fingerprints differ:"; grep -E "^  |differ" "$out/gate_ab.log" | sed 's/^/[smoke]   /'
    say "comparing anyway (--force): both ran here, interleaved, on the same workload"
    gate ab "$out/A.json" "$out/B.json" --force
  fi
  grep -E "^## |REGRESSION|^- " "$out/gate_ab.log" | head -20 | sed 's/^/[smoke]   /'
  case $rc in
    0) say "pass: the candidate is within tolerance of its base" ;;
    1) say "REGRESSION against the base ${base:0:12} (report: $out/gate_ab.md)"; cat "$out/gate_ab.log"; status=1 ;;
    *) say "gate could not compare (exit $rc):"; cat "$out/gate_ab.log"; status=1 ;;
  esac
fi

# The gate must see a real slowdown: the candidate with a planted one, against A (or B without a base).
ref=$([ -f "$out/A.json" ] && [ -s "$out/A.files" ] && echo "$out/A.json" || echo "$out/B.json")
say "gate $(basename "$ref" .json) vs planted slowdown (C: --step-delay-us $planted_us): must fail with exit 1"
gate ac "$ref" "$out/C.json" --force
if [ "$rc" = 1 ]; then say "planted slowdown caught (exit 1)"; else say "the gate did not catch the planted slowdown (exit $rc)"; cat "$out/gate_ac.log"; status=1; fi
[ "$status" = 0 ] && say "ok"
exit $status
