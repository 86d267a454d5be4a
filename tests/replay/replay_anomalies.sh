#!/bin/sh
# An allocator that hands out live memory (tests/replay/buggy_alloc.c):
# convert reports the pointer returned while live and, with --overlap, the
# overlapping block; the trace still replays cleanly on a correct
# allocator; and `run --check` catches the broken allocator when the
# replay runs on it (a block's tag overwritten by another block).
. "$(dirname "$0")/lib_replay.sh"
rp_setup
hk_need cc
T=$HK_TMP
cc -O1 -g -shared -fPIC -o "$T/libbuggy.so" "$HAKMEM_ROOT/tests/replay/buggy_alloc.c" \
    >"$T/cc.log" 2>&1 || hk_fail "cannot build the buggy allocator: $(head -n 3 "$T/cc.log")"

# the wrapper's malloc calls the next malloc in the search order: ours
RP_EXTRA_PRELOAD=$T/libbuggy.so rp_capture_libc "$T/trace" "$RP_WL" churn 3000 1
pid=$(rp_field "$T/trace.out" pid)
rp_ok conv "$RP" convert --overlap --pid "$pid" "$T/trace" -o "$T/b.hkr"
n_live=$(grep -c "returned a pointer that was still live" "$T/conv.err")
n_ovl=$(grep -c "overlaps live object #" "$T/conv.err")
[ "$n_live" -ge 1 ] || hk_fail "convert reported no pointer returned while live: $(head -n 5 "$T/conv.err")"
[ "$n_ovl" -ge 1 ] || hk_fail "convert --overlap reported no overlapping block: $(head -n 5 "$T/conv.err")"
grep -q "overlaps: [1-9][0-9]* blocks overlapped a live block" "$T/conv.out" || hk_fail "convert: $(cat "$T/conv.out")"
# the report names a real event: the dump has that object created there
line=$(grep -m1 "returned a pointer that was still live" "$T/conv.err")
k=$(echo "$line" | sed -n 's/.*: event \([0-9]*\), trace event.*/\1/p')
addr=$(echo "$line" | sed -n 's/.*(lost free?): \(0x[0-9a-f]*\) .*/\1/p')
rp_ok dump "$RP" dump --from "$k" --count 1 "$T/b.hkr"
grep -q "^$k t=[0-9]* +[0-9.]* \(malloc\|calloc\|realloc\|memalign\|posix_memalign\)(" "$T/dump.out" ||
    hk_fail "event $k is not an allocation: $(cat "$T/dump.out")"
# without --overlap: the same live returns, no interval work
rp_ok conv2 "$RP" convert --pid "$pid" "$T/trace" -o "$T/b2.hkr"
[ "$(grep -c "returned a pointer that was still live" "$T/conv2.err")" -eq "$n_live" ] ||
    hk_fail "live returns differ without --overlap"
grep -q "overlaps" "$T/conv2.out" && hk_fail "overlaps reported without --overlap"

# the trace itself is valid: a correct allocator replays it cleanly
rp_ok good "$RP" run --serial --check "$T/b.hkr"
grep -q "check: no invalid operation" "$T/good.out" || hk_fail "check under glibc: $(tail -n 2 "$T/good.err")"
# the broken allocator is caught by --check
rp_run bad env LD_PRELOAD="$T/libbuggy.so" "$RP_H" run --serial --one-thread --check "$T/b.hkr"
[ $rc -eq 3 ] || hk_fail "check under the broken allocator: exit $rc: $(tail -n 3 "$T/bad.err")"
grep -q "^hakmem-replay: check: event [0-9]* (thread [0-9]*): .*: allocator error: " "$T/bad.err" ||
    hk_fail "no allocator error report: $(head -n 2 "$T/bad.err")"
echo "ok: $n_live live returns and $n_ovl overlaps reported (first at event $k, $addr); --check: $(head -n 1 "$T/bad.err" | sed 's/.*allocator error: //')"
