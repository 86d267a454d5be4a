#!/bin/sh
# make demo: show hakmem working, step by step, in under 3 minutes.
# Each step says what the reader is looking at; steps whose tool is not
# built yet are announced as such.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
LIB="$(pwd)/$B/libhakmem.so"
OUT="$B/demo"
mkdir -p "$OUT"
W="$B/tests/progs/demo_workload"
step() { printf '\n\033[1m== %s ==\033[0m\n%s\n\n' "$1" "$2"; }

[ -x "$W" ] || { echo "demo: $W is missing (run make)"; exit 1; }

step "1. A multi-threaded program under hakmem" \
"LD_PRELOAD=$B/libhakmem.so runs demo_workload: 4 threads churning tiny objects,
handing messages to each other (cross-thread frees), mid and large buffers,
threads exiting and being replaced. At the end it prints malloc_stats(): per class
the allocations, UltraHot and SLL hit rates, refills, drains, remote frees and slabs,
then the Mid/L2.5/Large tiers and the SharedPool / SuperSlab / LRU boxes."
LD_PRELOAD="$LIB" "$W" 3 --stats || exit 1

if [ -x "$B/hakmem-top" ]; then
    step "2. hakmem-top: live counters of a running process" \
"The workload runs again in the background; hakmem-top attaches by PID and prints
two batch samples one second apart (per class rates, hit %, live blocks)."
    LD_PRELOAD="$LIB" "$W" 4 --pause-end 2 >/dev/null &
    pid=$!
    sleep 1
    "$B/hakmem-top" -p "$pid" -b -n 2 -d 1 || echo "(hakmem-top failed)"
    wait "$pid"
fi

if [ -x "$B/hakmem-trace" ]; then
    step "3. hakmem-trace: every allocation recorded with LTTng" \
"hakmem-trace starts a session, preloads the allocator and its probes, runs the
workload, and reports the events recorded per name and any loss."
    rm -rf "$OUT/trace"
    "$B/hakmem-trace" -o "$OUT/trace" -- "$W" 1 || echo "(capture failed)"
    if [ -x "$B/hakmem-replay" ]; then
        step "4. hakmem-replay: the same allocations, replayed" \
"The trace becomes a compact .hkr file, is replayed twice in serial mode (the same
fingerprint: hakmem hands out the same addresses), and once under jemalloc."
        "$B/hakmem-replay" convert "$OUT/trace" -o "$OUT/demo.hkr" && \
        "$B/hakmem-replay" info "$OUT/demo.hkr" && \
        "$B/hakmem-replay" run --serial "$OUT/demo.hkr" && \
        "$B/hakmem-replay" run --serial "$OUT/demo.hkr" && \
        LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$B/hakmem-replay" run "$OUT/demo.hkr" || \
        echo "(replay failed)"
    fi
    if [ -x "$B/hakmem-lockstat" ]; then
        step "5. hakmem-lockstat: which locks were contended, and where" \
"Per lock: acquisitions, contention, wait and hold times, with call sites."
        "$B/hakmem-lockstat" "$OUT/trace" || echo "(lockstat failed)"
    fi
fi

step "Where to go next" \
"Files: $OUT/. Try: LD_PRELOAD=$B/libhakmem.so python3 -c 'print(1)';
hakmem-top -p PID on your own program; docs/architecture.md for how it works;
make test (the whole suite), make bench (against glibc, mimalloc, jemalloc, tcmalloc)."
