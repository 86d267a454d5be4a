#!/bin/sh
# lockstat_trace.sh - hakmem-lockstat on a trace of threads contending for
# new slabs agrees with the live counters, and its rows add up.
#
# The workload (threads allocating fresh 1 KiB blocks, plus a thread
# calling malloc_trim) runs with HAKMEM_LOCK_STACKS=1 under an LTTng
# session of our own that also records the base-address statedump.  It
# waits before and after its work, so the test reads the counters (-p PID)
# around exactly the traced window: counter delta == trace, lock by lock
# (acquisitions, contended, wait, timed holds).  Contention on a busy
# 2-core machine is a matter of luck, so up to 8 runs (processes) are
# recorded until one shows it; the checks use that run (--vpid).
set -eu
. "$(dirname "$0")/liblocks.sh"
need_file "$LIB" "$TP" "$LOCKSTAT" "$WORKLOAD"
need_prog python3

# Every hakmem event, not just lock_*: another session on the same daemon
# may enable more of them, and each emitted event takes a sequence number.
lt_begin "$tmp/trace" 'hakmem:*,lttng_ust_statedump:*,lttng_ust_lib:*' --no-start
# 8 workers meeting at a barrier every 64 blocks (one slab of 1 KiB), and a
# thread calling malloc_trim every 20 us: about one run in two contends.
WL_ARGS=${WL_ARGS:--t 8 -n 4096 -b 64 -m 20}
pid=""
attempt=0
while :; do
    attempt=$((attempt + 1))
    rm -f "$tmp/go" "$tmp/done"
    HAKMEM_LOCK_STACKS=1 LD_PRELOAD="$LIB $TP" LTTNG_UST_ALLOW_BLOCKING=1 \
        "$WORKLOAD" $WL_ARGS -g "$tmp/go" -w "$tmp/done" -T 50 >"$tmp/wl.out" 2>&1 &
    wl=$!
    bg $wl
    i=0
    while [ ! -s "$tmp/go" ]; do
        kill -0 $wl 2>/dev/null || { cat "$tmp/wl.out"; fail "workload died"; }
        i=$((i + 1)); [ $i -lt 600 ] || fail "workload did not start"
        sleep 0.05
    done
    pid=$(cat "$tmp/go")
    "$LOCKSTAT" -p "$pid" -d 0 -o json >"$tmp/before.json" || fail "lockstat -p (before)"
    lt_start
    rm -f "$tmp/go"
    i=0
    while [ ! -s "$tmp/done" ]; do
        kill -0 $wl 2>/dev/null || { cat "$tmp/wl.out"; fail "workload died"; }
        i=$((i + 1)); [ $i -lt 600 ] || fail "workload did not finish"
        sleep 0.05
    done
    "$LOCKSTAT" -p "$pid" -d 0 -o json >"$tmp/after.json" || fail "lockstat -p (after)"
    lt_stop
    rm -f "$tmp/done"
    rc=0
    wait $wl || rc=$?
    waited $wl
    [ $rc = 0 ] || fail "workload exited with $rc"
    c=$(python3 -c '
import json,sys
a={l["name"]:l for l in json.load(open(sys.argv[1]))["locks"]}
b={l["name"]:l for l in json.load(open(sys.argv[2]))["locks"]}
print(b["shared_pool"]["contended"] - a["shared_pool"]["contended"])' "$tmp/before.json" "$tmp/after.json")
    [ "$c" -gt 0 ] && break
    [ $attempt -lt 8 ] || fail "no contention on shared_pool in $attempt runs"
done
lt_end
echo "run $attempt (pid $pid): $c contended shared_pool acquisitions"

"$LOCKSTAT" --vpid "$pid" -o json "$tmp/trace" >"$tmp/trace.json" || fail "lockstat -o json TRACE"
python3 -m json.tool "$tmp/trace.json" >/dev/null || fail "the JSON report does not parse"

python3 - "$tmp/before.json" "$tmp/after.json" "$tmp/trace.json" "$pid" <<'EOF' || fail "checks above"
import json, sys
before = {l["name"]: l for l in json.load(open(sys.argv[1]))["locks"]}
after = {l["name"]: l for l in json.load(open(sys.argv[2]))["locks"]}
t = json.load(open(sys.argv[3]))
pid = int(sys.argv[4])
tl = {l["name"]: l for l in t["locks"]}
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)

check(t["source"] == "trace", "source")
check(t["pids"] == [pid], "pids %r != [%d]" % (t["pids"], pid))
check(t["symbols"] == "statedump", "symbols: %s" % t["symbols"])
check(t["stack_events"] > 0, "no lock_stack events (HAKMEM_LOCK_STACKS=1)")
check(t["lost_events"] == 0 and t["sequence_gaps"] == 0, "loss")

# Counter delta == trace, lock by lock.
for name, a in after.items():
    b = before[name]
    d = {k: a[k] - b[k] for k in ("acquisitions", "contended")}
    d["wait"] = a["wait_ns"]["total"] - b["wait_ns"]["total"]
    d["holds"] = a["hold_ns"]["count"] - b["hold_ns"]["count"]
    d["hold"] = a["hold_ns"]["total"] - b["hold_ns"]["total"]
    x = tl.get(name)
    if x is None:
        check(d["acquisitions"] == 0, "%s: %d acquisitions counted, none traced" % (name, d["acquisitions"]))
        continue
    got = {"acquisitions": x["acquisitions"], "contended": x["contended"],
           "wait": x["wait_ns"]["total"], "holds": x["hold_ns"]["count"], "hold": x["hold_ns"]["total"]}
    check(d == got, "%s: counters %r != trace %r" % (name, d, got))
for name in tl:
    check(name in after, "%s traced but not in the counters" % name)

# Rows add up to their lock.
for l in t["locks"]:
    w, h = l["waiter_sites"], l["holder_sites"]
    n = l["name"]
    check(sum(s["acquisitions"] for s in w) == l["acquisitions"], n + ": waiter acquisitions")
    check(sum(s["contended"] for s in w) == l["contended"], n + ": waiter contended")
    check(sum(s["wait_ns"]["total"] for s in w) == l["wait_ns"]["total"], n + ": waiter wait")
    check(max([s["wait_ns"]["max"] for s in w] + [0]) == l["wait_ns"]["max"], n + ": wait max")
    check(sum(s["holds"] for s in h) == l["hold_ns"]["count"], n + ": holds")
    check(sum(s["hold_ns"]["total"] for s in h) == l["hold_ns"]["total"], n + ": hold total")
    check(max([s["hold_ns"]["max"] for s in h] + [0]) == l["hold_ns"]["max"], n + ": hold max")
    blocked = sum(s["blocked"] for s in h)
    check(blocked <= l["contended"] and blocked + l["unattributed_blocked"] == l["contended"],
          n + ": blocked %d + unattributed %d != contended %d" % (blocked, l["unattributed_blocked"], l["contended"]))
    for s in w + h:
        check(s["pid"] == pid, n + ": site of another process")
        f0 = s["stack"][0]
        check(f0["function"] is not None and (f0["object"] or "").endswith("/libhakmem.so"),
              n + ": call site not symbolized in libhakmem.so: %r" % f0)

sp = tl.get("shared_pool")
check(sp is not None and sp["acquisitions"] > 0 and sp["contended"] > 0,
      "shared_pool not reported with acquisitions and contention")
if sp:
    check(t["locks"][0]["wait_ns"]["total"] >= sp["wait_ns"]["total"], "locks not sorted by wait")
    fns = {f["function"] for s in sp["waiter_sites"] for f in s["stack"]}
    check(any(f.startswith("sp_") for f in fns if f), "no sp_* frame in shared_pool stacks: %r" % fns)
    check("worker" in fns, "the workload's worker() is not in the stacks: %r" % fns)

for m in bad: print("FAIL:", m)
sys.exit(1 if bad else 0)
EOF

# Text: the lock table and its call sites.
"$LOCKSTAT" --vpid "$pid" --top 1 "$tmp/trace" >"$tmp/trace.txt" || fail "text report"
grep -q '^shared_pool ' "$tmp/trace.txt" || { cat "$tmp/trace.txt"; fail "no shared_pool row"; }
grep -q 'sp_[a-z_]*+0x[0-9a-f]* (libhakmem.so)' "$tmp/trace.txt" || { cat "$tmp/trace.txt"; fail "no symbolized site"; }
grep -q 'other sites' "$tmp/trace.txt" || { cat "$tmp/trace.txt"; fail "--top 1 kept every site"; }

# Folded stacks: "lock;frames value", values adding up to the JSON's.
for w in wait acquisitions hold; do
    "$LOCKSTAT" --vpid "$pid" --folded --weight $w "$tmp/trace" >"$tmp/folded.$w" || fail "--folded --weight $w"
done
python3 - "$tmp/trace.json" "$tmp" <<'EOF' || fail "folded output"
import json, re, sys
t = json.load(open(sys.argv[1]))
bad = []
for w, key in (("wait", lambda l: l["wait_ns"]["total"]), ("acquisitions", lambda l: l["acquisitions"]),
               ("hold", lambda l: l["hold_ns"]["total"])):
    sums = {}
    for line in open("%s/folded.%s" % (sys.argv[2], w)):
        m = re.match(r"^([^ ;]+)(;[^ ;]+)+ ([0-9]+)$", line.rstrip("\n"))
        if not m:
            bad.append("%s: bad line %r" % (w, line)); continue
        sums[m.group(1)] = sums.get(m.group(1), 0) + int(m.group(3))
    for l in t["locks"]:
        if sums.get(l["name"], 0) != key(l):
            bad.append("%s: %s folded %d != %d" % (w, l["name"], sums.get(l["name"], 0), key(l)))
    if w == "acquisitions" and not any(";worker;" in x or x.endswith(";worker") for x in open("%s/folded.%s" % (sys.argv[2], w)).read().split()):
        bad.append("no worker frame in the folded stacks")
for m in bad: print("FAIL:", m)
sys.exit(1 if bad else 0)
EOF
echo "lockstat_trace: ok"
