#!/bin/sh
# Frees of pointers the trace never returned: the ones liblttng-ust makes
# when a process exits normally (tables allocated before the process was
# registered) are counted on one line and dropped; one in the middle of a
# process's work is still a warning.  tests/replay/fork_free.c: the parent
# allocates P and forks; the child allocates, frees P (never returned in
# the child's trace), allocates again and exits normally; the parent frees
# P and exits normally.  Checked for the child, the parent and both:
#   - exactly one "never returned" warning from the two main threads: the
#     child's free of P (--all-anomalies prints every warning);
#   - an "at exit:" line counting the exit-time frees of each process;
#   - what is dropped adds up: the .hkr's frees = the trace's frees - the
#     warned ones - the exit-time ones;
#   - a program that leaves with _exit has no exit-time frees.
. "$(dirname "$0")/lib_replay.sh"
rp_setup
hk_need cc
[ -x "$RP_TRACE" ] || hk_fail "$RP_TRACE does not exist (run make first)"
T=$HK_TMP
cc -O1 -g -o "$T/fork_free" "$HAKMEM_ROOT/tests/replay/fork_free.c" >"$T/cc.log" 2>&1 ||
    hk_fail "cannot build fork_free: $(head -n 3 "$T/cc.log")"

# every hakmem event: another capture running meanwhile cannot make gaps
timeout -k 5 120 "$RP_TRACE" -o "$T/trace" -- "$T/fork_free" >"$T/rec.out" 2>"$T/rec.err"
rc=$?
[ $rc -eq 0 ] || hk_fail "hakmem-trace failed ($rc): $(tail -n 5 "$T/rec.err")"
pid=$(rp_field "$T/rec.out" pid); child=$(rp_field "$T/rec.out" child); ptr=$(rp_field "$T/rec.out" ptr)
[ -n "$pid" ] && [ -n "$child" ] && [ -n "$ptr" ] || hk_fail "fork_free printed: $(cat "$T/rec.out")"
babeltrace2 "$T/trace" >"$T/bt.txt" 2>"$T/bt.err" || hk_fail "babeltrace2: $(head -n 2 "$T/bt.err")"

# name [--pid P]: convert (every warning printed), then check the
# accounting of dropped frees.  Other threads than the two main ones may
# have warnings too: liblttng-ust's listener thread, started before the
# recording, frees what it allocated then when another session on the
# daemon changes meanwhile (a capture running at the same time).
conv() {
    name=$1; shift
    rp_ok "$name" "$RP" convert --all-anomalies "$@" "$T/trace" -o "$T/$name.hkr"
    rp_ok "$name.info" "$RP" info "$T/$name.hkr"
    grep 'free of a pointer the trace never returned' "$T/$name.err" >"$T/$name.unknown"
    warned=$(grep -c '' "$T/$name.unknown")
    main_child=$(grep -c "(thread [0-9]*, vtid $child, " "$T/$name.unknown")
    main_parent=$(grep -c "(thread [0-9]*, vtid $pid, " "$T/$name.unknown")
    atexit=$(sed -n 's/^  at exit: \([0-9]*\) frees of pointers the trace never returned.*/\1/p' "$T/$name.out")
    unknown=$(sed -n 's/.* \([0-9]*\) frees of unknown pointers.*/\1/p' "$T/$name.info.out")
    kept=$(sed -n 's/^  free  *//p' "$T/$name.info.out")
    if [ $# -eq 2 ]; then
        frees=$(grep -c "hakmem:free: .* vpid = $2," "$T/bt.txt")
    else
        frees=$(grep -c "hakmem:free: " "$T/bt.txt")
    fi
    [ -n "$atexit" ] && [ "$atexit" -gt 0 ] ||
        hk_fail "$name: no 'at exit:' count of liblttng-ust's exit-time frees: $(cat "$T/$name.out")"
    [ "$unknown" = "$warned" ] || hk_fail "$name: $warned warnings, info counts $unknown unknown frees"
    [ "$kept" -eq $((frees - warned - atexit)) ] ||
        hk_fail "$name: the file keeps $kept frees; trace $frees - $warned warned - $atexit at exit"
}

conv child --pid "$child"
[ "$main_child" -eq 1 ] || hk_fail "child: $main_child 'never returned' warnings for its main thread, expected 1: $(cat "$T/child.err")"
grep -q "(thread [0-9]*, vtid $child, .*free of a pointer the trace never returned (dropped): $ptr\$" "$T/child.err" ||
    hk_fail "child: the warning is not the free of $ptr by $child: $(cat "$T/child.err")"
n_child=$atexit
conv parent --pid "$pid"
[ "$main_parent" -eq 0 ] || hk_fail "parent: 'never returned' warnings for its main thread: $(cat "$T/parent.err")"
n_parent=$atexit
conv both
[ "$main_child" -eq 1 ] && [ "$main_parent" -eq 0 ] ||
    hk_fail "both processes: $main_child warnings for the child's main thread (expected 1), $main_parent for the parent's (expected 0)"
[ "$atexit" -eq $((n_child + n_parent)) ] ||
    hk_fail "both processes: $atexit exit-time frees, the child has $n_child and the parent $n_parent"
echo "ok: the child's free of $ptr warned; exit-time frees counted and dropped (child $n_child, parent $n_parent)"

# _exit skips the destructors: nothing to count.
timeout -k 5 120 "$RP_TRACE" -o "$T/trace2" -- "$RP_WL" doublefree 20 \
    >"$T/rec2.out" 2>"$T/rec2.err" || hk_fail "hakmem-trace failed: $(tail -n 5 "$T/rec2.err")"
rp_ok conv2 "$RP" convert --pid "$(rp_field "$T/rec2.out" pid)" "$T/trace2" -o "$T/df.hkr"
grep -q 'at exit:' "$T/conv2.out" && hk_fail "exit-time frees counted for a program that left with _exit"
grep -q 'never returned' "$T/conv2.err" && hk_fail "unknown frees in a program that left with _exit: $(cat "$T/conv2.err")"
echo "ok: a program leaving with _exit has none"
