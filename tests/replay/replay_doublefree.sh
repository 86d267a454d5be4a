#!/bin/sh
# A program frees a block a second time from another thread.  Recorded
# (with hakmem-trace under hakmem, and with the libc wrapper under glibc),
# converted (convert reports the double free), `run --check` stops at the
# second free by its event index with the object's history and exits 3;
# `reduce` shrinks the trace to a handful of events that fail the same way.
. "$(dirname "$0")/lib_replay.sh"
rp_setup
[ -x "$RP_TRACE" ] || hk_fail "$RP_TRACE does not exist (run make first)"
T=$HK_TMP

check_trace() { # name trace-dir
    name=$1
    pid=$(rp_field "$2.out" pid)
    victim=$(rp_field "$2.out" victim)
    [ -n "$pid" ] && [ -n "$victim" ] || hk_fail "$name: the workload printed no pid/victim"
    rp_ok "$name.conv" "$RP" convert --pid "$pid" "$2" -o "$T/$name.hkr"
    # convert names the double free, with the event index it gets in the file
    line=$(grep "double free of $victim " "$T/$name.conv.err") ||
        hk_fail "$name: convert did not report the double free of $victim: $(cat "$T/$name.conv.err")"
    k_conv=$(echo "$line" | sed -n 's/.*: event \([0-9]*\), trace event.*/\1/p')

    # the expected index, from the dump: the second free of one object
    rp_ok "$name.dump" "$RP" dump "$T/$name.hkr"
    set -- $(awk '$4 ~ /^free\(#/ { o = $4; n[o]++; if (n[o] == 2) { print $1, $2, o; exit } }' \
        "$T/$name.dump.out")
    [ $# -eq 3 ] || hk_fail "$name: no object is freed twice in the dump"
    k=$1; t2=${2#t=}; obj=${3#free(}; obj=${obj%)}
    [ "$k" = "$k_conv" ] || hk_fail "$name: convert said event $k_conv, the dump says $k"
    # allocated by another thread than the one that freed it again
    t1=$(awk -v o="-> $obj" 'index($0, o) && / malloc\(24\)/ { sub("t=", "", $2); print $2; exit }' \
        "$T/$name.dump.out")
    [ -n "$t1" ] || hk_fail "$name: no malloc(24) created $obj"
    [ "$t1" != "$t2" ] || hk_fail "$name: both frees on thread $t1 (the workload uses two threads)"

    for mode in "" --serial; do
        rp_run "$name.check" env LD_PRELOAD="$HK_LIB" "$RP_H" run $mode --check "$T/$name.hkr"
        [ $rc -eq 3 ] || hk_fail "$name: run $mode --check exited $rc, expected 3: $(tail -n 3 "$T/$name.check.err")"
        grep -q "^hakmem-replay: check: event $k (thread $t2): free($obj): double free$" \
            "$T/$name.check.err" || hk_fail "$name: check report: $(head -n 1 "$T/$name.check.err")"
        # the history: allocation, first free, and the second (marked)
        grep -q "thread $t1  malloc(24) -> $obj " "$T/$name.check.err" || hk_fail "$name: no allocation in the history"
        [ "$(grep -c "  free($obj)" "$T/$name.check.err")" -eq 2 ] || hk_fail "$name: history lacks the two frees"
        grep -q "event $k  thread $t2  free($obj) .*<==" "$T/$name.check.err" || hk_fail "$name: second free not marked"
        # it stopped before the bad free
        [ "$(rp_kv "$T/$name.check.out" events)" -eq "$k" ] || hk_fail "$name: check replayed past event $k"
    done
    rp_ok "$name.info" "$RP" info "$T/$name.hkr"
    grep -q "first invalid operation: event $k (double free): free($obj)" "$T/$name.info.out" ||
        hk_fail "$name: info: $(grep 'first invalid' "$T/$name.info.out")"

    # reduce to a handful of events that fail the same way
    rp_ok "$name.reduce" env LD_PRELOAD="$HK_LIB" "$RP_H" reduce "$T/$name.hkr" -o "$T/$name-small.hkr"
    rp_ok "$name.sinfo" "$RP" info "$T/$name-small.hkr"
    before=$(rp_kv "$T/$name.info.out" events)
    after=$(rp_kv "$T/$name.sinfo.out" events)
    [ "$after" -le 5 ] || hk_fail "$name: reduce left $after events (of $before)"
    rp_run "$name.scheck" env LD_PRELOAD="$HK_LIB" "$RP_H" run --check "$T/$name-small.hkr"
    [ $rc -eq 3 ] && grep -q ": double free$" "$T/$name.scheck.err" ||
        hk_fail "$name: the reduced trace does not fail the same way ($rc): $(head -n 1 "$T/$name.scheck.err")"
    rp_ok "$name.sdump" "$RP" dump "$T/$name-small.hkr"
    grep -q "malloc(24) -> #0" "$T/$name.sdump.out" && [ "$(grep -c 'free(#0)' "$T/$name.sdump.out")" -eq 2 ] ||
        hk_fail "$name: reduced trace is not malloc + 2 frees: $(cat "$T/$name.sdump.out")"
    echo "ok: $name: second free is event $k (thread $t2, allocated on thread $t1); reduced $before -> $after events"
}

# under hakmem (HAKMEM_EXTERNAL=warn: whatever hakmem notices, the program
# goes on; all hakmem events: docs/howto-capture.md on --events replay)
HAKMEM_EXTERNAL=warn timeout -k 5 120 "$RP_TRACE" -o "$T/hk" -- \
    "$RP_WL" doublefree 300 >"$T/hk.out" 2>"$T/hk.err"
rc=$?
[ $rc -eq 0 ] || hk_fail "hakmem-trace failed ($rc): $(tail -n 5 "$T/hk.err")"
check_trace hakmem "$T/hk"

# under glibc, LTTng's libc wrapper
rp_capture_libc "$T/lw" "$RP_WL" doublefree 300
check_trace glibc "$T/lw"

# Crash reproduction: with little noise, glibc still holds the block in the
# thread cache, so replaying both frees on one thread aborts glibc; the
# crash handler names the event, the object's history and a backtrace,
# then re-raises.  reduce --no-check keeps "the same crash".
rp_capture_libc "$T/lw2" "$RP_WL" doublefree 4
rp_ok crash.conv "$RP" convert "$T/lw2" -o "$T/crash.hkr" --pid "$(rp_field "$T/lw2.out" pid)"
rp_ok crash.dump "$RP" dump "$T/crash.hkr"
k=$(awk '$4 ~ /^free\(#/ { n[$4]++; if (n[$4] == 2) { print $1; exit } }' "$T/crash.dump.out")
rp_run crash "$RP" run --serial --one-thread "$T/crash.hkr"
[ $rc -eq 134 ] || hk_fail "one-thread replay of a double free under glibc: exit $rc, expected 134 (SIGABRT)"
grep -q "^hakmem-replay: caught SIGABRT while replaying event $k (thread [0-9]*): free(#[0-9]*) \[pointer 0x" \
    "$T/crash.err" || hk_fail "crash report: $(grep caught "$T/crash.err")"
grep -q "<==" "$T/crash.err" || hk_fail "crash report without the object's history"
grep -q "backtrace (libunwind):" "$T/crash.err" && grep -q "^    #[0-9]*  0x[0-9a-f]*  .*(hakmem-replay)" "$T/crash.err" ||
    hk_fail "crash report without a backtrace through the replayer: $(tail -n 5 "$T/crash.err")"
rp_ok crash.reduce "$RP" reduce --no-check --one-thread "$T/crash.hkr" -o "$T/crash-small.hkr"
grep -q "failure: crash (Aborted) in free" "$T/crash.reduce.out" || hk_fail "reduce: $(cat "$T/crash.reduce.out")"
rp_ok crash.sinfo "$RP" info "$T/crash-small.hkr"
[ "$(rp_kv "$T/crash.sinfo.out" events)" -le 5 ] || hk_fail "crash reduced to $(rp_kv "$T/crash.sinfo.out" events) events"
rp_run crash2 "$RP" run --serial --one-thread "$T/crash-small.hkr"
[ $rc -eq 134 ] || hk_fail "the reduced trace does not abort glibc (exit $rc)"
echo "ok: glibc aborts at event $k of the replay; reduced to $(rp_kv "$T/crash.sinfo.out" events) events"
