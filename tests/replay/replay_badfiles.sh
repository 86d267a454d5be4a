#!/bin/sh
# Hostile input: missing, empty, foreign, truncated and corrupted .hkr
# files each get exit status 1 and exactly one line on stderr, never a
# crash; command-line mistakes get exit status 2; --help/--version exit 0.
. "$(dirname "$0")/lib_replay.sh"
rp_setup
hk_need python3 head
T=$HK_TMP

# expect_reject NAME FILE [CMD]: exit 1, one "hakmem-replay: " line
expect_reject() {
    rp_run "$1" "$RP" ${3:-info} "$2"
    [ $rc -eq 1 ] || hk_fail "$1: exit $rc (expected 1): $(head -n 3 "$T/$1.err")"
    [ "$(wc -l <"$T/$1.err")" -eq 1 ] || hk_fail "$1: $(wc -l <"$T/$1.err") lines on stderr: $(head -n 3 "$T/$1.err")"
    grep -q "^hakmem-replay: " "$T/$1.err" || hk_fail "$1: message: $(cat "$T/$1.err")"
}

# a valid file: two threads, every kind of event, more than one event block
rp_capture_libc "$T/trace" "$RP_WL" churn 25000 2
rp_ok conv "$RP" convert "$T/trace" -o "$T/good.hkr" --pid "$(rp_field "$T/trace.out" pid)"
rp_ok good "$RP" info "$T/good.hkr"
size=$(wc -c <"$T/good.hkr")
[ "$size" -gt 300000 ] || hk_fail "the valid file is too small ($size bytes) to span several blocks"

: >"$T/empty.hkr"
expect_reject empty "$T/empty.hkr"
grep -q "empty file" "$T/empty.err" || hk_fail "empty: $(cat "$T/empty.err")"
expect_reject missing "$T/nope.hkr"
expect_reject dir "$T"
expect_reject devnull /dev/null
printf 'hello, this is not a replay file at all\n' >"$T/text.hkr"
expect_reject text "$T/text.hkr"
grep -q "bad magic" "$T/text.err" || hk_fail "text: $(cat "$T/text.err")"
head -c 10 "$T/good.hkr" >"$T/short.hkr"
expect_reject short "$T/short.hkr"
# a future major version
python3 - "$T/good.hkr" "$T/v2.hkr" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], 'rb').read()); d[8] = 2
open(sys.argv[2], 'wb').write(d)
EOF
expect_reject v2 "$T/v2.hkr"
grep -q "version 2.0 is not supported" "$T/v2.err" || hk_fail "v2: $(cat "$T/v2.err")"
expect_reject run_text "$T/text.hkr" run
expect_reject reduce_text "$T/text.hkr" "reduce -o $T/x.hkr"

# truncations and byte flips all over the file (every byte of the first
# 48 and of the last 160 - thread table, summary, the end of the last
# event block - and spread positions in between)
mkdir -p "$T/mut"
python3 - "$T/good.hkr" "$T/mut" <<'EOF'
import sys, os
d = open(sys.argv[1], 'rb').read(); out = sys.argv[2]; n = len(d)
pos = sorted(set(list(range(48)) + list(range(n - 160, n)) + list(range(48, n - 160, (n - 208) // 80 + 1))))
for i, p in enumerate(pos):
    m = bytearray(d); m[p] ^= 0x5a if p % 2 else 0x01
    open(os.path.join(out, 'flip-%d.hkr' % p), 'wb').write(m)
for p in sorted(set([16, 17, 20, 21, 40, 1000, n // 2, n - 200, n - 30, n - 9, n - 4, n - 1])):
    open(os.path.join(out, 'cut-%d.hkr' % p), 'wb').write(d[:p])
open(os.path.join(out, 'grow.hkr'), 'wb').write(d + b'\0')
EOF
total=0; rejected=0
for f in "$T"/mut/*.hkr; do
    total=$((total + 1))
    "$RP" info "$f" >/dev/null 2>"$T/m.err"
    r=$?
    case $r in
        0) ;;
        1) rejected=$((rejected + 1))
           [ "$(wc -l <"$T/m.err")" -eq 1 ] || hk_fail "$(basename "$f"): $(wc -l <"$T/m.err") lines: $(head -n 3 "$T/m.err")" ;;
        *) hk_fail "$(basename "$f"): exit $r (crash?): $(head -n 3 "$T/m.err")" ;;
    esac
done
# every change is caught except the minor version bytes (10, 11: readers
# accept newer minor versions)
[ $rejected -eq $((total - 2)) ] || hk_fail "only $rejected of $total damaged files were rejected"
# a damaged file never reaches the allocator
rp_run runmut "$RP" run --serial "$T/mut/flip-100.hkr"
[ $rc -eq 1 ] || hk_fail "run of a damaged file: exit $rc"

# usage errors: exit 2
for args in "" "bogus" "run" "run --stop-at abc $T/good.hkr" "run --one-thread $T/good.hkr" \
            "convert $T/trace" "reduce $T/good.hkr" "info" "dump --count x $T/good.hkr" \
            "run --frobnicate $T/good.hkr" "info a b"; do
    "$RP" $args >/dev/null 2>"$T/u.err"
    r=$?
    [ $r -eq 2 ] || hk_fail "'hakmem-replay $args': exit $r, expected 2"
done
for cmd in "" convert info dump run reduce; do
    "$RP" $cmd --help >"$T/h.out" 2>&1 || hk_fail "'hakmem-replay $cmd --help' failed"
    grep -q "usage: hakmem-replay" "$T/h.out" || hk_fail "'$cmd --help' printed no usage"
done
"$RP" --version | grep -q "^hakmem-replay [0-9]" || hk_fail "--version"
# an unreadable trace directory for convert: exit 1, one line
rp_run conv_bad "$RP" convert "$T/mut" -o "$T/y.hkr"
[ $rc -eq 1 ] && [ "$(wc -l <"$T/conv_bad.err")" -eq 1 ] || hk_fail "convert of a non-trace: exit $rc: $(cat "$T/conv_bad.err")"
[ ! -e "$T/y.hkr" ] && [ ! -e "$T/y.hkr.tmp" ] || hk_fail "a failed convert left a file behind"
echo "ok: $rejected of $total damaged files rejected with one line each; usage errors exit 2"
