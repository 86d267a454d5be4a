#!/bin/sh
# trace_damaged.sh - every trace reader treats a trace directory as hostile
# input: on damaged copies of a small real trace, hakmem-lockstat,
# hakmem-replay convert and hakmem-trace stat exit 0, 1 or 3 (their
# documented codes), never by a signal, within a time limit (a hang is a
# failure), and everything they print on stderr is their own prefixed
# lines (no babeltrace2/GLib/ASan text: babeltrace2 runs in a child
# process of the reader whose stderr is captured).
#
# First the damage that broke each tool once, made on purpose:
#   payload-long  hakmem:free gains a 1 MiB array in the metadata, so its
#                 first event runs past its packet: babeltrace 2.0.4 ends
#                 the stream "successfully" with an error left pending (a
#                 silently truncated read; lockstat's second pass then
#                 called babeltrace with that error pending: abort)
#   field-gone    hakmem:free loses a field: the stream decodes out of step
#   dup-member    two members of hakmem:malloc share a name: a babeltrace
#                 precondition abort while it loads the metadata
#   seq-negative  a statedump sequence takes its length from a 64-bit
#                 address: a GLib-CRITICAL message, then SIGSEGV inside
#                 babeltrace
#   seq-huge      that length read big-endian (2^60): SIGSEGV
#   seq-bomb      that length read as 32 bits big-endian (335 M): babeltrace
#                 allocates an object per element, until the machine runs
#                 out of memory without the reader's cap on its child
#   index-offset  an index entry points past its stream file while the
#                 sizes still add up: a babeltrace assertion (caught by the
#                 reader's index check)
#   meta-junk     packetized metadata cut in a packet, then junk: babeltrace
#                 loops forever (caught by the reader's framing check)
# each must be refused (exit 1, one line).  Then N (default 300) seeded
# random damages: truncation, bit flips, overwritten and deleted ranges of
# stream, index and metadata files, and edits of the metadata text
# (re-framed as whole packets, or as text metadata, so babeltrace parses
# it).
. "$(dirname "$0")/lib_trace.sh"
ht_setup
hk_need python3 timeout
# TRACE_DAMAGED_N=N: seeded damages; TRACE_DAMAGED_VERBOSE=1: show each
# tool's exit status and last line of stderr.
N=${TRACE_DAMAGED_N:-300}
for t in hakmem-lockstat hakmem-replay hakmem-trace tests/progs/lock_workload; do
    [ -x "$BUILD/$t" ] || hk_fail "$BUILD/$t does not exist (run make first)"
done

"$HT_TRACE" -o "$HK_TMP/src" --events all -- "$BUILD/tests/progs/lock_workload" -t 2 -n 256 -m 4 \
    >"$HK_TMP/cap.out" 2>&1 || { cat "$HK_TMP/cap.out" >&2; hk_fail "capture failed"; }

python3 - "$BUILD" "$HK_TMP/src" "$HK_TMP/work" "$N" <<'EOF'
import os, random, re, shutil, struct, subprocess, sys, time

build, src, work, nrand = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
LIMIT = 20          # seconds per tool run; more is a hang
out_hkr = work + ".hkr"
TOOLS = [
    ("hakmem-lockstat", [build + "/hakmem-lockstat", "{d}"]),
    ("hakmem-replay", [build + "/hakmem-replay", "convert", "{d}", "-o", out_hkr, "--allow-gaps"]),
    ("hakmem-trace", [build + "/hakmem-trace", "stat", "{d}"]),
]
files = sorted(os.path.relpath(os.path.join(r, f), src) for r, _, fs in os.walk(src) for f in fs)
metas = [f for f in files if os.path.basename(f) == "metadata"]
idxs = [f for f in files if f.endswith(".idx")]
streams = [f for f in files if f not in metas and f not in idxs]
if not metas or not streams or not idxs:
    sys.exit("FAIL: the capture has no metadata, stream or index file: %r" % files)

MAGIC = b"\x57\x1d\xd1\x75"
def meta_text(raw):
    """(TSDL text, packet header or None) of a metadata file."""
    if raw[:4] != MAGIC: return raw, None
    out, off = bytearray(), 0
    while off + 37 <= len(raw):
        content, packet = struct.unpack_from("<II", raw, off + 24)
        if packet == 0 or content < 37 * 8: break
        out += raw[off + 37:off + content // 8]
        off += packet // 8
    return bytes(out), raw[:37]
def meta_frame(text, hdr, psize=4096):
    if hdr is None: return text
    out = bytearray()
    for i in range(0, len(text), psize - 37):
        chunk = text[i:i + psize - 37]
        h = bytearray(hdr)
        struct.pack_into("<II", h, 24, 8 * (37 + len(chunk)), 8 * psize)
        out += h + chunk + b"\0" * (psize - 37 - len(chunk))
    return bytes(out)
def edit_meta(d, fn):
    p = os.path.join(d, metas[0])
    text, hdr = meta_text(open(p, "rb").read())
    new = fn(text)
    if new == text: sys.exit("FAIL: the metadata edit did not apply (metadata changed?)")
    open(p, "wb").write(meta_frame(new, hdr))
def event_block(text, name):
    m = re.search(rb'event \{\s*name = "' + re.escape(name) + rb'";.*?\n\};', text, re.S)
    if not m: sys.exit("FAIL: no event %s in the metadata" % name.decode())
    return m
def in_event(name, f):
    def g(text):
        m = event_block(text, name)
        return text[:m.start()] + f(m.group(0)) + text[m.end():]
    return g

INT64 = b"integer { size = 64; align = 8; signed = 0; encoding = none; base = 10; }"
def payload_long(d):
    edit_meta(d, in_event(b"hakmem:free", lambda b: b.replace(
        b"_caller;\n", b"_caller;\n\t\t" + INT64 + b" _pad[131072];\n")))
def field_gone(d):
    edit_meta(d, in_event(b"hakmem:free", lambda b: re.sub(rb"\n[^\n]*_caller;", b"", b)))
def dup_member(d):
    edit_meta(d, in_event(b"hakmem:malloc", lambda b: b.replace(b" _size;", b" _ptr;")))
def build_id_len(new):
    return lambda d: edit_meta(d, in_event(b"lttng_ust_statedump:build_id",
                                           lambda b: b.replace(INT64 + b" __build_id_length;", new)))
def seq_negative(d):
    edit_meta(d, in_event(b"lttng_ust_statedump:build_id",
                          lambda b: b.replace(b"[ __build_id_length ]", b"[ _baddr ]")))
seq_huge = build_id_len(INT64[:-2] + b" byte_order = be; } __build_id_length;")
seq_bomb = build_id_len(INT64[:-2].replace(b"size = 64", b"size = 32") +
                        b" byte_order = be; } __build_id_length;")
def index_offset(d):
    p = os.path.join(d, idxs[0])
    raw = bytearray(open(p, "rb").read())
    size = os.path.getsize(os.path.join(d, os.path.dirname(os.path.dirname(idxs[0])),
                                        os.path.basename(idxs[0])[:-4]))
    struct.pack_into(">Q", raw, 16, size)        # entry 0: offset = file size
    open(p, "wb").write(raw)
def meta_junk(d):
    p = os.path.join(d, metas[0])
    raw = open(p, "rb").read()
    if raw[:4] != MAGIC: sys.exit("FAIL: LTTng wrote text metadata (expected packets)")
    open(p, "wb").write(raw[:4096 + 1000] + bytes(range(256)) * 8)

def damage(rng, d):
    what = rng.choice(["stream"] * 4 + ["index"] + ["meta-bytes"] + ["meta-text"] * 3)
    if what == "meta-text":
        def f(text):
            k = rng.randrange(5)
            if k == 0:      # a number changes
                ms = list(re.finditer(rb"\d+", text)); m = rng.choice(ms)
                v = rng.choice([0, 1, 3, 7, 63, 65, 255, 4096, 2**31, 2**64, rng.randrange(10**6)])
                return text[:m.start()] + str(v).encode() + text[m.end():]
            if k == 1:      # a word replaced by another
                ws = list(re.finditer(rb"[A-Za-z_]+", text)); a, b = rng.choice(ws), rng.choice(ws)
                return text[:a.start()] + b.group(0) + text[a.end():]
            lines = text.split(b"\n"); i = rng.randrange(len(lines))
            if k == 2: del lines[i:i + rng.randrange(1, 4)]             # lines removed
            elif k == 3: lines.insert(i, rng.choice(lines))             # a line repeated
            else: lines[i] = bytes(c ^ (1 << rng.randrange(7)) if rng.random() < .2 else c
                                   for c in lines[i])                   # bytes in a line
            return b"\n".join(lines)
        p = os.path.join(d, metas[0])
        text, hdr = meta_text(open(p, "rb").read())
        new = f(text)
        if hdr is not None and rng.random() < 0.3: hdr = None            # as text metadata
        open(p, "wb").write(meta_frame(new, hdr, rng.choice([512, 4096, 4096, 65536])))
        return what
    v = rng.choice(streams if what == "stream" else idxs if what == "index" else metas)
    p = os.path.join(d, v)
    b = bytearray(open(p, "rb").read())
    k = rng.randrange(5)
    if k == 0: b = b[:rng.randrange(len(b) + 1)]
    elif k == 1:
        for _ in range(rng.randrange(1, 100)):
            if b: b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif k == 2 and b:
        i = rng.randrange(len(b))
        for j in range(i, min(len(b), i + rng.randrange(1, 64))):
            b[j] = rng.choice([0, 0xff, rng.randrange(256)])
    elif k == 3 and b:
        i = rng.randrange(len(b)); del b[i:i + rng.randrange(1, 4096)]
    elif len(b) >= 8:
        i = rng.randrange(len(b) - 7)
        b[i:i + 8] = rng.choice([b"\xff" * 8, b"\0" * 8, struct.pack("<Q", 2**63), bytes(8)])
    open(p, "wb").write(b)
    return "%s %s/%d" % (what, v, k)

bad, runs, by_code = [], 0, {}
def run_all(name, allowed):
    global runs
    for tool, argv in TOOLS:
        a = [x.replace("{d}", work) for x in argv]
        t0 = time.monotonic()
        try:
            r = subprocess.run(a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=LIMIT)
            rc, err = r.returncode, r.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, err = "hang", ""
        runs += 1
        by_code[rc] = by_code.get(rc, 0) + 1
        lines = err.strip().splitlines()
        why = None
        if rc == "hang": why = "no exit within %d s" % LIMIT
        elif rc < 0: why = "killed by signal %d" % -rc
        elif rc not in allowed: why = "exit %d, expected %s" % (rc, "/".join(map(str, allowed)))
        elif rc == 1 and not lines: why = "exit 1 without a message"
        else:
            foreign = [l for l in lines if not l.startswith(tool + ": ")]
            if foreign: why = "stderr not from the tool: %r" % foreign[0][:160]
        if os.environ.get("TRACE_DAMAGED_VERBOSE"):
            print("%s: %s: exit %s: %s" % (name, tool, rc, lines[-1:]))
        if why:
            bad.append("%s: %s: %s (%s)" % (name, tool, why, " | ".join(lines[-2:])[:300]))

def fresh():
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src, work)

fresh()
run_all("pristine copy", (0,))
NAMED = [("payload-long", payload_long), ("field-gone", field_gone), ("dup-member", dup_member),
         ("seq-negative", seq_negative), ("seq-huge", seq_huge), ("seq-bomb", seq_bomb),
         ("index-offset", index_offset), ("meta-junk", meta_junk)]
for name, fn in NAMED:
    fresh()
    fn(work)
    run_all(name, (1,))
for seed in range(nrand):
    rng = random.Random(seed)
    fresh()
    what = damage(rng, work)
    if rng.random() < 0.25: what += " + " + damage(rng, work)
    run_all("seed %d (%s)" % (seed, what), (0, 1, 3))
shutil.rmtree(work, ignore_errors=True)
for b in bad: print("FAIL:", b)
print("%d damaged inputs (%d named + %d seeded), %d tool runs, exit codes %s" %
      (len(NAMED) + nrand, len(NAMED), nrand, runs, ", ".join("%s: %d" % kv for kv in sorted(by_code.items(), key=str))))
sys.exit(1 if bad else 0)
EOF
[ $? -eq 0 ] || hk_fail "a tool crashed, hung or misreported on a damaged trace (above)"
echo "trace_damaged: ok"
