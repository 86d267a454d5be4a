#!/bin/sh
# The curses screen in a real terminal (tmux, its own server socket): the
# class table, sort keys, pause, delay, the threads and locks views, help,
# resize, the process picker, the target's exit kept on screen, and q.
. "$(dirname "$0")/lib_top.sh" tmux
run_py <<'PY'
import os, re, subprocess, time
import toplib as t

SOCK = "hakmem-top-test-%d" % os.getpid()
env = dict(os.environ, TERM="xterm-256color")

def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", SOCK] + list(args), capture_output=True, text=True, timeout=30, env=env)
    if check and r.returncode != 0:
        t.fail("tmux %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout

def screen(s):
    return tmux("capture-pane", "-p", "-t", s)

def wait_screen(s, pred, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        txt = screen(s)
        if pred(txt):
            return txt
        time.sleep(0.1)
    t.fail("screen never showed %s; last screen:\n%s" % (what, screen(s)))

def keys(s, *k):
    tmux("send-keys", "-t", s, *k)

def table(txt):
    """Class rows on screen: name -> list of columns."""
    out = []
    for ln in txt.splitlines():
        f = ln.split()
        if f and f[0] in t.ROWS and len(f) >= 8 and re.match(r"^[0-9>]", f[1]):
            out.append(f)
    return out

def num(x):
    m = {"k": 1e3, "M": 1e6, "G": 1e9, "K": 1024.0}
    if x == "-":
        return -1
    return float(x[:-1]) * m[x[-1]] if x[-1] in m else float(x)

def pane_dead(s):
    return tmux("display-message", "-p", "-t", s, "#{pane_dead}").strip() == "1"

def start(name, cmd):
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", cmd)
    tmux("set-option", "-t", name, "remain-on-exit", "on")

try:
    w = t.Workload("loop", "120", "2")
    t.check(w.line().startswith("ready"), "workload did not start")
    S = "top"
    start(S, "%s -p %d -d 0.3" % (t.TOP, w.pid))
    txt = wait_screen(S, lambda x: len(table(x)) == 11, "the eleven class rows")
    t.check("pid %d" % w.pid in txt and "RSS" in txt and "SuperSlabs" in txt and "LRU" in txt,
            "header lines missing:\n" + txt)
    t.check([r[0] for r in table(txt)] == t.ROWS, "row order %s" % [r[0] for r in table(txt)])
    t.check("sorted by CLASS" in txt, "default sort")
    t.log("ok  class table on screen")

    # sort: > moves to SIZE, then ALLOC/s (largest first); s reverses
    keys(S, ">")
    wait_screen(S, lambda x: "sorted by SIZE" in x, "sort by SIZE")
    keys(S, ">")
    # A capture can catch ncurses mid-redraw (new header, half the old
    # rows): wait for a whole screen in the expected order; a wrong order
    # that stays is a timeout that prints the screen.
    def rates(x):
        return [num(r[2]) for r in table(x)]
    wait_screen(S, lambda x: "sorted by ALLOC/s" in x and len(table(x)) == 11 and
                rates(x) == sorted(rates(x), reverse=True), "sort by ALLOC/s, descending")
    keys(S, "s")
    wait_screen(S, lambda x: "(reversed)" in x and len(table(x)) == 11 and
                rates(x) == sorted(rates(x)), "reversed sort, ALLOC/s ascending")
    keys(S, "s"); keys(S, "<"); keys(S, "<")
    wait_screen(S, lambda x: "sorted by CLASS" in x and "(reversed)" not in x, "class order again")
    t.log("ok  sort keys")

    # pause freezes the figures
    keys(S, "p")
    a = wait_screen(S, lambda x: "PAUSED" in x, "PAUSED")
    time.sleep(1.0)
    b = screen(S)
    t.check(table(a) == table(b), "figures changed while paused")
    keys(S, "p")
    wait_screen(S, lambda x: "PAUSED" not in x and table(x) != table(b), "figures moving again")
    t.log("ok  pause")

    # delay prompt
    keys(S, "d")
    wait_screen(S, lambda x: "Delay in seconds:" in x, "delay prompt")
    keys(S, "0.5", "Enter")
    wait_screen(S, lambda x: "delay 0.5s" in x, "new delay in the title")
    t.log("ok  delay")

    # threads view: the two churn threads and the main thread, then the
    # retired and shared blocks
    keys(S, "t")
    txt = wait_screen(S, lambda x: "Threads -" in x and "retired" in x, "threads view")
    live = [ln for ln in txt.splitlines() if re.match(r"^\d+\s+\d+\s", ln)]
    t.check(len(live) >= 3, "threads view shows %d live threads:\n%s" % (len(live), txt))
    t.check(any(ln.split()[1] == str(w.pid) for ln in live), "main thread (os tid %d) not shown" % w.pid)
    t.check("shared" in txt and "OS_TID" in txt, "threads view columns")
    keys(S, "t")
    wait_screen(S, lambda x: "Classes -" in x, "classes view after t")
    t.log("ok  threads view")

    # locks view: the allocator's named locks
    keys(S, "l")
    txt = wait_screen(S, lambda x: "Locks -" in x and "ACQUIRED" in x, "locks view")
    names = [ln.split()[0] for ln in txt.splitlines()[7:] if ln.strip() and not ln.startswith("q quit")]
    t.check(len(names) >= 1, "no lock rows:\n" + txt)
    keys(S, "l")
    wait_screen(S, lambda x: "Classes -" in x, "classes view after l")
    t.log("ok  locks view (%s)" % ", ".join(names))

    # help
    keys(S, "h")
    wait_screen(S, lambda x: "this help" in x and "threads view" in x, "help")
    keys(S, "x")
    wait_screen(S, lambda x: "Classes -" in x, "classes after help")
    t.log("ok  help")

    # resize: redrawn at the new size
    tmux("resize-window", "-t", S, "-x", "90", "-y", "30")
    txt = wait_screen(S, lambda x: len(x.splitlines()) <= 30 and len(table(x)) >= 8, "redraw at 90x30")
    t.check(max(len(ln) for ln in txt.splitlines()) <= 90, "lines wider than the window")
    tmux("resize-window", "-t", S, "-x", "160", "-y", "50")
    wait_screen(S, lambda x: len(table(x)) == 11 and "Large live" in x, "redraw at 160x50")
    t.log("ok  resize")

    # the target exits: said on screen, last figures kept until q
    before = table(screen(S))
    w.kill()
    txt = wait_screen(S, lambda x: "exited - last figures kept" in x, "the exit notice")
    t.check(len(table(txt)) == 11, "figures gone after exit:\n" + txt)
    time.sleep(0.8)
    t.check(table(screen(S)) == table(txt) and not pane_dead(S), "screen changed or closed after exit")
    keys(S, "q")
    wait_screen(S, lambda x: pane_dead(S), "hakmem-top quitting on q")
    t.log("ok  exit notice, q quits")

    # no -p: the process picker lists the workload; Enter attaches
    w2 = t.Workload("loop", "120", "1")
    t.check(w2.line().startswith("ready"), "second workload did not start")
    P = "pick"
    start(P, "%s -d 0.3" % t.TOP)
    txt = wait_screen(P, lambda x: re.search(r"^\s*%d\s" % w2.pid, x, re.M) is not None, "the workload in the picker")
    pids = [int(ln.split()[0]) for ln in txt.splitlines()[4:] if re.match(r"^\s*\d+\s", ln)]
    for _ in range(pids.index(w2.pid)):
        keys(P, "Down")
    keys(P, "Enter")
    wait_screen(P, lambda x: "pid %d" % w2.pid in x and len(table(x)) == 11, "attached view")
    keys(P, "q")
    wait_screen(P, lambda x: pane_dead(P), "quit from the attached view")
    w2.kill()
    t.log("ok  process picker")
finally:
    subprocess.run(["tmux", "-L", SOCK, "kill-server"], capture_output=True, timeout=30)
    t.cleanup()
t.log("top_tmux: all checks passed")
PY
