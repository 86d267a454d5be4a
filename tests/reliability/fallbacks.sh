#!/bin/sh
# Fallbacks under resource limits, with real programs under LD_PRELOAD:
#  - an address-space limit (ulimit -v 200 MB): the 128 GiB arena cannot be
#    reserved, the growable arena takes over; python3 runs a threaded
#    workload with the same output as without hakmem, and a program that
#    asks for more than the limit gets MemoryError, not a crash;
#  - no memfd (memfd_create fails), no shared mapping (mmap MAP_SHARED
#    fails): the stats segment falls back to private memory, the program
#    runs the same (HAKMEM_VERBOSE=1 shows which path was taken).
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need python3
PY=$(command -v python3)
# the real interpreter, not a version-manager shim script
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
FAIL=$BUILD/tests/progs/fail_syscall
[ -x "$FAIL" ] || hk_fail "$FAIL is not built (make tests)"
hk_check_preload "$PY"

cat >"$HK_TMP/oom.py" <<'PYEOF'
try:
    x = bytearray(4 << 30)
    print("no MemoryError for 4 GiB")
except MemoryError:
    print("MemoryError (bytearray 4 GiB)")
chunks = []
try:
    while True:
        chunks.append(bytearray(1 << 20))
except MemoryError:
    n = len(chunks)
    chunks = None
    print("MemoryError (1 MiB chunks), more than 50:", n > 50)
d = {i: str(i) * 3 for i in range(200000)}
print("heap works after MemoryError:", len(d), sum(len(v) for v in d.values()))
PYEOF
cat >"$HK_TMP/work.py" <<'PYEOF'
from concurrent.futures import ThreadPoolExecutor
import hashlib, json
def job(i):
    data = [{"k": j, "v": str(j * i) * (j % 7)} for j in range(3000)]
    s = json.dumps(data)
    return hashlib.sha256(s.encode()).hexdigest()[:16]
with ThreadPoolExecutor(max_workers=4) as ex:
    print("\n".join(ex.map(job, range(24))))
PYEOF

# ulimit -v: the same threaded workload, same output
(ulimit -v 200000 && "$PY" "$HK_TMP/work.py") >"$HK_TMP/work.ref" 2>&1 || hk_fail "python3 under ulimit -v 200000 fails without hakmem"
(ulimit -v 200000 && LD_PRELOAD="$HK_LIB" "$PY" "$HK_TMP/work.py") >"$HK_TMP/work.hak" 2>&1 ||
    { cat "$HK_TMP/work.hak" >&2; hk_fail "python3 thread pool under ulimit -v 200000 with hakmem failed"; }
hk_same_file "thread pool under ulimit -v" "$HK_TMP/work.ref" "$HK_TMP/work.hak"

# ulimit -v: MemoryError, then the heap still works
(ulimit -v 200000 && LD_PRELOAD="$HK_LIB" HAKMEM_VERBOSE=1 "$PY" "$HK_TMP/oom.py") >"$HK_TMP/oom.out" 2>"$HK_TMP/oom.err"
rc=$?
[ $rc -eq 0 ] || { cat "$HK_TMP/oom.err" >&2; hk_fail "python3 under ulimit -v exited $rc (a crash, not a MemoryError)"; }
grep -q "growable arena at" "$HK_TMP/oom.err" || hk_fail "the growable arena was not used under ulimit -v"
grep -q "^MemoryError (bytearray 4 GiB)$" "$HK_TMP/oom.out" || { cat "$HK_TMP/oom.out" >&2; hk_fail "no MemoryError for 4 GiB"; }
grep -q "^MemoryError (1 MiB chunks), more than 50: True$" "$HK_TMP/oom.out" || { cat "$HK_TMP/oom.out" >&2; hk_fail "no MemoryError for the chunk loop"; }
grep -q "^heap works after MemoryError: 200000 " "$HK_TMP/oom.out" || { cat "$HK_TMP/oom.out" >&2; hk_fail "heap broken after MemoryError"; }
echo "ok: python3 under ulimit -v 200000: MemoryError raised twice, heap works after"

# no memfd / no shared mapping: private counters, same output
"$PY" "$HK_TMP/work.py" >"$HK_TMP/plain.ref" 2>&1 || hk_fail "python3 workload fails"
for mode in memfd shared; do
    HAKMEM_VERBOSE=1 LD_PRELOAD="$HK_LIB" "$FAIL" $mode "$PY" "$HK_TMP/work.py" >"$HK_TMP/$mode.out" 2>"$HK_TMP/$mode.err" ||
        { cat "$HK_TMP/$mode.err" >&2; hk_fail "python3 with $mode failing exited non-zero"; }
    grep -q "no stats segment" "$HK_TMP/$mode.err" || { cat "$HK_TMP/$mode.err" >&2; hk_fail "$mode: the stats fallback was not taken"; }
    hk_same_file "stats segment fallback ($mode fails)" "$HK_TMP/plain.ref" "$HK_TMP/$mode.out"
done
