#!/bin/sh
# hakmem-top -b -o json against a live workload with known allocation
# counts: every class and tier row moves by exactly what the workload did
# (including a thread that exits and remote frees), live = allocs - frees,
# counters only grow, and the process list shows the workload.
. "$(dirname "$0")/lib_top.sh"
run_py <<'PY'
import json, csv, io
import toplib as t

w = t.Workload("steps")
# warm up: the first pthread_create makes glibc allocate once
w.cmd("thread 7 0")
w.cmd("remote 7 0")

# list mode (no -p) shows the workload, in text, JSON and CSV
r = t.top("-b")
t.check(r.returncode == 0, "hakmem-top -b: exit %d %s" % (r.returncode, r.stderr))
t.check(any(ln.split()[:1] == [str(w.pid)] for ln in r.stdout.splitlines()),
        "process list lacks pid %d:\n%s" % (w.pid, r.stdout))
r = t.top("-b", "-o", "json")
procs = json.loads(r.stdout.splitlines()[0])["processes"]
mine = [p for p in procs if p["pid"] == w.pid]
t.check(len(mine) == 1 and mine[0]["readable"] and mine[0]["threads"] >= 1,
        "JSON process list: %s" % procs)
r = t.top("-b", "-o", "csv")
lst = list(csv.DictReader(io.StringIO(r.stdout)))
t.check(any(int(p["pid"]) == w.pid for p in lst), "CSV process list lacks the workload")

steps = [
    ("alloc 0 1000", {"C0": {"allocs": 1000, "live_blocks": 1000}}),
    ("alloc 1 300",  {"C1": {"allocs": 300, "live_blocks": 300}}),
    ("alloc 2 200",  {"C2": {"allocs": 200, "live_blocks": 200}}),
    ("alloc 3 150",  {"C3": {"allocs": 150, "live_blocks": 150}}),
    ("alloc 4 120",  {"C4": {"allocs": 120, "live_blocks": 120}}),
    ("alloc 5 90",   {"C5": {"allocs": 90, "live_blocks": 90}}),
    ("alloc 6 60",   {"C6": {"allocs": 60, "live_blocks": 60}}),
    ("alloc 7 40",   {"C7": {"allocs": 40, "live_blocks": 40}}),
    ("free 0 400",   {"C0": {"frees": 400, "live_blocks": -400}}),
    ("free 7 40",    {"C7": {"frees": 40, "live_blocks": -40}}),
    # a thread allocates and frees 700 blocks then exits: its block is
    # folded into the retired one and the sums do not move backwards
    ("thread 3 700", {"C3": {"allocs": 700, "frees": 700}}),
    # 250 blocks allocated here, freed by another thread: remote frees
    ("remote 4 250", {"C4": {"allocs": 250, "frees": 250, "remote_frees": 250}}),
    ("tier 0 20",    {"Mid": {"allocs": 20, "live_blocks": 20}}),
    ("tfree 0 20",   {"Mid": {"frees": 20, "live_blocks": -20}}),
    ("tier 1 8",     {"L2.5": {"allocs": 8, "live_blocks": 8}}),
    ("tfree 1 3",    {"L2.5": {"frees": 3, "live_blocks": -3}}),
    ("tier 2 3",     {"Large": {"allocs": 3, "live_blocks": 3}}),
    ("tfree 2 3",    {"Large": {"frees": 3, "live_blocks": -3}}),
]
prev = t.sample(w.pid)
for c, want in steps:
    w.cmd(c)
    cur = t.sample(w.pid)
    t.check_grows(prev, cur, "after %r: " % c)
    d = t.delta(prev, cur)
    for row in t.ROWS:
        for k in ["allocs", "frees", "live_blocks", "remote_frees"]:
            exp = want.get(row, {}).get(k, 0)
            t.check(d[row][k] == exp, "after %r: %s %s moved by %d, expected %d" % (c, row, k, d[row][k], exp))
    t.log("ok  %-14s %s" % (c, {r: v for r, v in want.items()}))
    prev = cur

# figures that follow from the steps
last = t.rows(prev)
t.check(last["C0"]["live_bytes"] >= 600 * 8, "C0 live bytes %d" % last["C0"]["live_bytes"])
t.check(last["C0"]["slabs"] >= 1, "C0 holds no slab")
t.check(prev["tiers"]["l25"]["live_bytes"] >= 5 * 96 * 1024, "L2.5 live bytes %s" % prev["tiers"]["l25"])
t.check(prev["superslabs"]["live"] >= 1, "no live SuperSlab: %s" % prev["superslabs"])
t.check(prev["os"]["map"] >= 1 and prev["os"]["map_bytes"] > 0, "no OS mapping counted: %s" % prev["os"])
t.check(len(prev["locks"]) >= 1 and all(l["name"] for l in prev["locks"]), "locks: %s" % prev["locks"])
t.check(prev["threads"]["total"] >= 3, "threads: %s" % prev["threads"]["total"])
kinds = [b["kind"] for b in prev["threads"]["blocks"]]
t.check(kinds.count("live") == 1 and "retired" in kinds, "thread blocks: %s" % kinds)
t.check(prev["live_bytes"] >= 600 * 8 + 5 * 96 * 1024, "live bytes %d" % prev["live_bytes"])

# several samples in one run: numbered, timed, the later ones with an interval
s = t.top_json(w.pid, n=3, delay=0.2)
t.check([x["sample"] for x in s] == [1, 2, 3], "sample numbers %s" % [x["sample"] for x in s])
t.check(s[0]["time"] < s[1]["time"] < s[2]["time"], "sample times do not increase")
t.check(all(0.15 < x["interval"] < 5 for x in s[1:]), "intervals %s" % [x["interval"] for x in s])
t.check_grows(s[0], s[2])

# CSV: a header, 11 rows per sample, '.' decimals, same counts as JSON
r = t.top("-p", w.pid, "-b", "-n", "2", "-d", "0.2", "-o", "csv", env={"LC_ALL": "C.UTF-8"})
t.check(r.returncode == 0, "csv: %s" % r.stderr)
lines = r.stdout.splitlines()
t.check(lines[0].startswith("time,pid,sample,class,size,allocs,frees,alloc_rate"), "CSV header: %s" % lines[0])
recs = list(csv.DictReader(io.StringIO(r.stdout)))
t.check(len(recs) == 22, "CSV rows: %d" % len(recs))
for rec in recs:
    float(rec["time"]); float(rec["alloc_rate"]); float(rec["free_rate"])
    t.check(int(rec["pid"]) == w.pid, "CSV pid")
c0 = [rec for rec in recs if rec["class"] == "C0"][-1]
t.check(int(c0["allocs"]) == last["C0"]["allocs"], "CSV C0 allocs %s vs %s" % (c0["allocs"], last["C0"]["allocs"]))

# text: the header lines and the eleven rows
r = t.top("-p", w.pid, "-b", "-n", "1")
t.check(r.returncode == 0, "text: %s" % r.stderr)
for name in t.ROWS + ["RSS", "SuperSlabs", "LRU", "OS maps", "locks"]:
    t.check(name in r.stdout, "text output lacks %r:\n%s" % (name, r.stdout))

w.cmd("exit")
t.log("top_counts: all checks passed")
PY
