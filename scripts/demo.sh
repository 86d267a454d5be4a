#!/bin/sh
# make demo: hakmem working, step by step, in about a minute (under 3 on a
# loaded 2-core machine).  One program (tests/progs/demo_workload.c) is run
# under hakmem, watched live with hakmem-top, recorded with hakmem-trace,
# replayed with hakmem-replay and checked for lock contention with
# hakmem-lockstat.  Any step that fails stops the demo with "demo: FAILED".
# Files are left in $DEMO_OUT (default $BUILD/demo, i.e. build/demo/).
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
OUT=${DEMO_OUT:-$B/demo}
W=$B/tests/progs/demo_workload
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# The traced run: 2 generations of 4 threads, 300 rounds each (about
# 320,000 allocator calls).  Small enough that a serial replay, which hands
# control from thread to thread in the recorded order, takes a few seconds.
TRACED_ARGS="--generations 2 --rounds 300"
# The UltraHot magazines are opt-in (docs/performance.md: on this machine they
# cost more than they save); the demo turns them on for 16 and 32 B so that
# every box shows up in the counters and the trace.
HAKMEM_ULTRAHOT_MASK=${HAKMEM_ULTRAHOT_MASK:-0x06}
export HAKMEM_ULTRAHOT_MASK

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$(printf '\033[1m'); OFF=$(printf '\033[0m'); else BOLD=; OFF=; fi
step() { printf '\n%s== %s ==%s\n%s\n\n' "$BOLD" "$1" "$OFF" "$2"; }
note() { printf '\n%s\n' "$1"; }
show() { printf '%s$ %s%s\n' "$BOLD" "$*" "$OFF"; }
die() { printf '\ndemo: FAILED: %s\n' "$1" >&2; [ -n "${bg:-}" ] && kill "$bg" 2>/dev/null; exit 1; }
field() { sed -n "s/^$1: //p" "$2" | head -n 1; }   # "key: value" lines of hakmem-replay run

for f in "$B/libhakmem.so" "$B/libhakmem-tp.so" "$B/hakmem-trace" "$B/hakmem-top" \
         "$B/hakmem-replay" "$B/hakmem-lockstat" "$W"; do
    [ -e "$f" ] || die "$f is missing (run make first)"
done
[ -e "$JEMALLOC" ] || die "$JEMALLOC is missing (make deps installs libjemalloc2)"
rm -rf "$OUT" && mkdir -p "$OUT" || die "cannot create $OUT"
start=$(date +%s)

printf '%shakmem demo%s: one multi-threaded program, run under hakmem, watched live,
traced, replayed and checked for lock contention. Files go to %s/.
Every step runs with HAKMEM_ULTRAHOT_MASK=%s: the opt-in UltraHot magazines for
16 and 32 B are on, so that every box of the allocator shows up.\n' "$BOLD" "$OFF" "$OUT" "$HAKMEM_ULTRAHOT_MASK"

# ---------------------------------------------------------------------------
step "1. A multi-threaded program running on hakmem, and its malloc_stats()" \
"demo_workload runs 4 threads that churn tiny 16/32-byte objects, keep a working
set of mixed sizes (up to 32 KiB), pass messages to each other (so one thread
frees what another allocated) and now and then calloc a 3 MiB buffer. For one
second, the threads run, exit and are replaced by new ones. LD_PRELOAD makes
hakmem its malloc; at the end the program calls malloc_stats()."
show "LD_PRELOAD=$B/libhakmem.so $W 1 --stats"
LD_PRELOAD="$B/libhakmem.so" "$W" 1 --stats 2>&1 || die "demo_workload failed under hakmem"
note "How to read it: one row per tiny size class (C0 = 8 B ... C7 = 1 KiB). uh-hit% is
the share of mallocs served by the 4-slot UltraHot magazine (16 and 32 B here),
sll-hit% by the thread's free list; refills and drains are the slow-path trips to
the slabs; remote-out/in are blocks freed by another thread than their owner.
Then the Mid (<= 32 KiB), L2.5 (<= 1 MiB) and Large tiers, the SharedPool stages
(1: reuse an empty slab, 2: a fresh slot, 3: a new 2 MiB SuperSlab, under a
lock), and the slabs that exiting threads orphaned and others adopted."

# ---------------------------------------------------------------------------
step "2. hakmem-top: the live counters of a running process" \
"The same program runs again in the background. hakmem-top attaches to it by
pid (it maps the process's shared stats segment read-only; no signal, no
ptrace) and prints two samples one second apart in batch mode (-b)."
LD_PRELOAD="$B/libhakmem.so" "$W" 4 --pause-end 1 >/dev/null 2>&1 &
bg=$!
# Wait until the process has its segment (its first malloc creates it).
i=0
until "$B/hakmem-top" -p "$bg" -b -n 1 -d 0.05 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || die "hakmem-top cannot attach to pid $bg"
    sleep 0.1
done
sleep 1
show "$B/hakmem-top -p $bg -b -n 2 -d 1"
"$B/hakmem-top" -p "$bg" -b -n 2 -d 1 || die "hakmem-top failed"
wait "$bg" || die "demo_workload (pid $bg) failed"
bg=
note "How to read it: the header gives RSS, live bytes, threads, the SuperSlabs and
their slab slots, OS mappings and lock contention; each row gives a class's
allocations and frees per second, hit rates, refills, drains, remote frees per
second and what is live. Interactive: hakmem-top -p PID (keys: t threads,
l locks, < > sort, q quit)."

# ---------------------------------------------------------------------------
step "3. hakmem-trace: every allocator call and box decision, recorded with LTTng" \
"A shorter run of the same program ($TRACED_ARGS) under hakmem-trace: it
creates its own LTTng session, preloads hakmem and its tracepoint probes, runs
the program, and reports the events recorded per name. The channel blocks
instead of dropping, so nothing is lost: the last lines check that."
show "$B/hakmem-trace -o $OUT/trace -- $W $TRACED_ARGS"
# shellcheck disable=SC2086
"$B/hakmem-trace" -o "$OUT/trace" -- "$W" $TRACED_ARGS >"$OUT/capture.txt" 2>&1
rc=$?
grep -v '^GAP: ' "$OUT/capture.txt"
[ $rc -eq 3 ] && die "the trace lost events (see above; a capture of other programs running at the
same time, on the same session daemon, can cause this: run the demo again)"
[ $rc -eq 0 ] || die "hakmem-trace exited with status $rc"
# The session daemon is shared: unless hakmem-trace could isolate its
# command (root), a program another capture traces at the same time shows
# up in this trace too.  The workload's pid keeps it apart.
pid=$(sed -n 's/^demo_workload: .*(pid \([0-9]*\))$/\1/p' "$OUT/capture.txt")
[ -n "$pid" ] || die "the workload did not print its pid"
note "How to read it: hakmem:malloc and hakmem:free are the program's calls (the
replay set); the others are box events: UltraHot hits and misses, SLL refills
and drains, SharedPool acquisitions, slabs orphaned and adopted, lock
acquisitions... (docs/events.md). lttng_ust_statedump:* record where each
library was loaded, so addresses can be symbolized later."

# ---------------------------------------------------------------------------
step "4. hakmem-replay: the same calls, replayed deterministically" \
"convert turns the trace into a compact .hkr file (every pointer becomes an
object number, every thread a replay thread; --pid keeps the workload's events
only); info summarises it."
show "$B/hakmem-replay convert $OUT/trace --pid $pid -o $OUT/demo.hkr"
"$B/hakmem-replay" convert "$OUT/trace" --pid "$pid" -o "$OUT/demo.hkr" >"$OUT/convert.txt" \
    2>"$OUT/convert.log" || { cat "$OUT/convert.txt" "$OUT/convert.log"; die "convert failed"; }
cat "$OUT/convert.txt" "$OUT/convert.log"
# A normal exit makes liblttng-ust free, from its destructor, the tracepoint
# tables it allocated while the libraries were loading, before the program
# was registered with the session: those frees are in the trace, their
# mallocs cannot be.  Convert counts them ("at exit:") and drops them.
if grep -q '^  at exit: ' "$OUT/convert.txt"; then
    note "(The frees \"at exit\" are not the program's: when it exits, liblttng-ust
frees the tracepoint tables it allocated while the libraries were loading,
before the recording could start. Convert drops them.)"
fi
echo
show "$B/hakmem-replay info $OUT/demo.hkr"
"$B/hakmem-replay" info "$OUT/demo.hkr" || die "info failed"

printf '\n%s\n\n' "Now two serial replays under hakmem: the recorded global order exactly, each
call on its own replay thread, one at a time. The replayer pins hakmem's arena
base, so both runs get the same addresses: the fingerprint (a hash of every
address returned) must be the same."
show "LD_PRELOAD=$B/libhakmem.so $B/hakmem-replay run --serial $OUT/demo.hkr"
LD_PRELOAD="$B/libhakmem.so" "$B/hakmem-replay" run --serial "$OUT/demo.hkr" >"$OUT/serial1.txt" ||
    { cat "$OUT/serial1.txt"; die "serial replay 1 failed"; }
cat "$OUT/serial1.txt"
echo
show "LD_PRELOAD=$B/libhakmem.so $B/hakmem-replay run --serial $OUT/demo.hkr   # again"
LD_PRELOAD="$B/libhakmem.so" "$B/hakmem-replay" run --serial "$OUT/demo.hkr" >"$OUT/serial2.txt" ||
    { cat "$OUT/serial2.txt"; die "serial replay 2 failed"; }
grep -E '^(seconds|fingerprint):' "$OUT/serial2.txt"
fp1=$(field fingerprint "$OUT/serial1.txt")
fp2=$(field fingerprint "$OUT/serial2.txt")
[ -n "$fp1" ] || die "the serial replay printed no fingerprint"
if [ "$fp1" != "$fp2" ]; then
    die "the two serial replays differ: fingerprint $fp1 then $fp2 (hakmem is not deterministic here)"
fi
printf '\n%sfingerprints match: %s = %s%s (the same %s allocator calls got the same addresses)\n' \
    "$BOLD" "$fp1" "$fp2" "$OFF" "$(field ops "$OUT/serial1.txt")"

printf '\n%s\n\n' "The same file under another allocator: run calls the plain malloc API, so
LD_PRELOAD chooses. Default (threaded) mode: one thread per recorded thread, each
replaying its own calls at full speed; five runs under hakmem, then five under
jemalloc, and the median of each."
show "LD_PRELOAD=$B/libhakmem.so $B/hakmem-replay run $OUT/demo.hkr      # x5"
show "LD_PRELOAD=$JEMALLOC $B/hakmem-replay run $OUT/demo.hkr   # x5"
for a in hakmem jemalloc; do
    [ $a = hakmem ] && lib=$B/libhakmem.so || lib=$JEMALLOC
    for i in 1 2 3 4 5; do
        LD_PRELOAD="$lib" "$B/hakmem-replay" run "$OUT/demo.hkr" >"$OUT/threaded-$a-$i.txt" ||
            { cat "$OUT/threaded-$a-$i.txt"; die "threaded replay under $a failed"; }
    done
done
median() { sort -n | sed -n 3p; }   # of 5 values
printf '\n%-10s %12s %14s %16s\n' allocator seconds ops/s "peak RSS KiB"
for a in hakmem jemalloc; do
    printf '%-10s %12s %14s %16s\n' "$a" \
        "$(for i in 1 2 3 4 5; do field seconds "$OUT/threaded-$a-$i.txt"; done | median)" \
        "$(for i in 1 2 3 4 5; do field 'ops\/s' "$OUT/threaded-$a-$i.txt"; done | median)" \
        "$(for i in 1 2 3 4 5; do field 'peak RSS' "$OUT/threaded-$a-$i.txt" | cut -d' ' -f1; done | median)"
done
note "(About 300,000 calls are replayed in a few milliseconds, so these figures move
from run to run; for a real comparison replay a longer trace with run --compare,
or run make bench.)"

# ---------------------------------------------------------------------------
step "5. hakmem-lockstat: which of hakmem's locks were taken, contended, and where" \
"Every lock inside hakmem is named and instrumented; the trace of step 3 has an
event per acquisition and release (hakmem-trace records every hakmem event by
default, lock events included). Per lock: acquisitions, how many had to wait,
wait and hold times, owner switches; under each lock the call sites that took
it (waiters) and held it (holders), symbolized with the trace's statedump."
show "$B/hakmem-lockstat --top 2 --vpid $pid $OUT/trace"
"$B/hakmem-lockstat" --top 2 --vpid "$pid" "$OUT/trace" || die "hakmem-lockstat failed"
note "How to read it: the locks are only on slow paths (new slabs, pool segments,
thread start and exit, big buffers), so a few hundred acquisitions among some
300,000 malloc/free calls is the expected picture; CONT% is the share that
waited. A lock with real contention would show it in WAIT-TOTAL and name the
holder sites that caused it (BLOCKED). See docs/howto-locks.md."

# ---------------------------------------------------------------------------
end=$(date +%s)
step "Where the files are, and what to try next" \
"Files in $OUT/:
  trace/                  the LTTng trace (babeltrace2 $OUT/trace | less)
  capture.txt             hakmem-trace's report
  demo.hkr                the replay file
  convert.log             convert's warnings
  serial1.txt, serial2.txt, threaded-ALLOCATOR-N.txt: the replays' outputs

Try:
  LD_PRELOAD=$(cd "$B" && pwd)/libhakmem.so python3 -c 'print(sum(range(10**6)))'
  $B/hakmem-top -p PID                # a program of yours, started with that LD_PRELOAD
  $B/hakmem-trace stat --threads $OUT/trace
  $B/hakmem-replay dump --count 10 $OUT/demo.hkr
  LD_PRELOAD=$B/libhakmem.so $B/hakmem-replay run --check $OUT/demo.hkr
  $B/hakmem-replay run --compare $OUT/demo.hkr      # every installed allocator
  $B/hakmem-lockstat -p PID           # live lock counters of a running program

Read: README.md, docs/howto-replay.md (reproducing a crash step by step),
docs/howto-capture.md, docs/howto-locks.md, docs/architecture.md; man -l
docs/man/hakmem-top.1 (and hakmem-trace, hakmem-replay, hakmem-lockstat).
make test runs the whole suite; make bench compares with glibc, mimalloc,
jemalloc and tcmalloc.

The demo took $((end - start)) s."
