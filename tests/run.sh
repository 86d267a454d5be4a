#!/bin/sh
# The test runner: every C test in build/tests/ (from tests/unit/*.c) and
# every script tests/*.sh and tests/*/*.sh (except this one and helpers
# named lib*.sh).  Each test runs with a time limit; its output goes to
# build/test-logs/NAME.log and the tail is shown on failure.  Ends with the
# one summary line CI reads: "N passed, N failed".
#   tests/run.sh [FILTER]     run only tests whose name contains FILTER
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
LOGS="$BUILD/test-logs"
mkdir -p "$LOGS"
FILTER=${1:-}
TIMEOUT=${HAKMEM_TEST_TIMEOUT:-300}
export HAKMEM_ROOT="$ROOT" BUILD

pass=0; fail=0; failed=""

run_one() { # name, command...
    name=$1; shift
    case "$name" in *"$FILTER"*) ;; *) return ;; esac
    log="$LOGS/$name.log"
    start=$(date +%s.%N)
    timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'PASS  %-40s %6ss\n' "$name" "$t"
    else
        fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL  %-40s %6ss (exit %d, log %s)\n' "$name" "$t" "$rc" "$log"
        tail -n 25 "$log" | sed 's/^/      | /'
    fi
}

for t in "$BUILD"/tests/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in tests/*.sh tests/*/*.sh; do
    [ -f "$s" ] || continue
    case "$(basename "$s")" in run.sh|soak.sh|lib*.sh) continue ;; esac
    run_one "$(basename "$s" .sh)" sh "$s"
done

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
