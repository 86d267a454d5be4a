#!/bin/sh
# lockstat_cli.sh - hakmem-lockstat's command line and its behaviour on bad
# input: --help/--version exit 0, usage errors exit 2, user errors exit 1
# with exactly one line on stderr, and hostile trace directories or stats
# segments (garbage, truncated, bit-flipped) never crash it.
set -eu
. "$(dirname "$0")/liblocks.sh"
need_file "$LIB" "$LOCKSTAT" "$WORKLOAD"
need_prog python3 readelf

# expect STATUS CMD...: exit status STATUS; for 1, exactly one stderr line.
expect() {
    want=$1; shift
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    set -e
    [ "$got" = "$want" ] || { cat "$tmp/err"; fail "'$*' exited $got, not $want"; }
    if [ "$want" = 1 ]; then
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "'$*': not one line on stderr"; }
        grep -q '^hakmem-lockstat: ' "$tmp/err" || { cat "$tmp/err"; fail "'$*': message not prefixed"; }
    fi
}

expect 0 "$LOCKSTAT" --help
grep -q '^usage: hakmem-lockstat' "$tmp/out" || fail "--help prints no usage"
expect 0 "$LOCKSTAT" -h
expect 0 "$LOCKSTAT" --version
grep -Eq '^hakmem-lockstat [0-9]+\.[0-9]+' "$tmp/out" || fail "--version: $(cat "$tmp/out")"

expect 2 "$LOCKSTAT"
expect 2 "$LOCKSTAT" --bogus
expect 2 "$LOCKSTAT" -o xml "$tmp"
expect 2 "$LOCKSTAT" -p abc
expect 2 "$LOCKSTAT" -p 0
expect 2 "$LOCKSTAT" -p
expect 2 "$LOCKSTAT" -p 1 "$tmp"
expect 2 "$LOCKSTAT" "$tmp" "$tmp"
expect 2 "$LOCKSTAT" --folded -o json "$tmp"
expect 2 "$LOCKSTAT" -d 1 "$tmp"
expect 2 "$LOCKSTAT" -p 1 -d -1
expect 2 "$LOCKSTAT" -p 1 -d 5000
expect 2 "$LOCKSTAT" --weight heavy "$tmp"
expect 2 "$LOCKSTAT" --depth 0 "$tmp"
expect 2 "$LOCKSTAT" --top x "$tmp"
expect 2 "$LOCKSTAT" --vpid 5 -p 1

# ---- user errors: processes -------------------------------------------
sleep 30 &
plain=$!
bg $plain
expect 1 "$LOCKSTAT" -p "$plain"                 # no segment
grep -q 'no hakmem stats segment' "$tmp/err" || fail "no-segment message: $(cat "$tmp/err")"
/bin/true & gone=$!; wait $gone   # reaped: a pid nobody has
expect 1 "$LOCKSTAT" -p "$gone"                  # no such process

# ---- user errors: trace directories ------------------------------------
expect 1 "$LOCKSTAT" "$tmp/nonexistent"
expect 1 "$LOCKSTAT" /etc/hostname
mkdir "$tmp/empty"
expect 1 "$LOCKSTAT" "$tmp/empty"
mkdir -p "$tmp/garbage/t" "$tmp/random/t" "$tmp/dirmeta/t/metadata"
echo "this is not CTF" >"$tmp/garbage/t/metadata"
head -c 65536 /dev/urandom >"$tmp/random/t/metadata"
head -c 4096 /dev/urandom >"$tmp/random/t/chan_0"
for d in garbage random dirmeta; do expect 1 "$LOCKSTAT" "$tmp/$d"; done

# ---- segments ------------------------------------------------------------
start_workload "$tmp/done" -t 2 -n 2048
wpid=$(cat "$tmp/done")
seg=""
for fd in /proc/"$wpid"/fd/*; do
    case $(readlink "$fd") in /memfd:hakmem-stats*) seg=$fd ;; esac
done
[ -n "$seg" ] || fail "the workload has no stats segment"
cp "$seg" "$tmp/seg.bin"
stop_workload "$tmp/done"
expect 0 "$LOCKSTAT" --segment "$tmp/seg.bin"
grep -q '^shared_pool ' "$tmp/out" || fail "saved segment: no shared_pool row"
expect 0 "$LOCKSTAT" --segment "$tmp/seg.bin" -o json
python3 -m json.tool "$tmp/out" >/dev/null || fail "segment JSON does not parse"
: >"$tmp/empty.seg"
expect 1 "$LOCKSTAT" --segment "$tmp/empty.seg"
expect 1 "$LOCKSTAT" --segment "$tmp/nonexistent.seg"
head -c 300000 /dev/urandom >"$tmp/random.seg"
expect 1 "$LOCKSTAT" --segment "$tmp/random.seg"

# Mutated copies of the real segment: header and lock-table bytes, random
# bytes everywhere, truncations.  Exit 0 or 1, one line when 1, no crash.
python3 - "$LOCKSTAT" "$tmp/seg.bin" "$tmp/mut.seg" <<'EOF' || fail "mutated segments"
import random, subprocess, sys
tool, src, dst = sys.argv[1:4]
base = open(src, "rb").read()
rng = random.Random(20261122)
bad = 0
for i in range(150):
    b = bytearray(base)
    kind = i % 4
    if kind == 0:      # header and the first records
        for _ in range(rng.randrange(1, 24)):
            k = rng.randrange(0, 4096); b[k] = rng.randrange(256)
    elif kind == 1:    # 32-bit extremes on header fields
        k = rng.randrange(0, 256, 4)
        b[k:k + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\0\0\0\0", b"\x01\0\0\0"])
    elif kind == 2:    # anywhere
        for _ in range(rng.randrange(1, 3000)):
            k = rng.randrange(len(b)); b[k] = rng.randrange(256)
    else:              # truncated
        b = b[:rng.randrange(len(b))]
    open(dst, "wb").write(b)
    for extra in ([], ["-o", "json"], ["--folded"]):
        r = subprocess.run([tool, "--segment", dst] + extra, capture_output=True, timeout=20)
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        if r.returncode not in (0, 1) or (r.returncode == 1 and len(err) != 1):
            bad += 1
            print("FAIL: mutation %d %s: exit %d, stderr %r" % (i, extra, r.returncode, err[:3]))
        if r.returncode == 0 and extra == ["-o", "json"]:
            import json
            try: json.loads(r.stdout)
            except ValueError: bad += 1; print("FAIL: mutation %d: JSON does not parse" % i)
sys.exit(1 if bad else 0)
EOF
# ---- HAKMEM_LOCK_STACKS (read by libhakmem.so at load) ------------------
# 1 loads libgcc_s with dlopen (no DT_NEEDED); unset, it is not loaded;
# a bad value gets the one-line warning of config.c's format.
LD_PRELOAD=$LIB cat /proc/self/maps >"$tmp/maps0"
grep -q libgcc_s "$tmp/maps0" && fail "libgcc_s loaded without HAKMEM_LOCK_STACKS"
HAKMEM_LOCK_STACKS=1 LD_PRELOAD=$LIB cat /proc/self/maps >"$tmp/maps1"
grep -q libgcc_s "$tmp/maps1" || fail "HAKMEM_LOCK_STACKS=1 did not load libgcc_s"
readelf -d "$LIB" | grep NEEDED | grep -qv 'libc\.so' && fail "libhakmem.so gained a DT_NEEDED"
HAKMEM_LOCK_STACKS=yes LD_PRELOAD=$LIB /bin/echo alive >"$tmp/o" 2>"$tmp/e"
[ "$(cat "$tmp/o")" = alive ] || fail "a bad HAKMEM_LOCK_STACKS stopped the program"
[ "$(cat "$tmp/e")" = "hakmem: HAKMEM_LOCK_STACKS=yes is invalid (expected 0..1); using the default 0" ] ||
    fail "HAKMEM_LOCK_STACKS warning: $(cat "$tmp/e")"
echo "lockstat_cli: ok"
