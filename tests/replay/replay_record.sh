#!/bin/sh
# Record a multi-threaded workload with hakmem-trace, convert it, replay it
# threaded and serial under hakmem (the same fingerprint twice), under
# jemalloc, and with --check; info and dump agree with what was recorded.
. "$(dirname "$0")/lib_replay.sh"
rp_setup
[ -x "$RP_TRACE" ] || hk_fail "$RP_TRACE does not exist (run make first)"
[ -f "$RP_JE" ] || hk_fail "$RP_JE is missing (package libjemalloc2)"
T=$HK_TMP

# record: 3 threads with cross-thread frees, every API entry point (all
# hakmem events, not --events replay: a capture of all events running at the
# same time would make a replay-set trace look gappy, docs/howto-capture.md)
timeout -k 5 120 "$RP_TRACE" -o "$T/trace" -- "$RP_WL" churn 4000 3 \
    >"$T/rec.out" 2>"$T/rec.err"
rc=$?
[ $rc -eq 0 ] || hk_fail "hakmem-trace failed ($rc): $(tail -n 5 "$T/rec.err")"
pid=$(rp_field "$T/rec.out" pid)
[ -n "$pid" ] || hk_fail "the workload did not print its pid: $(cat "$T/rec.out")"

# convert (--pid: the workload's process only)
rp_ok convert "$RP" convert --pid "$pid" "$T/trace" -o "$T/w.hkr"
grep -q "source: hakmem" "$T/convert.out" || hk_fail "convert: not read as a hakmem trace: $(cat "$T/convert.out")"
[ -f "$T/w.hkr" ] && [ ! -e "$T/w.hkr.tmp" ] || hk_fail "convert left no file or a temporary"

# info: the counts are the trace's own (babeltrace2 is the reference)
rp_ok info "$RP" info "$T/w.hkr"
babeltrace2 "$T/trace" 2>/dev/null | grep "vpid = $pid," >"$T/bt.txt"
for k in malloc calloc realloc memalign; do
    want=$(grep -c "hakmem:$k:" "$T/bt.txt")
    got=$(sed -n "s/^  $k  *//p" "$T/info.out")
    [ "$want" = "${got:-0}" ] || hk_fail "info: $k: $got in the file, $want in the trace"
done
# frees: the trace's, minus frees of pointers the trace never returned
# (reported one by one, or counted at the process's exit)
frees=$(grep -c "hakmem:free:" "$T/bt.txt")
unknown=$(sed -n 's/.* \([0-9]*\) frees of unknown pointers.*/\1/p' "$T/info.out")
atexit=$(sed -n 's/^  at exit: \([0-9]*\) frees .*/\1/p' "$T/convert.out")
got=$(sed -n 's/^  free  *//p' "$T/info.out")
[ "$got" -eq $((frees - unknown - ${atexit:-0})) ] ||
    hk_fail "info: $got frees, trace $frees - $unknown unknown - ${atexit:-0} at exit"
nthreads=$(rp_kv "$T/info.out" threads)
[ "$nthreads" -ge 3 ] || hk_fail "info: $nthreads threads, the workload ran 3"
events=$(rp_kv "$T/info.out" events)
grep -q "first invalid operation: none" "$T/info.out" || hk_fail "info: the clean trace has an invalid operation"

# dump: one line per event
rp_ok dump "$RP" dump "$T/w.hkr"
[ "$(wc -l <"$T/dump.out")" -eq "$events" ] || hk_fail "dump: $(wc -l <"$T/dump.out") lines for $events events"
markers=$(grep -c -E ' thread_(start|exit)' "$T/dump.out")
calls=$((events - markers))

# threaded replay under hakmem
rp_ok run_t env LD_PRELOAD="$HK_LIB" "$RP_H" run "$T/w.hkr"
grep -q "^allocator: hakmem" "$T/run_t.out" || hk_fail "run did not see hakmem: $(cat "$T/run_t.out")"
[ "$(rp_kv "$T/run_t.out" ops)" -eq "$calls" ] || hk_fail "threaded run: $(rp_kv "$T/run_t.out" ops) ops, expected $calls"
grep -q "^mode: threaded ($nthreads threads)" "$T/run_t.out" || hk_fail "threaded run: $(grep mode "$T/run_t.out")"

# serial: the same addresses twice (HAKMEM_ARENA_BASE set by the replayer)
rp_ok run_s1 env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial "$T/w.hkr"
rp_ok run_s2 env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial "$T/w.hkr"
f1=$(rp_kv "$T/run_s1.out" fingerprint); f2=$(rp_kv "$T/run_s2.out" fingerprint)
echo "$f1" | grep -q '^[0-9a-f]\{16\}$' || hk_fail "serial run: fingerprint '$f1'"
grep -q "^fingerprint addresses: relative to the hakmem arena" "$T/run_s1.out" ||
    hk_fail "serial fingerprint is not arena-relative: $(grep fingerprint "$T/run_s1.out")"
[ "$f1" = "$f2" ] || hk_fail "two serial replays gave fingerprints $f1 and $f2"
[ "$(rp_kv "$T/run_s1.out" ops)" -eq "$calls" ] || hk_fail "serial run: wrong op count"
grep -q "allocator: hakmem .*arena 0x200000000000" "$T/run_s1.out" ||
    hk_fail "serial run did not fix the arena base: $(grep allocator "$T/run_s1.out")"
# one thread: deterministic too, and a different schedule than lockstep
rp_ok run_o1 env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --one-thread "$T/w.hkr"
rp_ok run_o2 env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --one-thread "$T/w.hkr"
[ "$(rp_kv "$T/run_o1.out" fingerprint)" = "$(rp_kv "$T/run_o2.out" fingerprint)" ] ||
    hk_fail "two one-thread replays differ"
# an arena base of the user's choosing is kept (no re-exec)
rp_ok run_b env LD_PRELOAD="$HK_LIB" HAKMEM_ARENA_BASE=0x300000000000 "$RP_H" run --serial "$T/w.hkr"
grep -q "arena 0x300000000000" "$T/run_b.out" || hk_fail "HAKMEM_ARENA_BASE not honoured: $(grep allocator "$T/run_b.out")"
[ "$(rp_kv "$T/run_b.out" fingerprint)" = "$f1" ] ||
    hk_fail "another arena base changed the arena-relative fingerprint"

# --check under hakmem: a clean trace, a well-behaved allocator
rp_ok check_h env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --check "$T/w.hkr"
grep -q "check: no invalid operation in $events events" "$T/check_h.out" ||
    hk_fail "check under hakmem: $(tail -n 3 "$T/check_h.out")"
rp_ok check_ht env LD_PRELOAD="$HK_LIB" "$RP_H" run --check "$T/w.hkr"

# the same file under jemalloc (A/B)
rp_ok run_j env LD_PRELOAD="$RP_JE" "$RP_H" run --check "$T/w.hkr"
grep -q "allocator: LD_PRELOAD=$RP_JE" "$T/run_j.out" || hk_fail "jemalloc run: $(grep allocator "$T/run_j.out")"
[ "$(rp_kv "$T/run_j.out" ops)" -eq "$calls" ] || hk_fail "jemalloc run: wrong op count"
grep -q "fingerprint" "$T/run_j.out" && hk_fail "a threaded run printed a fingerprint"

# --stop-at: exactly N events, then a report of event N
n=$((events / 2))
rp_ok stop env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --stop-at $n "$T/w.hkr"
[ "$(rp_kv "$T/stop.out" events)" -eq $n ] || hk_fail "--stop-at $n ran $(rp_kv "$T/stop.out" events) events"
grep -q "stopped before event $n (thread " "$T/stop.err" || hk_fail "--stop-at: $(head -n 2 "$T/stop.err")"
echo "ok: recorded $events events ($calls calls, $nthreads threads); fingerprint $f1"
