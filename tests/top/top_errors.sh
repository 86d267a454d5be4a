#!/bin/sh
# hakmem-top's error cases: each a one-line message and exit status 1
# (user errors: no such process, no hakmem in it, HAKMEM_STATS=0, another
# user's process or segment) or 2 (usage errors), never a crash.
. "$(dirname "$0")/lib_top.sh"
run_py <<'PY'
import os, shutil, subprocess
import toplib as t

def expect(args, rc, text, env=None, prefix=None):
    cmd = (prefix or []) + [t.TOP] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    t.check(r.returncode == rc, "%s: exit %d, expected %d (stderr %r)" % (" ".join(cmd), r.returncode, rc, r.stderr))
    t.check(text in r.stderr, "%s: stderr %r lacks %r" % (" ".join(cmd), r.stderr, text))
    t.check(r.stdout == "", "%s printed on stdout: %r" % (" ".join(cmd), r.stdout[:200]))
    first = r.stderr.splitlines()[0]
    t.check(first.startswith("hakmem-top: "), "message %r" % first)
    t.log("ok  exit %d  %s" % (rc, first))

# usage errors: exit 2
expect(["-d", "abc"], 2, "invalid delay")
expect(["-d", "0"], 2, "invalid delay")
expect(["-d", "-1"], 2, "invalid delay")
expect(["-n", "0"], 2, "invalid count")
expect(["-n", "x"], 2, "invalid count")
expect(["-p", "abc"], 2, "invalid pid")
expect(["-p", "-5"], 2, "invalid pid")
expect(["-b", "-o", "xml"], 2, "unknown output format")
expect(["-o", "json"], 2, "-o needs -b")
expect(["-s", "nope"], 2, "unknown sort key")
expect(["--bogus"], 2, "unknown option")
expect(["-p"], 2, "needs an argument")
expect(["extra"], 2, "unexpected argument")
for a in (["--help"], ["-h"], ["--version"], ["-V"]):
    r = subprocess.run([t.TOP] + a, capture_output=True, text=True, timeout=10)
    t.check(r.returncode == 0 and r.stdout and not r.stderr, "%s: %r" % (a, r))
t.check("usage: hakmem-top" in subprocess.run([t.TOP, "--help"], capture_output=True, text=True).stdout, "help text")

# a pid that does not exist
expect(["-p", "2147483646", "-b"], 1, "no process with pid 2147483646")
# a process without hakmem
sl = subprocess.Popen(["sleep", "60"])
expect(["-p", sl.pid, "-b", "-n", "1"], 1, "has no hakmem stats segment")
sl.kill(); sl.wait()
# a hakmem process with the segment disabled: no memfd at all
w = t.Workload("steps", env={"HAKMEM_STATS": "0"})
w.cmd("alloc 0 10")
links = [os.readlink("/proc/%d/fd/%s" % (w.pid, f)) for f in os.listdir("/proc/%d/fd" % w.pid)]
t.check(not any("hakmem-stats" in l for l in links), "HAKMEM_STATS=0 still made a segment: %s" % links)
expect(["-p", w.pid, "-b", "-n", "1"], 1, "has no hakmem stats segment")
w.cmd("exit")

# another user
if os.getuid() == 0:
    setpriv = shutil.which("setpriv")
    t.check(setpriv, "setpriv (util-linux) is needed to run as another user")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    w = t.Workload("steps")
    w.cmd("alloc 0 10")
    # an unprivileged user cannot read root's process
    expect(["-p", w.pid, "-b", "-n", "1"], 1, "belongs to uid 0", prefix=nobody)
    r = subprocess.run(nobody + [t.TOP, "-b", "-o", "json"], capture_output=True, text=True, timeout=30)
    t.check(r.returncode == 0 and '"pid":%d' % w.pid not in r.stdout,
            "another user's list shows root's process: %r" % r.stdout)
    # a process whose user changed after making its segment: the segment's
    # owner is not the process's user, so it is refused (even for root)
    w.cmd("setuid 65534")
    st = os.stat("/proc/%d" % w.pid)
    t.check(st.st_uid == 65534, "/proc/PID owner after setuid: %d" % st.st_uid)
    expect(["-p", w.pid, "-b", "-n", "1"], 1, "owned by uid 0")
    w.cmd("exit")
else:
    # as a normal user: a process of root (pid 1 on any normal system)
    t.check(os.stat("/proc/1").st_uid != os.getuid(), "pid 1 belongs to us: cannot test another user")
    expect(["-p", "1", "-b", "-n", "1"], 1, "belongs to uid")
t.log("top_errors: all checks passed")
PY
