#!/bin/sh
# shellcheck disable=SC2086  # word splitting of $ALLOCS and argument lists is intended
# bench/run.sh - the peer comparison behind `make bench`.
#
# Runs every benchmark (bench/*.c, built into $BUILD/bench/) under each
# allocator, interleaved: for every repetition and every benchmark, each
# allocator runs once, in an order rotated per repetition so no allocator
# always runs first (or right after the noisiest one).  Allocators:
#   hakmem         $BUILD/libhakmem.so (default build, no tracing session)
#   hakmem_trace0  $BUILD/trace0/libhakmem.so (make BUILD=$BUILD/trace0 TRACE=0 lib)
#   hakmem_counters0 $BUILD/counters0/libhakmem.so (make ... COUNTERS=0 lib: the
#                  fast-path counters compiled out, to measure what they cost)
#   glibc          no preload
#   mimalloc       libmimalloc.so.2     (Debian libmimalloc2.0)
#   jemalloc       libjemalloc.so.2     (Debian libjemalloc2)
#   tcmalloc       libtcmalloc_minimal.so.4 (Debian libtcmalloc-minimal4)
#   floor          $BUILD/bench/libfloor.so: bump pointer, free does nothing;
#                  the harness's own cost (not run on `large`)
# Each run prints one RESULT line; bench/report.py takes the medians, prints
# the tables (ops/s, hakmem / best peer, peak RSS, default / TRACE=0,
# default / COUNTERS=0) and
# writes results.json.
#
# Environment:
#   BENCH_RUNS=N          repetitions (default 5; the median is reported)
#   BENCH_QUICK=1         smoke mode for `make test`: 1 run, tiny iteration counts
#   BENCH_ONLY="a b"      only these benchmarks
#   BENCH_ALLOCATORS="x y" only these allocators (names above)
#   BENCH_OUT=DIR         output directory (default $BUILD/bench): raw.tsv,
#                         results.json, results.md, logs/
#   BENCH_TIMEOUT=SEC     per-run limit (default 300, quick 30)
#   BENCH_NO_BUILD=1      do not run make (the libraries must exist)
# Arguments: --list prints the benchmark names, --help this text.
# Exit status: 0 when every run produced a result and no library under test
# changed during the run, 1 otherwise (or on a setup error: missing library,
# failed build), 2 on a usage error.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
QUICK=${BENCH_QUICK:-0}
RUNS=${BENCH_RUNS:-5}
[ "$QUICK" = 1 ] && RUNS=1
OUT=${BENCH_OUT:-$BUILD/bench}
ONLY=${BENCH_ONLY:-}
ALLOCS=${BENCH_ALLOCATORS:-hakmem hakmem_trace0 hakmem_counters0 glibc mimalloc jemalloc tcmalloc floor}
if [ "$QUICK" = 1 ]; then TIMEOUT=${BENCH_TIMEOUT:-30}; else TIMEOUT=${BENCH_TIMEOUT:-300}; fi
LIBDIR=/usr/lib/x86_64-linux-gnu

case "$RUNS" in ''|*[!0-9]*|0) echo "bench/run.sh: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

# name | program and full-run arguments | quick-mode overrides | floor: skip, or extra arguments
# Iteration counts: about 0.3-2 s per run for the peers on a 2-core machine;
# a full `make bench` (5 runs, 7 allocators) takes about 10-15 minutes.
benchmarks() {
    cat <<'EOF'
random_mixed|random_mixed mode=mixed iters=60000000 ws=256 min=16 max=1040|iters=200000|
random_replace|random_mixed mode=replace name=random_replace iters=40000000 ws=256 min=16 max=1040|iters=100000|
fixed_16|random_mixed mode=replace name=fixed_16 iters=40000000 ws=128 min=16 max=16|iters=100000|
fixed_32|random_mixed mode=replace name=fixed_32 iters=40000000 ws=128 min=32 max=32|iters=100000|
fixed_64|random_mixed mode=replace name=fixed_64 iters=40000000 ws=128 min=64 max=64|iters=100000|
fixed_256|random_mixed mode=replace name=fixed_256 iters=40000000 ws=128 min=256 max=256|iters=100000|
fixed_1024|random_mixed mode=replace name=fixed_1024 iters=40000000 ws=128 min=1024 max=1024|iters=100000|
larson|larson threads=2 chunks=5000 rounds=250000 gens=100 min=8 max=1000|rounds=10000 gens=4|
mid_mt|mid_mt threads=2 iters=6000000 ws=2048 min=8192 max=32768|iters=20000|
xthread_tiny|cross_thread name=xthread_tiny pairs=1 items=10000000 min=8 max=1024|items=50000|
xthread_64|cross_thread name=xthread_64 pairs=1 items=20000000 min=64 max=64|items=50000|
xthread_mid|cross_thread name=xthread_mid pairs=1 items=2000000 min=8192 max=32768|items=20000|
remote_free|remote_free producers=2 consumers=2 items=10000000 batch=256 min=8 max=1024|items=100000|
large|large iters=150 slots=20 min=5242880 max=26214400|iters=8|skip
retention|retention threads=2000 conc=2 rounds=4 burst=256 min=16 max=1040|threads=40|
realloc_growth|realloc_growth iters=3000000 bufs=8 max=2097152|iters=20000|check=0
EOF
}

die() { echo "bench/run.sh: $*" >&2; exit 1; }

case "${1:-}" in
    -h|--help) sed -n '3,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --list) benchmarks | cut -d'|' -f1; exit 0 ;;
    "") ;;
    *) echo "bench/run.sh: unknown argument '$1' (usage: bench/run.sh [--list|--help])" >&2; exit 2 ;;
esac

alloc_lib() {
    case "$1" in
        hakmem) echo "$BUILD/libhakmem.so" ;;
        hakmem_trace0) echo "$BUILD/trace0/libhakmem.so" ;;
        hakmem_counters0) echo "$BUILD/counters0/libhakmem.so" ;;
        glibc) echo "" ;;
        mimalloc) echo "$LIBDIR/libmimalloc.so.2" ;;
        jemalloc) echo "$LIBDIR/libjemalloc.so.2" ;;
        tcmalloc) echo "$LIBDIR/libtcmalloc_minimal.so.4" ;;
        floor) echo "$BUILD/bench/libfloor.so" ;;
        *) return 1 ;;
    esac
}

for a in $ALLOCS; do
    alloc_lib "$a" >/dev/null || { echo "bench/run.sh: unknown allocator '$a'" >&2; exit 2; }
done
for b in $ONLY; do
    benchmarks | cut -d'|' -f1 | grep -qx "$b" || { echo "bench/run.sh: unknown benchmark '$b'" >&2; exit 2; }
done
command -v python3 >/dev/null || die "python3 is required for the report (make deps)"

mkdir -p "$OUT/logs" || die "cannot create $OUT"
LOGS="$OUT/logs"
rm -f "$LOGS"/*.log

# Build what we run (make is a no-op when everything is up to date).
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    targets="benches"
    case " $ALLOCS " in *" hakmem "*) targets="$targets lib" ;; esac
    make --no-print-directory BUILD="$BUILD" $targets >"$LOGS/build.log" 2>&1 ||
        { tail -n 20 "$LOGS/build.log" >&2; die "build failed (log: $LOGS/build.log)"; }
    case " $ALLOCS " in *" hakmem_trace0 "*)
        make --no-print-directory -j"$(nproc)" BUILD="$BUILD/trace0" TRACE=0 lib >"$LOGS/build-trace0.log" 2>&1 ||
            { tail -n 20 "$LOGS/build-trace0.log" >&2; die "TRACE=0 build failed (log: $LOGS/build-trace0.log)"; }
    esac
    case " $ALLOCS " in *" hakmem_counters0 "*)
        make --no-print-directory -j"$(nproc)" BUILD="$BUILD/counters0" COUNTERS=0 lib >"$LOGS/build-counters0.log" 2>&1 ||
            { tail -n 20 "$LOGS/build-counters0.log" >&2; die "COUNTERS=0 build failed (log: $LOGS/build-counters0.log)"; }
    esac
fi
for a in $ALLOCS; do
    lib=$(alloc_lib "$a")
    [ -z "$lib" ] || [ -f "$lib" ] || die "$a: $lib not found (make deps / make lib)"
done
for p in $(benchmarks | cut -d'|' -f2 | cut -d' ' -f1 | sort -u); do
    [ -x "$BUILD/bench/$p" ] || die "$BUILD/bench/$p not built (make benches)"
done

# Fingerprints of the libraries under test: a rebuild in the middle of the
# run (someone running make in the same tree) would mix two versions.
lib_sums() {
    for a in $ALLOCS; do
        lib=$(alloc_lib "$a")
        [ -z "$lib" ] || printf '%s=%s ' "$a" "$(cksum <"$lib" | cut -d' ' -f1)"
    done
}
sums_start=$(lib_sums)

RAW="$OUT/raw.tsv"
: >"$RAW"
nalloc=$(echo $ALLOCS | wc -w)
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# The allocator list rotated left by $1 places.
rotate() {
    k=$1; shift; i=0; first=""; rest=""
    for a in "$@"; do
        if [ $i -lt "$k" ]; then rest="$rest $a"; else first="$first $a"; fi
        i=$((i + 1))
    done
    echo $first $rest
}

# One run: appends "rep bench alloc status RESULT..." to raw.tsv.
run_one() { # rep bench alloc floorspec args...
    rep=$1 bench=$2 alloc=$3 floorspec=$4
    shift 4
    if [ "$alloc" = floor ]; then
        if [ "$floorspec" = skip ]; then
            printf '%s\t%s\t%s\tskipped\tthe floor never frees: %s would exhaust memory\n' \
                "$rep" "$bench" "$alloc" "$bench" >>"$RAW"
            return
        fi
        set -- "$@" $floorspec
    fi
    lib=$(alloc_lib "$alloc")
    log="$LOGS/$bench.$alloc.$rep.log"
    prog="$BUILD/bench/$1"
    shift
    if [ -n "$lib" ]; then
        LD_PRELOAD="$lib" timeout -k 5 "$TIMEOUT" "$prog" "$@" >"$log" 2>&1 </dev/null
    else
        env -u LD_PRELOAD timeout -k 5 "$TIMEOUT" "$prog" "$@" >"$log" 2>&1 </dev/null
    fi
    rc=$?
    line=$(grep '^RESULT ' "$log" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$line" ]; then
        printf '%s\t%s\t%s\tok\t%s\n' "$rep" "$bench" "$alloc" "$line" >>"$RAW"
        rm -f "$log"
        ops=$(printf '%s\n' "$line" | sed -n 's/.* ops_per_sec=\([0-9.]*\).*/\1/p')
        printf ' %s=%s' "$alloc" "$(awk -v x="$ops" 'BEGIN{ if (x>=1e6) printf "%.1fM", x/1e6; else if (x>=1e3) printf "%.1fK", x/1e3; else printf "%.0f", x }')"
    else
        [ $rc -eq 124 ] && why="timed out after ${TIMEOUT}s" || why="exit status $rc"
        [ $rc -eq 0 ] && why="no RESULT line"
        msg=$(tail -n 1 "$log" | tr '\t' ' ' | cut -c1-200)
        printf '%s\t%s\t%s\tfailed\t%s: %s (log: %s)\n' "$rep" "$bench" "$alloc" "$why" "$msg" "$log" >>"$RAW"
        printf ' %s=FAILED' "$alloc"
    fi
}

rep=1
while [ $rep -le "$RUNS" ]; do
    benchmarks | while IFS='|' read -r name cmd quick floorspec; do
        [ -z "$ONLY" ] || case " $ONLY " in *" $name "*) ;; *) continue ;; esac
        [ "$QUICK" = 1 ] && cmd="$cmd $quick"
        printf '[%d/%d] %-15s' "$rep" "$RUNS" "$name"
        order=$(rotate $(( (rep - 1) % nalloc )) $ALLOCS)
        for a in $order; do
            run_one "$rep" "$name" "$a" "$floorspec" $cmd
        done
        echo
    done
    rep=$((rep + 1))
done

elapsed=$(( $(date +%s) - start ))
changed=""
[ "$(lib_sums)" = "$sums_start" ] || changed="a library under test was rebuilt during the run: results mix two versions"
[ -z "$changed" ] || echo "bench/run.sh: WARNING: $changed" >&2
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
python3 bench/report.py --raw "$RAW" --json "$OUT/results.json" --markdown "$OUT/results.md" \
    --runs "$RUNS" --quick "$QUICK" --elapsed "$elapsed" --allocators "$ALLOCS" \
    --nproc "$(nproc)" --cpu "$cpu" --kernel "$(uname -r)" \
    --load "$load_start / $(cut -d' ' -f1-3 /proc/loadavg)" \
    --glibc "$(ldd --version 2>/dev/null | head -n 1 | sed 's/.* //')" \
    --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --warning "$changed" \
    --versions "$(dpkg-query -W -f='${Package}=${Version} ' libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 2>/dev/null)"
rc=$?
[ $rc -eq 0 ] || exit 1
[ -z "$changed" ] || exit 1
grep -q "	failed	" "$RAW" && exit 1
exit 0
