#!/bin/sh
# A program that does not use hakmem (python3 under glibc), traced with
# LTTng's own libc wrapper (lttng_ust_libc:*), converts and replays:
# threaded, serial, and under hakmem with --check (the A/B use: a glibc
# production trace replayed on another allocator).
. "$(dirname "$0")/lib_replay.sh"
rp_setup
T=$HK_TMP
# The interpreter itself, not a wrapper script (pyenv shims are shell scripts).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || hk_fail "python3 is not installed"

rp_capture_libc "$T/trace" "$PY" -c '
import threading, os
def work(n):
    d = {}
    for i in range(3000):
        d[i] = bytearray(i % 700)
        if i % 3 == 0: del d[i // 2]
    return len(d)
ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
print("pid=%d" % os.getpid())'
pid=$(rp_field "$T/trace.out" pid)
[ -n "$pid" ] || hk_fail "python printed no pid"

rp_ok convert "$RP" convert --pid "$pid" "$T/trace" -o "$T/py.hkr"
grep -q "source: lttng_ust_libc" "$T/convert.out" || hk_fail "convert: $(cat "$T/convert.out")"
rp_ok info "$RP" info "$T/py.hkr"
nthreads=$(rp_kv "$T/info.out" threads)
[ "$nthreads" -ge 3 ] || hk_fail "python ran 3 threads, the file has $nthreads"
events=$(rp_kv "$T/info.out" events)
[ "$events" -gt 5000 ] || hk_fail "only $events events"
# the malloc count is the trace's own
want=$(babeltrace2 "$T/trace" 2>/dev/null | grep "vpid = $pid," | grep -c "lttng_ust_libc:malloc:")
got=$(sed -n 's/^  malloc  *//p' "$T/info.out")
[ "$want" = "$got" ] || hk_fail "info: $got mallocs, the trace has $want"

rp_ok run_t "$RP" run "$T/py.hkr"
[ "$(rp_kv "$T/run_t.out" ops)" -eq "$events" ] || hk_fail "threaded: $(rp_kv "$T/run_t.out" ops) ops of $events"
rp_ok run_s "$RP" run --serial "$T/py.hkr"
grep -q "^fingerprint: [0-9a-f]\{16\}$" "$T/run_s.out" && grep -q "^fingerprint addresses: raw" "$T/run_s.out" ||
    hk_fail "serial under glibc: $(grep fingerprint "$T/run_s.out")"
rp_ok run_h env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --check "$T/py.hkr"
grep -q "check: no invalid operation in $events events" "$T/run_h.out" ||
    hk_fail "python's trace under hakmem --check: $(tail -n 3 "$T/run_h.err")"
rp_ok run_h2 env LD_PRELOAD="$HK_LIB" "$RP_H" run --serial --check "$T/py.hkr"
[ "$(rp_kv "$T/run_h.out" fingerprint)" = "$(rp_kv "$T/run_h2.out" fingerprint)" ] ||
    hk_fail "python's trace: two serial replays under hakmem differ"
echo "ok: python3 trace, $events events, $nthreads threads"
