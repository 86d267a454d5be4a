#!/bin/sh
# More live threads than the segment has blocks (1022): the extra threads
# count in private overflow blocks, hakmem-top says some are not shown, and
# their counts appear, exactly, once they exit and fold into the retired
# block.
. "$(dirname "$0")/lib_top.sh"
run_py <<'PY'
import toplib as t

N = 1100
w = t.Workload("steps")
w.cmd("thread 1 0")              # warm-up (glibc's first pthread_create)
base = t.rows(t.sample(w.pid))["C1"]
w.cmd("crowd %d" % N)
s = t.sample(w.pid)
ovf = s["threads"]["overflow"]
live = [b for b in s["threads"]["blocks"] if b["kind"] == "live"]
t.check(len(live) + ovf == N + 1, "live blocks %d + overflow %d != %d threads" % (len(live), ovf, N + 1))
t.check(ovf == N + 1 - 1022, "overflow %d, expected %d" % (ovf, N + 1 - 1022))
c1 = t.rows(s)["C1"]
t.check(c1["allocs"] - base["allocs"] == N - ovf,
        "visible C1 allocs +%d, expected %d (overflow threads hidden)" % (c1["allocs"] - base["allocs"], N - ovf))
r = t.top("-p", w.pid, "-b", "-n", "1")
t.check("segment full" in r.stdout, "text output does not say threads are hidden:\n" + r.stdout[:600])
w.cmd("release")
s = t.sample(w.pid)
c1 = t.rows(s)["C1"]
t.check(c1["allocs"] - base["allocs"] == N and c1["frees"] - base["frees"] == N,
        "after exit: C1 allocs +%d frees +%d, expected %d" % (c1["allocs"] - base["allocs"], c1["frees"] - base["frees"], N))
t.check(s["threads"]["overflow"] == 0, "overflow after exit: %d" % s["threads"]["overflow"])
t.check(len([b for b in s["threads"]["blocks"] if b["kind"] == "live"]) == 1, "live blocks after exit")
# the freed blocks are reused by the next crowd: no growth, same answers
w.cmd("crowd %d" % N)
t.check(t.sample(w.pid)["threads"]["overflow"] == ovf, "second crowd overflow")
w.cmd("release")
t.check(t.rows(t.sample(w.pid))["C1"]["allocs"] - base["allocs"] == 2 * N, "second crowd counts")
w.cmd("exit")
t.log("top_overflow: all checks passed")
PY
