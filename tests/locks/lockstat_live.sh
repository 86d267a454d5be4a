#!/bin/sh
# lockstat_live.sh - hakmem-lockstat -p PID on a live process whose threads
# contend for new slabs: it names the shared-pool lock with acquisitions
# and contention, its JSON parses and is self-consistent, text and folded
# outputs carry the same figures, and the rates cover the sampling interval
# (zero for an idle process, positive for a working one, and a process
# that exits during the interval is still reported).
set -eu
. "$(dirname "$0")/liblocks.sh"
need_file "$LIB" "$LOCKSTAT" "$WORKLOAD"
need_prog python3

# 8 workers meeting at a barrier every 64 blocks and a thread calling
# malloc_trim in a loop: on a busy 2-core machine most runs contend; up to
# 5 runs are tried.
attempt=0
while :; do
    attempt=$((attempt + 1))
    start_workload "$tmp/done" -t 8 -n 4096 -b 64 -m 0
    pid=$(cat "$tmp/done")
    "$LOCKSTAT" -p "$pid" -d 0.2 -o json >"$tmp/live.json" || fail "lockstat -p $pid -o json"
    python3 -m json.tool "$tmp/live.json" >/dev/null || fail "the JSON report does not parse"
    c=$(json_get "$tmp/live.json" '[l["contended"] for l in d["locks"] if l["name"] == "shared_pool"][0]')
    [ "$c" -gt 0 ] && break
    stop_workload "$tmp/done"
    [ $attempt -lt 5 ] || fail "no contention on shared_pool in $attempt runs"
done
echo "run $attempt (pid $pid): $c contended shared_pool acquisitions"

python3 - "$tmp/live.json" "$pid" <<'EOF' || fail "checks above"
import json, sys
d = json.load(open(sys.argv[1]))
pid = int(sys.argv[2])
bad = []
def check(c, m):
    if not c: bad.append(m)
check(d["source"] == "live" and d["pid"] == pid, "source/pid")
check(d["interval_s"] > 0.1 and d["exited"] is False, "interval/exited")
check("lock_workload" in d["command"], "command: %r" % d["command"])
names = [l["name"] for l in d["locks"]]
for n in ("shared_pool", "arena", "lru"):
    check(n in names, "lock %s missing" % n)
waits = [l["wait_ns"]["total"] for l in d["locks"]]
check(waits == sorted(waits, reverse=True), "not sorted by total wait")
for l in d["locks"]:
    a, c = l["acquisitions"], l["contended"]
    check(c <= a, l["name"] + ": contended > acquisitions")
    if a:
        check(abs(l["contention_pct"] - 100.0 * c / a) < 0.001, l["name"] + ": contention_pct")
    else:
        check(l["contention_pct"] is None, l["name"] + ": contention_pct of nothing")
    w = l["wait_ns"]
    check(w["avg"] == (w["total"] // c if c else None), l["name"] + ": wait avg")
    check(w["max"] <= w["total"] and (c > 0) == (w["total"] > 0), l["name"] + ": wait max/total")
    h = l["hold_ns"]
    check(h["avg"] == (h["total"] // h["count"] if h["count"] else None), l["name"] + ": hold avg")
    check(h["count"] >= c, l["name"] + ": every contended acquisition is timed")
    r = l["rate"]
    # The process is idle (waiting for the test): nothing happens between samples.
    check(r["acquisitions_per_s"] == 0 and r["contended_per_s"] == 0, l["name"] + ": rate of an idle process")
sp = [l for l in d["locks"] if l["name"] == "shared_pool"][0]
check(sp["acquisitions"] > 0 and sp["contended"] > 0, "shared_pool without contention")
for m in bad: print("FAIL:", m)
sys.exit(1 if bad else 0)
EOF

acq=$(json_get "$tmp/live.json" '[l["acquisitions"] for l in d["locks"] if l["name"] == "shared_pool"][0]')
"$LOCKSTAT" -p "$pid" -d 0 >"$tmp/live.txt" || fail "lockstat -p (text)"
grep -q '^LOCK .*ACQUIRED .*CONTENDED .*CONT% .*WAIT-TOTAL .*HOLD-TOTAL .*SWITCHES' "$tmp/live.txt" ||
    { cat "$tmp/live.txt"; fail "text header"; }
grep -Eq "^shared_pool +$acq +$c " "$tmp/live.txt" || { cat "$tmp/live.txt"; fail "text row of shared_pool"; }
"$LOCKSTAT" -p "$pid" -d 0 --folded --weight acquisitions >"$tmp/live.folded" || fail "--folded"
grep -qx "shared_pool $acq" "$tmp/live.folded" || { cat "$tmp/live.folded"; fail "folded line"; }
"$LOCKSTAT" -p "$pid" -d 0 --folded --weight contended | grep -qx "shared_pool $c" || fail "folded contended"
stop_workload "$tmp/done"

# A working process: sample across its work; it exits before the second
# sample, which must still be reported (with exited = true).
rm -f "$tmp/go"
LD_PRELOAD=$LIB "$WORKLOAD" -t 4 -n 4096 -r 3 -g "$tmp/go" >"$tmp/wl2.out" 2>&1 &
wl=$!
bg $wl
i=0
while [ ! -s "$tmp/go" ]; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "workload did not start"
    sleep 0.05
done
pid=$(cat "$tmp/go")
"$LOCKSTAT" -p "$pid" -d 1.5 -o json >"$tmp/run.json" &
ls_pid=$!
bg $ls_pid
sleep 0.3
rm -f "$tmp/go"
rc=0; wait $wl || rc=$?; waited $wl
[ $rc = 0 ] || fail "workload failed ($rc)"
rc=0; wait $ls_pid || rc=$?; waited $ls_pid
[ $rc = 0 ] || fail "lockstat -p failed on a process that exited while sampled"
python3 - "$tmp/run.json" <<'EOF' || fail "rates of a working process"
import json, sys
d = json.load(open(sys.argv[1]))
sp = [l for l in d["locks"] if l["name"] == "shared_pool"][0]
ok = d["exited"] is True and sp["rate"]["acquisitions_per_s"] > 0 and sp["acquisitions"] > 0
if not ok: print("FAIL: exited=%r shared_pool=%r" % (d["exited"], sp))
sys.exit(0 if ok else 1)
EOF
echo "lockstat_live: ok"
