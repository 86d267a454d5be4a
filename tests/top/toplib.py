"""Helpers for the hakmem-top tests (tests/top/*.sh import this module).

A Workload is tests/progs/stats_workload run under LD_PRELOAD=libhakmem.so;
in "steps" mode it executes one command per line and answers "ok", making
no allocation of its own in between, so counter deltas are exact.
Every helper fails the test (exit 1 with a FAIL line) instead of raising.
"""
import json
import os
import select
import signal
import subprocess
import sys
import time

ROOT = os.environ.get("HAKMEM_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD") or "build"
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
TOP = os.path.join(BUILD, "hakmem-top")
LIB = os.path.join(BUILD, "libhakmem.so")
WORKLOAD = os.path.join(BUILD, "tests", "progs", "stats_workload")

TINY = ["C%d" % i for i in range(8)]
TIERS = ["Mid", "L2.5", "Large"]
ROWS = TINY + TIERS
ROW_KEYS = ["class", "size", "allocs", "frees", "alloc_rate", "free_rate", "ultrahot_hit_pct",
            "sll_hit_pct", "refills", "drains", "remote_frees", "live_blocks", "live_bytes", "slabs"]
COUNTERS = ["allocs", "frees", "refills", "drains", "remote_frees"]

_children = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    cleanup()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def log(msg):
    print(msg, flush=True)


def need(*paths):
    for p in paths:
        check(os.path.exists(p), "%s is missing (run make first)" % p)


def cleanup():
    for p in _children:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class Workload:
    """stats_workload under LD_PRELOAD; `steps` mode is driven by cmd()."""

    def __init__(self, *args, preload=True, env=None):
        need(WORKLOAD, LIB)
        e = dict(os.environ)
        if preload:
            e["LD_PRELOAD"] = LIB
        e.update(env or {})
        self.p = subprocess.Popen([WORKLOAD] + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=e, text=True, bufsize=1)
        _children.append(self.p)
        self.pid = self.p.pid

    def line(self, timeout=30):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        check(r, "workload %d did not answer within %ds" % (self.pid, timeout))
        s = self.p.stdout.readline()
        check(s, "workload %d closed its output (exit status %s)" % (self.pid, self.p.poll()))
        return s.strip()

    def cmd(self, c, expect="ok"):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        ans = self.line()
        if expect is not None:
            check(ans == expect, "workload command %r answered %r" % (c, ans))
        return ans

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        self.p.wait(timeout=30)


def top(*args, timeout=60, env=None):
    need(TOP)
    e = dict(os.environ)
    e.update(env or {})
    try:
        return subprocess.run([TOP] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        fail("hakmem-top %s did not finish within %ds" % (" ".join(map(str, args)), timeout))


def top_json(pid, n=1, delay=None):
    args = ["-p", pid, "-b", "-n", n, "-o", "json"]
    if delay is not None:
        args += ["-d", delay]
    r = top(*args)
    check(r.returncode == 0, "hakmem-top -p %s -b -o json exited %d: %s" % (pid, r.returncode, r.stderr.strip()))
    lines = r.stdout.splitlines()
    check(len(lines) == n, "expected %d JSON lines, got %d" % (n, len(lines)))
    out = []
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except ValueError as e:
            fail("hakmem-top printed invalid JSON (%s): %s" % (e, ln[:200]))
    for s in out:
        check_shape(s, pid)
    return out


def sample(pid):
    return top_json(pid)[0]


def rows(s):
    return {r["class"]: r for r in s["classes"]}


def check_shape(s, pid=None):
    """The JSON contract of issue 5, and the invariants of every sample."""
    for k in ["pid", "time", "classes", "tiers", "superslabs", "lru", "os", "locks"]:
        check(k in s, "sample lacks key %r" % k)
    if pid is not None:
        check(s["pid"] == int(pid), "sample pid %s, expected %s" % (s["pid"], pid))
    names = [r["class"] for r in s["classes"]]
    check(names == ROWS, "classes are %s, expected %s (eight tiny first)" % (names, ROWS))
    for i, r in enumerate(s["classes"]):
        for k in ROW_KEYS:
            check(k in r, "class row %s lacks %r" % (r.get("class"), k))
        if i < 8:
            check(r["size"] == 8 << i, "C%d size %s" % (i, r["size"]))
        check(r["live_blocks"] == max(r["allocs"] - r["frees"], 0),
              "%s: live_blocks %d != allocs %d - frees %d" % (r["class"], r["live_blocks"], r["allocs"], r["frees"]))
        if i < 8:
            check(r["live_bytes"] == r["live_blocks"] * r["size"], "%s live_bytes" % r["class"])
        for k in ["alloc_rate", "free_rate"]:
            check(r[k] >= 0, "%s %s negative" % (r["class"], k))
        for k in ["ultrahot_hit_pct", "sll_hit_pct"]:
            check(r[k] is None or 0 <= r[k] <= 100, "%s %s out of range: %s" % (r["class"], k, r[k]))
    for t in ["mid", "l25", "large"]:
        check(t in s["tiers"], "tiers lacks %s" % t)
    for k in ["live", "slots_unused", "slots_active", "slots_empty", "sp_stage1", "sp_stage2", "sp_stage3"]:
        check(k in s["superslabs"], "superslabs lacks %s" % k)
    for k in ["count", "bytes", "push", "pop", "evict"]:
        check(k in s["lru"], "lru lacks %s" % k)
    for k in ["map", "unmap", "map_bytes", "unmap_bytes", "map_rate", "unmap_rate"]:
        check(k in s["os"], "os lacks %s" % k)
    for lk in s["locks"]:
        for k in ["name", "acquisitions", "contended", "wait_ns", "hold_ns"]:
            check(k in lk, "lock record lacks %s" % k)


def check_grows(a, b, what=""):
    """Counters of sample b are >= those of sample a (they only grow)."""
    ra, rb = rows(a), rows(b)
    for name in ROWS:
        for k in COUNTERS:
            check(rb[name][k] >= ra[name][k],
                  "%s%s %s went backwards: %d -> %d" % (what, name, k, ra[name][k], rb[name][k]))


def delta(a, b):
    ra, rb = rows(a), rows(b)
    return {n: {k: rb[n][k] - ra[n][k] for k in COUNTERS + ["live_blocks"]} for n in ROWS}


def wait_for(pred, timeout=10, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    fail("timed out waiting for " + what)
