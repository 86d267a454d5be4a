#!/bin/sh
# ThreadSanitizer run of hakmem's multi-threaded tests (`make tsan`).
#
# The allocator cannot be preloaded under TSan (the sanitizer runtime owns
# malloc in a sanitized process), so this build links hakmem's sources
# (src/*.c, compiled with -fsanitize=thread) into each test program, its
# entry points renamed (objcopy) and reached through tests/tsan/tsan_shim.c,
# which keeps away from hakmem the calls it must not see under TSan (before
# TSan's start, inside TSan's thread registration, after a thread's TSan
# state is gone: see the shim).  Everything else the tests allocate is
# hakmem's, and every access hakmem makes to its metadata and to blocks it
# hands between threads is checked.  TSan understands hakmem's atomics and
# its pthread-mutex-based locks, so a report is a missing happens-before
# edge: a real race, or a benign one that should be an atomic access.
# No suppressions.
#
# Builds into build/tsan/ (clang), runs each test with halt_on_error=0 so
# every report is collected, prints one line per distinct race (kind, then
# the top hakmem frame of each access) and a summary; exits 1 if a test
# failed or TSan reported anything.  An RSS bound that fails is reported,
# not counted (TSan's shadow memory breaks them).  Not part of `make test`
# (about 70 s on 2 cores).
#   TSAN_TESTS="test_threads ..."   the tests to run (default below)
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need clang awk objcopy
R=$HAKMEM_ROOT
OUT=$BUILD/tsan
mkdir -p "$OUT/obj" "$OUT/logs" || hk_fail "cannot create $OUT"
TESTS=${TSAN_TESTS:-"test_threads test_thread_churn test_thread_cycles test_remote test_orphan
test_drain test_sharedpool test_fork test_mid_l25"}

STD="-std=gnu11 -D_GNU_SOURCE -DHAKMEM_VERSION=\"tsan\" -Wall -Wextra -g -O1"
# The library's flags (Makefile LIB_CFLAGS) minus -fPIC/-fvisibility (a
# static link into the test), plus TSan.
LIBF="$STD -fsanitize=thread -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-calloc
 -fno-builtin-realloc -fno-builtin-free -fno-omit-frame-pointer -DHAKMEM_TRACE -I$R/src -I$R/include -I$R/trace"
# The entry points of src/api.c are renamed and reached through
# tests/tsan/tsan_shim.c (not instrumented: TSan calls malloc before it
# can run instrumented code; see the shim).
RENAME=""
for f in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc \
         pvalloc malloc_usable_size; do
    RENAME="$RENAME --redefine-sym $f=hkt_$f"
done
rm -rf "$OUT/obj"; mkdir -p "$OUT/obj"
for c in "$R"/src/*.c; do
    o=$OUT/obj/$(basename "$c" .c).o
    clang $LIBF -c "$c" -o "$o" 2>"$OUT/logs/build.log" ||
        hk_fail "cannot compile $c with -fsanitize=thread: $(head -n 3 "$OUT/logs/build.log")"
done
objcopy $RENAME "$OUT/obj/api.o" || hk_fail "objcopy could not rename the entry points of api.o"
clang $STD -O2 -c "$R/tests/tsan/tsan_shim.c" -o "$OUT/obj/tsan_shim.o" 2>"$OUT/logs/build.log" ||
    hk_fail "cannot compile the shim: $(head -n 3 "$OUT/logs/build.log")"

fails=0; reports=0; ran=0; rssonly=0
: >"$OUT/races.txt"
for t in $TESTS; do
    src=$R/tests/unit/$t.c
    [ -f "$src" ] || hk_fail "$src does not exist"
    clang $STD -fsanitize=thread -fno-omit-frame-pointer -I"$R/include" -I"$R/trace" -I"$R/tests/unit" \
        -pthread -o "$OUT/$t" "$src" "$OUT"/obj/*.o -lm -ldl 2>"$OUT/logs/$t.build.log" ||
        hk_fail "cannot build $t with -fsanitize=thread: $(head -n 3 "$OUT/logs/$t.build.log")"
    log=$OUT/logs/$t.log
    s=$(date +%s)
    TSAN_OPTIONS="halt_on_error=0 exitcode=0 second_deadlock_stack=1 history_size=4 $TSAN_EXTRA" \
        timeout -k 10 1200 "$OUT/$t" >"$log" 2>&1 </dev/null
    rc=$?
    ran=$((ran + 1))
    n=$(grep -c '^WARNING: ThreadSanitizer' "$log")
    reports=$((reports + n))
    printf '%-22s exit %-3d %3d TSan reports  %4ds\n' "$t" "$rc" "$n" $(( $(date +%s) - s ))
    if [ $rc -ne 0 ]; then
        # An RSS bound cannot hold under TSan (shadow memory is several
        # times the application's, and it keeps per-thread history):
        # such a failure is reported, not counted.
        if [ $rc -eq 1 ] && grep '^FAIL ' "$log" | grep -q 'RSS'; then
            rssonly=$((rssonly + 1))
            echo "    (only its RSS bound failed, which TSan's own memory breaks: $(grep -m 1 '^FAIL ' "$log" | cut -c1-160))"
        else
            fails=$((fails + 1))
            grep -v '^ *#' "$log" | tail -n 5 | sed 's/^/    | /'
        fi
    fi
    # One line per report: kind, then the first frame of each access that
    # is in hakmem's sources (or the first frame at all).
    awk -v t="$t" '
        /^WARNING: ThreadSanitizer:/ { if (kind != "") emit(); kind = $0; sub(/^WARNING: ThreadSanitizer: /, "", kind); sub(/ \(pid=.*/, "", kind); na = 0; want = 0; next }
        /^  (Write|Read|Atomic|Previous|Mutex|Location)/ { want = 1; hdr = $1 " " $2; next }
        want && /^    #[0-9]+ / {
            fr = $0; sub(/^    #[0-9]+ /, "", fr); sub(/ \(.*\)$/, "", fr); sub(/ \/[^ ]*\/src\//, " src/", fr); sub(/ \/[^ ]*\/tests\//, " tests/", fr)
            if (fr ~ / src\// || fr ~ / tests\//) { acc[na++] = hdr ": " fr; want = 0 }
            next }
        /^SUMMARY/ { emit(); kind = "" }
        function emit() { if (kind == "") return; line = t ": " kind; for (i = 0; i < na; i++) line = line " | " acc[i]; print line; kind = "" }
    ' "$log" >>"$OUT/races.txt"
done
echo
if [ -s "$OUT/races.txt" ]; then
    echo "distinct TSan reports (test: kind | access: top hakmem frame), logs in $OUT/logs:"
    sort "$OUT/races.txt" | uniq -c | sort -rn | sed 's/^/  /'
fi
echo "tsan: $ran tests, $fails failed, $rssonly failed only an RSS bound, $reports TSan reports"
[ $fails -eq 0 ] && [ $reports -eq 0 ]
