#!/bin/sh
# make soak: a long run of hakmem under load (docs/reliability.md, "Soak").
#
# For SOAK_MINUTES (default 30; SOAK_SECONDS overrides):
#   - one long-running, self-checking workload under LD_PRELOAD
#     (build/tests/progs/soak_workload: 4 threads, every tier, remote
#     frees, short-lived threads, a fork every 5 s) whose RSS is sampled
#     every SOAK_SAMPLE seconds (default 5) into rss.csv, and whose stats
#     segment hakmem-top reads every minute (top.jsonl);
#   - meanwhile, in a loop, the multi-threaded stress tests and the
#     real-program suite (tests/programs/preload_*.sh), each of which
#     checks its own results (SOAK_ITEMS overrides the list).
# Passes when nothing crashed or failed, the workload found no corruption
# and ended cleanly, and its RSS did not grow: the mean RSS of the last
# minute is at most SOAK_RSS_LIMIT_PCT (10) % above the mean of the minute
# before the last 20 minutes (for shorter runs: the last two thirds of the
# run, and windows of a twentieth of it, at least 2 samples).  Results go to SOAK_DIR (default
# build/soak): summary.txt, rss.csv, top.jsonl, runs.txt, logs of failures.
HAKMEM_ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
. "$(dirname "$0")/lib.sh"
hk_setup
hk_need awk
if [ -n "${SOAK_SECONDS:-}" ]; then DUR=$SOAK_SECONDS; else DUR=$(( ${SOAK_MINUTES:-30} * 60 )); fi
SAMPLE=${SOAK_SAMPLE:-5}
LIMIT=${SOAK_RSS_LIMIT_PCT:-10}
for v in "$DUR" "$SAMPLE" "$LIMIT"; do
    case $v in ''|*[!0-9]*|0) hk_fail "SOAK_MINUTES, SOAK_SECONDS, SOAK_SAMPLE and SOAK_RSS_LIMIT_PCT must be positive integers" ;; esac
done
OUT=${SOAK_DIR:-$BUILD/soak}
case $OUT in /*) ;; *) OUT=$HAKMEM_ROOT/$OUT ;; esac
WL=$BUILD/tests/progs/soak_workload
TOP=$BUILD/hakmem-top
[ -x "$WL" ] || hk_fail "$WL not built (run make)"
[ -x "$TOP" ] || hk_fail "$TOP not built (run make)"
rm -rf "$OUT"
mkdir -p "$OUT/logs" || hk_fail "cannot create $OUT"

ITEMS=${SOAK_ITEMS:-"test_threads test_thread_churn test_thread_cycles test_fork test_remote
test_orphan test_drain $(cd "$HAKMEM_ROOT/tests/programs" && ls preload_*.sh | sed 's/\.sh$//')"}

# The workload: it stops by itself after DUR seconds.
LD_PRELOAD=$HK_LIB "$WL" "$DUR" 4 >"$OUT/workload.log" 2>&1 &
WPID=$!
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    rm -rf "$HK_TMP"
}
trap cleanup EXIT
i=0
until grep -q '^ready' "$OUT/workload.log"; do
    i=$((i + 1))
    [ $i -le 100 ] && kill -0 "$WPID" 2>/dev/null ||
        hk_fail "the soak workload did not start: $(head -n 3 "$OUT/workload.log")"
    sleep 0.1
done
T0=$(date +%s)

# RSS sampler (and hakmem-top every 60 s) while the workload runs.
(
    echo "seconds,rss_kib" >"$OUT/rss.csv"
    next_top=0
    while kill -0 "$WPID" 2>/dev/null; do
        t=$(( $(date +%s) - T0 ))
        r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$WPID/status" 2>/dev/null)
        [ -n "$r" ] && echo "$t,$r" >>"$OUT/rss.csv"
        if [ "$t" -ge "$next_top" ]; then
            timeout 20 "$TOP" -p "$WPID" -b -n 1 -o json >>"$OUT/top.jsonl" 2>>"$OUT/top.err"
            next_top=$((t + 60))
        fi
        sleep "$SAMPLE"
    done
) &
SPID=$!

# The loop of tests and programs.
: >"$OUT/runs.txt"
fails=0; runs=0; round=0
while [ $(( $(date +%s) - T0 )) -lt "$DUR" ]; do
    round=$((round + 1))
    for it in $ITEMS; do
        [ $(( $(date +%s) - T0 )) -lt "$DUR" ] || break
        case $it in
            preload_*) cmd="sh $HAKMEM_ROOT/tests/programs/$it.sh" ;;
            *) cmd=$BUILD/tests/$it; [ -x "$cmd" ] || hk_fail "$cmd not built" ;;
        esac
        log=$OUT/logs/$it.$round.log
        s=$(date +%s)
        timeout -k 10 900 $cmd >"$log" 2>&1 </dev/null
        rc=$?
        runs=$((runs + 1))
        echo "$round $it $rc $(( $(date +%s) - s ))" >>"$OUT/runs.txt"
        if [ $rc -ne 0 ]; then
            fails=$((fails + 1))
            echo "FAIL: round $round: $it exited $rc (log $log)" >&2
            tail -n 15 "$log" >&2
        else
            rm -f "$log"
        fi
        kill -0 "$WPID" 2>/dev/null || break 2
    done
done

wait "$WPID"
wrc=$?
WPID=
wait "$SPID" 2>/dev/null
SPID=
T=$(( $(date +%s) - T0 ))

# RSS over the run: baseline window before the last 2/3 (at most 20 min),
# final window at the end.
W=$(( DUR * 2 / 3 )); [ $W -gt 1200 ] && W=1200
B=$(( DUR / 20 )); [ $B -gt 60 ] && B=60; [ $B -lt $((2 * SAMPLE)) ] && B=$((2 * SAMPLE))
rss=$(awk -F, -v dur="$DUR" -v w="$W" -v b="$B" '
    NR == 1 { next }
    { n++; if ($2 > max) max = $2; if (min == "" || $2 < min) min = $2; last = $1 }
    $1 >= dur - w - b && $1 <= dur - w { bs += $2; bn++ }
    $1 >= dur - w && $2 > wmax { wmax = $2 }
    $1 >= dur - b { fs += $2; fn++ }
    END {
        if (!bn || !fn) { print "none"; exit }
        base = bs / bn; fin = fs / fn
        printf "%d %d %d %d %d %.1f %.1f %d\n", n, min, max, base, fin, 100 * (fin - base) / base,
               100 * (wmax - base) / base, last
    }' "$OUT/rss.csv")
set -- $rss
[ "$1" != none ] && [ $# -eq 8 ] || hk_fail "too few RSS samples in $OUT/rss.csv"
nsamp=$1; rmin=$2; rmax=$3; base=$4; fin=$5; growth=$6; peak=$7
ok_line=$(grep '^ok ' "$OUT/workload.log")
tops=$(wc -l <"$OUT/top.jsonl" 2>/dev/null || echo 0)
incons=$(grep -c '"consistent":false' "$OUT/top.jsonl" 2>/dev/null)

{
    echo "soak: $T s (planned $DUR s), $round rounds, $runs test/program runs, $fails failed"
    echo "workload: exit $wrc; ${ok_line:-no final line}"
    echo "rss: $nsamp samples every ${SAMPLE}s; min $((rmin / 1024)) MiB, max $((rmax / 1024)) MiB"
    echo "rss: mean over [$((DUR - W - B)), $((DUR - W))] s $((base / 1024)) MiB;" \
         "last $B s $((fin / 1024)) MiB; growth ${growth}% (limit ${LIMIT}%); peak in the last $W s ${peak}% above the baseline"
    echo "hakmem-top: $tops samples of the live segment, ${incons:-0} inconsistent"
    awk '{ n[$2]++; if ($3 != 0) f[$2]++; t[$2] += $4 }
         END { for (k in n) printf "  %-24s %3d runs %2d failed %6.1f s avg\n", k, n[k], f[k], t[k] / n[k] }' \
        "$OUT/runs.txt" | sort
} | tee "$OUT/summary.txt"

[ $wrc -eq 0 ] && [ -n "$ok_line" ] ||
    hk_fail "the soak workload failed (exit $wrc): $(grep -m 2 soak_workload: "$OUT/workload.log")"
[ "$fails" -eq 0 ] || hk_fail "$fails of $runs test/program runs failed (logs in $OUT/logs)"
[ "$runs" -gt 0 ] || hk_fail "no test or program ran"
[ -s "$OUT/top.jsonl" ] || hk_fail "hakmem-top could not read the workload's segment: $(head -n 2 "$OUT/top.err")"
awk -v g="$growth" -v l="$LIMIT" 'BEGIN { exit !(g <= l) }' ||
    hk_fail "RSS grew by ${growth}% over the last $W s (limit ${LIMIT}%; samples in $OUT/rss.csv)"
echo "soak: ok"
