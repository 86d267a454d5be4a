#!/bin/sh
# A plain program (tests/progs/hk_smoke.c, not linked with hakmem) under
# LD_PRELOAD=libhakmem.so: it must find hakmem through the dynamic linker,
# see its malloc in hakmem's arena, and pass its API/threads/fork checks.
# Without the preload it must notice that hakmem is absent (exit 3), so
# its own detection is known to work.
. "$(dirname "$0")/../lib.sh"
hk_setup
SMOKE=$BUILD/tests/progs/hk_smoke
[ -x "$SMOKE" ] || hk_fail "$SMOKE not built"
out=$(timeout 60 "$SMOKE" 2>&1); st=$?
[ $st -eq 3 ] || hk_fail "hk_smoke without LD_PRELOAD: exit $st, expected 3 (hakmem absent): $out"
out=$(LD_PRELOAD="$HK_LIB" timeout 60 "$SMOKE" 2>&1); st=$?
[ $st -eq 0 ] || hk_fail "hk_smoke under LD_PRELOAD: exit $st: $out"
case $out in *"hk_smoke: ok"*) ;; *) hk_fail "hk_smoke under LD_PRELOAD: unexpected output: $out" ;; esac
echo "$out"
echo "smoke: ok"
