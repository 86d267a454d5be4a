#!/bin/sh
# Build this project's library in a scratch copy of the tree with make -j2
# and every gcc, cc1, as and ld under LD_PRELOAD=libhakmem.so, and once
# without it.  The two libraries must be byte-identical, and the one built
# under hakmem must work: hk_smoke passes when it is preloaded.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need make gcc tar cmp
hk_check_preload make
SMOKE=$BUILD/tests/progs/hk_smoke
[ -x "$SMOKE" ] || hk_fail "$SMOKE not built"

SRC=$HK_TMP/src
mkdir -p "$SRC"
# The tree minus build outputs and version control.
(cd "$HAKMEM_ROOT" && tar --exclude=./build --exclude=./.git -cf - .) | (cd "$SRC" && tar -xf -) ||
    hk_fail "copying the source tree failed"
[ -f "$SRC/Makefile" ] && [ -d "$SRC/src" ] || hk_fail "the scratch copy has no Makefile or src/"

# BUILD is relative so that both builds embed the same paths.
( cd "$SRC" && timeout 300 make -j2 BUILD=out-ref lib ) >"$HK_TMP/ref.log" 2>&1 ||
    { tail -n 20 "$HK_TMP/ref.log" >&2; hk_fail "reference build (without hakmem) failed"; }
( cd "$SRC" && LD_PRELOAD="$HK_LIB" timeout 300 make -j2 BUILD=out-hak lib ) >"$HK_TMP/hak.log" 2>&1
st=$?
hk_scan_stderr selfbuild "$HK_TMP/hak.log"
[ $st -eq 0 ] || { tail -n 20 "$HK_TMP/hak.log" >&2; hk_fail "make -j2 lib under LD_PRELOAD failed (exit $st)"; }
# (The logs themselves are not compared: make -j2 orders its lines freely.)
if grep -E -q 'warning:|error:' "$HK_TMP/hak.log"; then
    grep -E 'warning:|error:' "$HK_TMP/hak.log" | head -5 >&2
    hk_fail "compiler diagnostics in the build under LD_PRELOAD"
fi
n=0
for o in "$SRC"/out-ref/obj/*.o; do
    b=$(basename "$o")
    cmp -s "$o" "$SRC/out-hak/obj/$b" || hk_fail "object $b differs when built under LD_PRELOAD"
    n=$((n + 1))
done
[ $n -gt 5 ] || hk_fail "only $n objects were built"
hk_same_file libhakmem.so "$SRC/out-ref/libhakmem.so" "$SRC/out-hak/libhakmem.so"
if [ -f "$SRC/out-ref/libhakmem-tp.so" ]; then
    hk_same_file libhakmem-tp.so "$SRC/out-ref/libhakmem-tp.so" "$SRC/out-hak/libhakmem-tp.so"
fi
out=$(LD_PRELOAD="$SRC/out-hak/libhakmem.so" timeout 60 "$SMOKE" 2>&1) ||
    hk_fail "the library built under hakmem does not work: $out"
echo "$out"
echo "selfbuild: ok ($n objects identical)"
