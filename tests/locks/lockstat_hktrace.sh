#!/bin/sh
# lockstat_hktrace.sh - the documented capture path: hakmem-trace records
# the lock events (--events boxes), hakmem-lockstat reports them; a capture
# without lock events (--events replay) is a clear user error; damaged
# copies of a real trace never crash the report.
set -eu
. "$(dirname "$0")/liblocks.sh"
need_file "$LIB" "$TP" "$LOCKSTAT" "$TRACE" "$WORKLOAD"
need_prog python3 lttng lttng-sessiond

"$TRACE" -o "$tmp/boxes" --events boxes -- "$WORKLOAD" -t 4 -n 4096 -m 20 \
    >"$tmp/cap.out" 2>&1 || { cat "$tmp/cap.out"; fail "hakmem-trace --events boxes"; }
"$LOCKSTAT" -o json "$tmp/boxes" >"$tmp/boxes.json" || fail "lockstat on a hakmem-trace capture"
python3 -m json.tool "$tmp/boxes.json" >/dev/null || fail "the JSON report does not parse"
python3 - "$tmp/boxes.json" <<'EOF' || fail "checks above"
import json, sys
t = json.load(open(sys.argv[1]))
bad = []
def check(c, m):
    if not c: bad.append(m)
locks = {l["name"]: l for l in t["locks"]}
sp = locks.get("shared_pool")
check(sp is not None and sp["acquisitions"] > 0, "no shared_pool acquisitions")
check(len(t["pids"]) == 1, "pids: %r" % t["pids"])
check(t["symbols"] in ("none", "statedump"), "symbols: %r" % t["symbols"])
check(t["stack_events"] == 0, "stacks without HAKMEM_LOCK_STACKS")
for l in t["locks"]:
    w, h = l["waiter_sites"], l["holder_sites"]
    check(sum(s["acquisitions"] for s in w) == l["acquisitions"], l["name"] + ": acquisitions")
    check(sum(s["contended"] for s in w) == l["contended"], l["name"] + ": contended")
    check(sum(s["wait_ns"]["total"] for s in w) == l["wait_ns"]["total"], l["name"] + ": wait")
    check(sum(s["holds"] for s in h) == l["hold_ns"]["count"], l["name"] + ": holds")
    check(l["hold_ns"]["count"] == l["acquisitions"], l["name"] + ": every traced acquisition is timed")
    for s in w + h:
        check(len(s["stack"]) == 1, l["name"] + ": a one-frame site without stacks")
for m in bad: print("FAIL:", m)
sys.exit(1 if bad else 0)
EOF
"$LOCKSTAT" "$tmp/boxes" >"$tmp/boxes.txt" || fail "text report"
grep -q '^shared_pool ' "$tmp/boxes.txt" || { cat "$tmp/boxes.txt"; fail "no shared_pool row"; }

"$TRACE" -o "$tmp/replay" --events replay -- "$WORKLOAD" -t 2 -n 256 \
    >"$tmp/cap2.out" 2>&1 || { cat "$tmp/cap2.out"; fail "hakmem-trace --events replay"; }
set +e
"$LOCKSTAT" "$tmp/replay" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'no lock events' "$tmp/err" || { cat "$tmp/err"; fail "replay-only trace: exit $rc"; }

# Damaged copies: truncated and bit-flipped stream files, no metadata.
python3 - "$LOCKSTAT" "$tmp/boxes" "$tmp/bad" <<'EOF' || fail "damaged traces"
import os, random, shutil, subprocess, sys
tool, src, dst = sys.argv[1:4]
rng = random.Random(7)
streams = []
for root, dirs, files in os.walk(src):
    for f in files:
        if f != "metadata" and not root.endswith("index"):
            streams.append(os.path.relpath(os.path.join(root, f), src))
bad = 0
for i in range(12):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    victim = os.path.join(dst, rng.choice(streams))
    data = bytearray(open(victim, "rb").read())
    if i % 3 == 0:
        data = data[:rng.randrange(len(data) + 1)]
    elif i % 3 == 1:
        for _ in range(rng.randrange(1, 200)):
            if data: data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    else:
        for root, dirs, files in os.walk(dst):
            if "metadata" in files: os.unlink(os.path.join(root, "metadata"))
    open(victim, "wb").write(data)
    for extra in ([], ["-o", "json"], ["--allow-gaps"]):
        r = subprocess.run([tool] + extra + [dst], capture_output=True, timeout=60)
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        if r.returncode not in (0, 1) or (r.returncode == 1 and not err):
            bad += 1
            print("FAIL: damage %d %s: exit %d %r" % (i, extra, r.returncode, err[:3]))
sys.exit(1 if bad else 0)
EOF
echo "lockstat_hktrace: ok"
