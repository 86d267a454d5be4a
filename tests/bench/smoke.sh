#!/bin/sh
# tests/bench/smoke.sh - the benchmark suite runs end to end (no performance
# assertions).
#
# Runs bench/run.sh in BENCH_QUICK mode (1 run, tiny iteration counts) for
# every allocator (hakmem, hakmem_trace0, hakmem_counters0, glibc, mimalloc, jemalloc,
# tcmalloc, floor) into $BUILD/test-logs/bench-smoke, and checks that it
# takes less than 60 s, that results.json parses and has every benchmark
# (bench/run.sh --list) for every allocator with a successful run (the
# floor's only gap is `large`, recorded as skipped), and that every
# benchmark program handles --help, --version and bad arguments.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
OUT="$BUILD/test-logs/bench-smoke"
fail() { echo "FAIL: $*"; exit 1; }

command -v python3 >/dev/null || fail "python3 not found"
for lib in libmimalloc.so.2 libjemalloc.so.2 libtcmalloc_minimal.so.4; do
    [ -f "/usr/lib/x86_64-linux-gnu/$lib" ] || fail "/usr/lib/x86_64-linux-gnu/$lib missing (make deps)"
done

# Builds are not part of the time limit: the suite's TRACE=0 copy of the
# library may have to be compiled the first time.
make --no-print-directory BUILD="$BUILD" lib benches >/dev/null || fail "make lib benches failed"
make --no-print-directory -j"$(nproc)" BUILD="$BUILD/trace0" TRACE=0 lib >/dev/null ||
    fail "make BUILD=$BUILD/trace0 TRACE=0 lib failed"
make --no-print-directory -j"$(nproc)" BUILD="$BUILD/counters0" COUNTERS=0 lib >/dev/null ||
    fail "make BUILD=$BUILD/counters0 COUNTERS=0 lib failed"

# The programs' command lines.
for p in $(sed -n 's/^[a-z0-9_]*|\([a-z_]*\) .*/\1/p' bench/run.sh | sort -u); do
    bin="$BUILD/bench/$p"
    [ -x "$bin" ] || fail "$bin not built"
    "$bin" --help | grep -q "^usage: $p" || fail "$p --help does not print its usage"
    "$bin" --version | grep -q "$p" || fail "$p --version"
    "$bin" no_such_param=1 >/dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "$p with an unknown argument exited $rc, expected 2"
    "$bin" seed=banana >/dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "$p with a bad number exited $rc, expected 2"
done
echo "ok: every benchmark program handles --help, --version and bad arguments"

rm -rf "$OUT"
start=$(date +%s)
BENCH_QUICK=1 BENCH_OUT="$OUT" BUILD="$BUILD" sh bench/run.sh
rc=$?
elapsed=$(( $(date +%s) - start ))
[ $rc -eq 0 ] || fail "bench/run.sh exited $rc"
echo "ok: bench/run.sh BENCH_QUICK=1 finished in ${elapsed}s"
[ $elapsed -lt 60 ] || fail "quick mode took ${elapsed}s (limit 60s)"

sh bench/run.sh --list >"$OUT/expected" || fail "bench/run.sh --list failed"
python3 - "$OUT/results.json" "$OUT/expected" <<'EOF' || exit 1
import json, sys
allocs = ["hakmem", "hakmem_trace0", "hakmem_counters0", "glibc", "mimalloc", "jemalloc", "tcmalloc", "floor"]
try:
    with open(sys.argv[1]) as f:
        res = json.load(f)
except (OSError, ValueError) as e:
    sys.exit("FAIL: results.json does not parse: %s" % e)
expected = open(sys.argv[2]).read().split()
if len(expected) < 16:
    sys.exit("FAIL: bench/run.sh --list names only %d benchmarks" % len(expected))
errors = []
if res.get("allocators") != allocs:
    errors.append("allocators %r, expected %r" % (res.get("allocators"), allocs))
B = res.get("benchmarks", {})
if sorted(B) != sorted(expected):
    errors.append("benchmarks %s, expected %s" % (sorted(B), sorted(expected)))
for b in expected:
    for a in allocs:
        r = B.get(b, {}).get("results", {}).get(a)
        if r is None:
            errors.append("%s/%s: missing" % (b, a))
        elif b == "large" and a == "floor":
            if r.get("status") != "skipped":
                errors.append("large/floor: status %r, expected skipped" % r.get("status"))
        elif r.get("status") != "ok":
            errors.append("%s/%s: status %r %s" % (b, a, r.get("status"), r.get("failures")))
        elif not (r.get("ops_per_sec", 0) > 0 and r.get("peak_rss_kb", 0) > 0 and r.get("runs")):
            errors.append("%s/%s: no ops_per_sec/peak_rss_kb" % (b, a))
    e = B.get(b, {})
    for k in ("best_peer", "ratio_to_best_peer", "rss_ratio_to_lowest_peer", "default_over_trace0",
              "default_over_counters0"):
        if k not in e:
            errors.append("%s: no %s" % (b, k))
ret = B.get("retention", {}).get("results", {}).get("hakmem", {})
if "kept_kb" not in ret:
    errors.append("retention/hakmem: no kept_kb")
s = res.get("summary", {})
for k in ("ratio_to_best_peer_geomean", "default_over_trace0_geomean", "default_over_counters0_geomean"):
    if not isinstance(s.get(k), float):
        errors.append("summary: no %s" % k)
if res.get("quick") is not True or res.get("runs") != 1:
    errors.append("quick/runs not recorded: %r %r" % (res.get("quick"), res.get("runs")))
for e in errors:
    print("FAIL:", e)
if errors:
    sys.exit(1)
print("ok: results.json has %d benchmarks x %d allocators" % (len(expected), len(allocs)))
EOF
[ -s "$OUT/results.md" ] || fail "results.md not written"
grep -q '^| random_mixed |' "$OUT/results.md" || fail "results.md has no table"
echo "PASS"
