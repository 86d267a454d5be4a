#!/bin/sh
# A segment is written by the observed process, which may be compromised:
# hakmem-top --segment FILE reads a saved copy, and every crafted or
# corrupted variant is either read within bounds or refused with one line
# and exit status 1 - never a crash, never exit 2, never invalid JSON.
. "$(dirname "$0")/lib_top.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-top-seg.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
export TMP
run_py <<'PY'
import json, os, random, struct, subprocess
import toplib as t

TMP = os.environ["TMP"]
w = t.Workload("steps")
w.cmd("alloc 0 321")
w.cmd("thread 3 100")
fds = [f for f in os.listdir("/proc/%d/fd" % w.pid)
       if os.readlink("/proc/%d/fd/%s" % (w.pid, f)).startswith("/memfd:hakmem-stats")]
t.check(len(fds) == 1, "workload has %d hakmem-stats memfds" % len(fds))
# the live segment is private to its user (mode 0600)
mode = os.stat("/proc/%d/fd/%s" % (w.pid, fds[0])).st_mode & 0o777
t.check(mode == 0o600, "segment mode %o" % mode)
orig = open("/proc/%d/fd/%s" % (w.pid, fds[0]), "rb").read()
w.cmd("exit")
t.check(len(orig) > 4096, "segment of %d bytes" % len(orig))

def run(data, name):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    try:
        r = subprocess.run([t.TOP, "--segment", path, "-b", "-n", "1", "-o", "json"],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        t.fail("%s: hakmem-top hung" % name)
    t.check(r.returncode in (0, 1), "%s: exit status %d (stderr %r)" % (name, r.returncode, r.stderr[-300:]))
    if r.returncode == 0:
        try:
            s = json.loads(r.stdout)
        except ValueError:
            t.fail("%s: invalid JSON %r" % (name, r.stdout[:300]))
        t.check(len(s["classes"]) == 11, "%s: %d rows" % (name, len(s["classes"])))
        return 0, s, r.stderr
    t.check(len(r.stderr.splitlines()) == 1 and r.stderr.startswith("hakmem-top: "),
            "%s: error message %r" % (name, r.stderr))
    return 1, None, r.stderr

def patch(fmt, off, val, data=None):
    b = bytearray(orig if data is None else data)
    struct.pack_into(fmt, b, off, val)
    return bytes(b)

# the pristine copy reads back what the workload did
rc, s, _ = run(orig, "pristine")
t.check(rc == 0, "pristine copy refused")
t.check(s["pid"] == w.pid, "pid %s" % s["pid"])
c = t.rows(s)
t.check(c["C0"]["allocs"] >= 321 and c["C3"]["allocs"] >= 100 and c["C3"]["frees"] >= 100, "counts %s" % c["C0"])

# header fields (offsets of hks_header in trace/hakmem_stats.h)
MAGIC, VERSION, HSIZE, TOTAL, CLASSES, CSIZE, UHMASK = 0, 8, 12, 16, 40, 44, 76
GOFF, GSIZE, LOFF, LSIZE, LCOUNT, TOFF, TSIZE, TCAP = 80, 84, 88, 92, 96, 100, 104, 108
CMDLINE, THIGH, FBEGIN = 128, 192, 200
refused = [
    ("version2", patch("<I", VERSION, 2), "ABI version 2"),
    ("magic", patch("<Q", MAGIC, 0x4141414141414141), "bad magic"),
    ("short", orig[:100], "not a hakmem stats segment"),
    ("empty", b"", "not a hakmem stats segment"),
    ("total-too-big", patch("<Q", TOTAL, len(orig) + 4096), "total size"),
    ("total-huge", patch("<Q", TOTAL, 2**63), "total size"),
    ("header-size", patch("<I", HSIZE, 64), "section sizes"),
    ("thread-size", patch("<I", TSIZE, 8), "section sizes"),
    ("classes", patch("<I", CLASSES, 200), "classes"),
    ("class-size0", patch("<I", CSIZE + 8, 0), "class C2"),
    ("uh-mask", patch("<I", UHMASK, 0xffffffff), "UltraHot mask"),
    ("lock-count", patch("<I", LCOUNT, 0xffffffff), "lock records"),
    ("thread-cap", patch("<I", TCAP, 0xffffffff), "do not fit"),
    ("thread-cap1", patch("<I", TCAP, 1), "thread blocks"),
    ("threads-off", patch("<I", TOFF, 0xfffffff0), "do not fit"),
    ("threads-misaligned", patch("<I", TOFF, struct.unpack_from("<I", orig, TOFF)[0] + 8), "do not fit"),
    ("global-off", patch("<I", GOFF, 0), "do not fit"),
    ("locks-overlap", patch("<I", LOFF, struct.unpack_from("<I", orig, GOFF)[0]), "do not fit"),
]
for name, data, msg in refused:
    rc, _, err = run(data, name)
    t.check(rc == 1 and msg in err, "%s: expected refusal %r, got rc %d %r" % (name, msg, rc, err))
    t.log("ok  refused %-18s %s" % (name, err.strip()))

# values that are only values: read within bounds, clamped, made printable
lock0 = struct.unpack_from("<I", orig, LOFF)[0]
tblk = struct.unpack_from("<I", orig, TOFF)[0]
tolerated = [
    ("thread-high-huge", patch("<Q", THIGH, 2**64 - 1)),
    ("fold-racing", patch("<Q", FBEGIN, 12345)),
    ("cmdline-no-nul", patch("64s", CMDLINE, b"\x01\x1b[2J" + b"A" * 60)),
    ("lock-name-no-nul", patch("<I", lock0 + 28, 1, patch("24s", lock0, b"B" * 24))),
    ("lock-in-use-junk", patch("<I", lock0 + 28, 7)),
    ("block-state-junk", patch("<I", tblk + 1600 * 2, 99, patch("<I", tblk, 1))),
    ("counter-max", patch("<Q", tblk + 64, 2**64 - 1)),
    ("file-longer", orig + b"\xff" * 5000),
]
for name, data in tolerated:
    rc, s, err = run(data, name)
    t.check(rc == 0, "%s: refused (%s)" % (name, err.strip()))
    txt = json.dumps(s)
    t.check("\\u001b" not in s["command"] and all(32 <= ord(ch) < 127 for ch in s["command"]),
            "%s: command not printable: %r" % (name, s["command"]))
    for l in s["locks"]:
        t.check(len(l["name"]) <= 23 and all(32 <= ord(ch) < 127 for ch in l["name"]), "%s: lock name %r" % (name, l["name"]))
    t.log("ok  read    %s" % name)

# random corruption of the header, the lock table and the first blocks,
# and random truncation
rnd = random.Random(1234)
hot = struct.unpack_from("<I", orig, TOFF)[0] + 1600 * 4
for i in range(300):
    b = bytearray(orig)
    for _ in range(rnd.randint(1, 12)):
        off = rnd.randrange(0, min(hot, len(b)))
        b[off] = rnd.randrange(256)
    if rnd.random() < 0.2:
        b = b[:rnd.randrange(0, len(b) + 1)]
    run(bytes(b), "fuzz%03d" % i)
t.log("ok  300 random variants: each read in bounds or refused")

# a path that is not a segment file
for p, msg in [(os.path.join(TMP, "nonexistent"), "No such file"), (TMP, "not a regular file")]:
    r = subprocess.run([t.TOP, "--segment", p, "-b"], capture_output=True, text=True, timeout=30)
    t.check(r.returncode == 1 and msg in r.stderr, "%s: %d %r" % (p, r.returncode, r.stderr))
t.log("top_segment: all checks passed")
PY
