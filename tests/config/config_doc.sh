#!/bin/sh
# docs/config.md and the variable table compiled into libhakmem.so agree
# (names and meanings), and a bad value gives one warning and the default.
set -eu
ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
LIB="$ROOT/$BUILD/libhakmem.so"
[ -f "$LIB" ] || { echo "missing $LIB"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

HAKMEM_VERBOSE=1 LD_PRELOAD="$LIB" /bin/true 2>"$tmp/dump"
grep -q HAKMEM_ARENA_SIZE "$tmp/dump" || { echo "HAKMEM_VERBOSE=1 printed no table"; cat "$tmp/dump"; exit 1; }

# name + meaning from the dump: "  NAME value (default D) meaning" / enum form
sed -n 's/^  \(HAKMEM_[A-Z_0-9]*\) .*) \(.*\)$/\1|\2/p' "$tmp/dump" | sort >"$tmp/lib"
# name + meaning from the doc table
sed -n 's/^| `\(HAKMEM_[A-Z_0-9]*\)` |[^|]*|[^|]*| \(.*\) |$/\1|\2/p' "$ROOT/docs/config.md" | sort >"$tmp/doc"
if ! diff -u "$tmp/doc" "$tmp/lib"; then
    echo "docs/config.md and src/config.c disagree (diff above: - doc, + library)"
    exit 1
fi
n=$(wc -l <"$tmp/lib")
[ "$n" -ge 10 ] || { echo "only $n variables parsed"; exit 1; }

# a bad value: one warning naming the variable, the program still runs
out=$(HAKMEM_SLL_CAP_MAX=lots LD_PRELOAD="$LIB" sh -c 'echo alive' 2>"$tmp/err")
[ "$out" = alive ] || { echo "program did not run with a bad value"; exit 1; }
grep -q "HAKMEM_SLL_CAP_MAX=lots is invalid" "$tmp/err" || { echo "no warning:"; cat "$tmp/err"; exit 1; }
HAKMEM_EXTERNAL=explode LD_PRELOAD="$LIB" /bin/true 2>"$tmp/err2"
grep -q "HAKMEM_EXTERNAL=explode is invalid (expected abort|warn|ignore)" "$tmp/err2" || { cat "$tmp/err2"; exit 1; }
echo "config table and docs agree ($n variables); bad values warned"
