#!/bin/sh
# Rates and monotonic counters against live workloads: a two-thread churn
# gives positive alloc/free rates in every sample, samples arrive one per
# delay through a pipe (flushed per sample), and counts never go backwards
# while threads exit and fold their counts into the retired block.
. "$(dirname "$0")/lib_top.sh"
run_py <<'PY'
import json, subprocess, threading, time
import toplib as t

w = t.Workload("loop", "60", "2")
t.check(w.line().startswith("ready"), "workload did not start")

# through a pipe: each sample must arrive when taken, not at exit
p = subprocess.Popen([t.TOP, "-p", str(w.pid), "-b", "-n", "4", "-d", "0.5", "-o", "json"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
t0 = time.time()
arrivals, samples = [], []
for ln in p.stdout:
    arrivals.append(time.time() - t0)
    samples.append(json.loads(ln))
rc = p.wait(timeout=30)
t.check(rc == 0, "hakmem-top exited %d: %s" % (rc, p.stderr.read()))
t.check(len(samples) == 4, "got %d samples" % len(samples))
t.check(arrivals[0] < arrivals[-1] - 1.0, "samples were not flushed one by one: %s" % arrivals)
for i, s in enumerate(samples):
    t.check_shape(s, w.pid)
    tiny = [r for r in s["classes"][:8]]
    ar = sum(r["alloc_rate"] for r in tiny)
    fr = sum(r["free_rate"] for r in tiny)
    t.check(ar > 0 and fr > 0, "sample %d: tiny alloc rate %.1f free rate %.1f" % (i + 1, ar, fr))
    mid = t.rows(s)["Mid"]
    t.check(mid["allocs"] > 0, "sample %d: no Mid allocation" % (i + 1))
    if i:
        t.check_grows(samples[i - 1], s, "sample %d: " % (i + 1))
        # the rate is the difference over the interval
        d = t.rows(s)["C3"]["allocs"] - t.rows(samples[i - 1])["C3"]["allocs"]
        r = t.rows(s)["C3"]["alloc_rate"]
        t.check(abs(r - d / s["interval"]) <= 0.01 * max(r, 1) + 0.01,
                "C3 rate %.3f != delta %d / interval %.3f" % (r, d, s["interval"]))
t.log("rates: %s" % [round(sum(r["alloc_rate"] for r in s["classes"][:8])) for s in samples])
w.kill()

# threads exiting while sampling fast: never a backward step
w = t.Workload("steps")
w.cmd("thread 2 0")
b0 = t.rows(t.sample(w.pid))["C2"]
p = subprocess.Popen([t.TOP, "-p", str(w.pid), "-b", "-n", "60", "-d", "0.05", "-o", "json"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
for i in range(60):
    w.cmd("thread 2 50")
out, err = p.communicate(timeout=60)
t.check(p.returncode == 0, "sampler: %s" % err)
ss = [json.loads(ln) for ln in out.splitlines()]
t.check(len(ss) == 60, "%d samples" % len(ss))
for a, b in zip(ss, ss[1:]):
    t.check_grows(a, b, "while threads exit: ")
final = t.rows(t.sample(w.pid))["C2"]
da, df = final["allocs"] - b0["allocs"], final["frees"] - b0["frees"]
t.check(da == 3000 and df == 3000, "C2 after 60 threads x 50: allocs +%d frees +%d" % (da, df))
w.cmd("exit")
t.log("top_rates: all checks passed")
PY
