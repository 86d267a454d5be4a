#!/bin/sh
# A trace that lost events is refused: recorded by hand with lttng into a
# tiny non-blocking channel (so the ring buffer overflows), `hakmem-trace
# stat` reports the discarded events (stream, count, time window) and the
# per-thread sequence gaps, says INCOMPLETE and exits 3; --allow-gaps
# exits 0.  The same reader finds no loss in a hakmem-trace capture
# (tests/trace/trace_capture.sh).
. "$(dirname "$0")/lib_trace.sh"
ht_setup

S=hakmem-loss-test-$$-$(date +%s%N)
T=$HK_TMP/loss
created=0
finish() {
    [ $created = 1 ] && lttng destroy "$S" >/dev/null 2>&1
    ht_stop_sessiond
    rm -rf "$HK_TMP"
}
trap finish EXIT

ht_start_sessiond
ht_session "$S" "$T" small "--subbuf-size=4096 --num-subbuf=2" "hakmem:*"
# No LTTNG_UST_ALLOW_BLOCKING: a full buffer discards.
LD_PRELOAD="$BUILD/libhakmem.so $BUILD/libhakmem-tp.so" LTTNG_UST_REGISTER_TIMEOUT=-1 \
    timeout -k 5 120 "$HT_WORKLOAD" >"$HK_TMP/out" 2>"$HK_TMP/err" ||
    hk_fail "the workload failed: $(tail -n 3 "$HK_TMP/err")"
lttng stop "$S" >/dev/null 2>&1 || hk_fail "lttng stop failed"
lttng destroy "$S" >/dev/null 2>&1 || hk_fail "lttng destroy failed"
created=0

timeout -k 5 60 "$HT_TRACE" stat "$T" >"$HK_TMP/stat.txt" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$HK_TMP/stat.txt" >&2; hk_fail "stat of a lossy trace exited $rc, not 3"; }
grep -q '^DISCARDED: [0-9][0-9]* events in stream .* between ' "$HK_TMP/stat.txt" ||
    hk_fail "no discarded-events report with stream and time window"
grep -q '^GAP: thread vpid [0-9]* vtid [0-9]* lost [0-9]* \(replay\|box\) events (seq ' "$HK_TMP/stat.txt" ||
    hk_fail "no per-thread sequence gap report"
grep -q '^result: INCOMPLETE' "$HK_TMP/stat.txt" || hk_fail "no INCOMPLETE verdict"
n=$(sed -n 's/^events discarded: //p' "$HK_TMP/stat.txt")
[ -n "$n" ] && [ "$n" -gt 0 ] || hk_fail "events discarded: '$n'"
echo "ok: lossy trace refused ($n events discarded, $(sed -n 's/^sequence gaps: //p' "$HK_TMP/stat.txt"))"

"$HT_TRACE" stat --allow-gaps "$T" >/dev/null 2>&1 || hk_fail "stat --allow-gaps did not exit 0"
echo "ok: --allow-gaps accepts it"
