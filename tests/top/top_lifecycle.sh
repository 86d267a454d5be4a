#!/bin/sh
# The segment lives exactly as long as its process: nothing is left after
# SIGKILL, hakmem-top in batch mode notices the exit, a fork child gets a
# segment of its own (with the parent's counts, its own pid), and an exec'd
# child does not inherit the parent's (close-on-exec) but makes its own.
. "$(dirname "$0")/lib_top.sh"
run_py <<'PY'
import json, os, signal, struct, subprocess, time
import toplib as t

def memfds(pid):
    out = []
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("/memfd:hakmem-stats"):
                out.append("/proc/%d/fd/%s" % (pid, f))
        except OSError:
            pass
    return out

def all_segment_pids():
    """pid named in the header of every hakmem-stats memfd on the system."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for p in memfds(int(d)):
                with open(p, "rb") as f:
                    pids.append(struct.unpack_from("<I", f.read(32), 24)[0])
        except OSError:
            pass
    return pids

# SIGKILL: no file anywhere, no segment naming the pid, tools say it is gone
w = t.Workload("steps")
w.cmd("alloc 2 100")
pid = w.pid
t.check(len(memfds(pid)) == 1, "workload has %d segments" % len(memfds(pid)))
t.check(pid in all_segment_pids(), "segment scan does not find the live workload")
w.kill(signal.SIGKILL)
t.check(not os.path.exists("/proc/%d" % pid), "process still there")
t.check(pid not in all_segment_pids(), "a segment naming pid %d survived SIGKILL" % pid)
shm = [f for f in os.listdir("/dev/shm") if "hakmem" in f] if os.path.isdir("/dev/shm") else []
t.check(not shm, "files left in /dev/shm: %s" % shm)
r = t.top("-b", "-o", "json")
t.check(r.returncode == 0 and all(p["pid"] != pid for p in json.loads(r.stdout)["processes"]),
        "process list still shows pid %d" % pid)
r = t.top("-p", pid, "-b", "-n", "1")
t.check(r.returncode == 1 and "no process with pid" in r.stderr, "after kill: %d %r" % (r.returncode, r.stderr))
t.log("ok  nothing left after SIGKILL")

# batch mode notices the exit and stops with status 0
w = t.Workload("steps")
for _ in range(200):       # attach only once the segment exists (a loaded machine)
    if memfds(w.pid):
        break
    time.sleep(0.05)
p = subprocess.Popen([t.TOP, "-p", str(w.pid), "-b", "-d", "0.2", "-o", "json"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.9)
w.cmd("exit")
out, err = p.communicate(timeout=10)
t.check(p.returncode == 0, "hakmem-top exit %d after the target exit: %s" % (p.returncode, err))
t.check("process %d exited" % w.pid in err, "no exit notice: %r" % err)
t.check(len(out.splitlines()) >= 2, "samples before the exit: %d" % len(out.splitlines()))
t.log("ok  batch mode reports the exit")

# fork: the child has its own segment, with the parent's counts so far
w = t.Workload("steps")
w.cmd("alloc 3 500")
before = t.rows(t.sample(w.pid))["C3"]["allocs"]
ans = w.cmd("fork", expect=None)
t.check(ans.startswith("child "), "fork answered %r" % ans)
child = int(ans.split()[1])
t.wait_for(lambda: len(memfds(child)) == 1, what="the fork child's own segment")
time.sleep(0.3)   # the child makes its 100 allocations
t.check(len(memfds(child)) == 1, "fork child has %d segments" % len(memfds(child)))
t.check(os.stat(memfds(child)[0]).st_ino != os.stat(memfds(w.pid)[0]).st_ino, "child shares the parent's segment")
cs = t.sample(child)
t.check(cs["pid"] == child, "child segment names pid %d" % cs["pid"])
c3 = t.rows(cs)["C3"]["allocs"]
t.check(c3 >= before + 100, "child C3 allocs %d, expected >= %d + 100" % (c3, before))
live = [b for b in cs["threads"]["blocks"] if b["kind"] == "live"]
t.check(len(live) == 1 and live[0]["os_tid"] == child, "child thread blocks: %s" % live)
t.check(t.rows(t.sample(w.pid))["C3"]["allocs"] == before, "the child's allocations reached the parent's segment")
os.kill(child, signal.SIGKILL)
t.log("ok  fork child has its own segment")

# exec: the close-on-exec memfd is not inherited; the new program (still
# preloaded) makes its own
ans = w.cmd("spawn", expect=None)
sp = int(ans.split()[1])
t.wait_for(lambda: os.path.exists("/proc/%d" % sp) and
           open("/proc/%d/comm" % sp).read().strip() == "sleep" and len(memfds(sp)) == 1,
           what="the exec'd sleep and its segment")
t.check(os.stat(memfds(sp)[0]).st_ino != os.stat(memfds(w.pid)[0]).st_ino, "exec'd child kept the parent's segment")
s = t.sample(sp)
t.check(s["pid"] == sp and s["command"].startswith("sleep"), "exec'd child segment: %s %r" % (s["pid"], s["command"]))
os.kill(sp, signal.SIGKILL)
w.cmd("exit")
t.log("top_lifecycle: all checks passed")
PY
