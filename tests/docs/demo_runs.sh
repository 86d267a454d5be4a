#!/bin/sh
# `make demo` keeps working: scripts/demo.sh runs end to end (into a scratch
# directory), every step is there, the two serial replays print the same
# fingerprint, the capture lost nothing, and no step reports a failure.
# The demo's own time budget (3 minutes with the build) is not asserted
# here (no timing in tests); its steps take 15-60 s on this machine.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need lttng lttng-sessiond babeltrace2
cd "$HAKMEM_ROOT" || hk_fail "cannot cd to $HAKMEM_ROOT"
LTTNG_HOME=$HK_TMP/lttng-home
mkdir -p "$LTTNG_HOME"
export LTTNG_HOME

out=$HK_TMP/demo.txt
DEMO_OUT=$HK_TMP/demo NO_COLOR=1 timeout -k 10 240 sh scripts/demo.sh >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || hk_fail "scripts/demo.sh exited with status $rc"
for want in \
    '== 1. A multi-threaded program running on hakmem' \
    '== 2. hakmem-top: the live counters' \
    '== 3. hakmem-trace: every allocator call' \
    '== 4. hakmem-replay: the same calls' \
    '== 5. hakmem-lockstat: which of hakmem' \
    '== Where the files are, and what to try next ==' \
    'SharedPool stage1 ' \
    'Classes - sorted by CLASS' \
    'hakmem-trace: no events lost' \
    'converted .* -> .*/demo.hkr' \
    'first invalid operation: none' \
    'fingerprints match: ' \
    '^jemalloc  ' \
    'hakmem-lockstat: trace .*: [0-9]* events, [0-9]* lock events' \
    'The demo took [0-9]* s'; do
    grep -q -- "$want" "$out" || hk_fail "the demo's output lacks '$want'"
done
grep -q 'FAILED' "$out" && hk_fail "the demo reported a failure"
fp=$(sed -n 's/^fingerprints match: \([0-9a-f]*\) = \([0-9a-f]*\) .*/\1 \2/p' "$out")
set -- $fp
[ -n "${1:-}" ] && [ "$1" = "${2:-}" ] || hk_fail "fingerprints: '$fp'"
# Nothing but the documented liblttng-ust exit-time frees may be dropped:
# convert counts those on one line and warns about nothing else, except
# frees by liblttng-ust's listener thread (not the main thread, and not
# started in the trace: it used the allocator before the recording), which
# frees what it allocated then when another session on the daemon changes
# meanwhile (docs/howto-replay.md).  Every free of the workload's own
# blocks has its malloc in the trace.
grep -q '^  at exit: [1-9][0-9]* frees of pointers the trace never returned' "$out" ||
    hk_fail "convert did not count liblttng-ust's exit-time frees"
pid=$(sed -n 's/.*hakmem-replay convert .* --pid \([0-9]*\) -o .*/\1/p' "$out" | head -n 1)
[ -n "$pid" ] || hk_fail "the demo's convert command line names no --pid"
"$BUILD/hakmem-replay" convert --all-anomalies --pid "$pid" "$HK_TMP/demo/trace" -o "$HK_TMP/all.hkr" \
    >/dev/null 2>"$HK_TMP/all.err" || hk_fail "convert --all-anomalies failed: $(head -n 2 "$HK_TMP/all.err")"
"$BUILD/hakmem-replay" info --threads "$HK_TMP/all.hkr" >"$HK_TMP/threads.txt" 2>&1 ||
    hk_fail "info of the demo's replay file failed"
sed -n 's/^  thread [0-9]*: vpid \([0-9]*\) vtid \([0-9]*\), [0-9]* events$/\1 \2/p' "$HK_TMP/threads.txt" |
    awk '$1 != $2 { print "vtid " $2 "," }' >"$HK_TMP/early"
grep 'warning' "$HK_TMP/all.err" >"$HK_TMP/warned"
if [ -s "$HK_TMP/early" ]; then
    grep -v -F -f "$HK_TMP/early" "$HK_TMP/warned" >"$HK_TMP/warned.own"
    grep -v 'free of a pointer the trace never returned' "$HK_TMP/warned" >>"$HK_TMP/warned.own"
else
    cp "$HK_TMP/warned" "$HK_TMP/warned.own"
fi
[ -s "$HK_TMP/warned.own" ] && { cat "$HK_TMP/warned.own"; hk_fail "convert warned"; }
echo "PASS: the demo ran every step"
