#!/bin/sh
# hakmem-trace records its command and every descendant, and nothing else,
# although the session daemon is shared (root: the system's): while other
# traced programs run on the same daemon (a loop of preloaded `ls`, each
# writing its pid), capture `make -j2` (a shell that execs make; recipes
# that exec ls, and one that forks ls in the background) and check:
#   - the trace holds exactly the processes of the command's tree (every
#     one of them: descendants are captured) and none of the others;
#   - the others were traced meanwhile: a session of our own, by hand and
#     without a filter, over the same time, holds some of them;
#   - the capture is complete (exit 0, nothing lost);
#   - a command that never registers (a static program) while the others
#     run is reported as "no events were recorded".
# Without the right to create a time namespace (a normal user) hakmem-trace
# cannot isolate: then it must say so, and it records the others too.
. "$(dirname "$0")/lib_trace.sh"
ht_setup
hk_need make unshare cc
printf '#include <unistd.h>\nint main(void) { return sleep(1); }\n' >"$HK_TMP/static_sleep.c"
cc -static -o "$HK_TMP/static_sleep" "$HK_TMP/static_sleep.c" >"$HK_TMP/cc.log" 2>&1 ||
    hk_fail "cannot build a static program: $(head -n 3 "$HK_TMP/cc.log")"

S=hakmem-isolation-test-$$-$(date +%s%N)
created=0
loop_pid=""
finish() {
    [ -n "$loop_pid" ] && { touch "$HK_TMP/stop"; wait "$loop_pid" 2>/dev/null; }
    [ $created = 1 ] && lttng destroy "$S" >/dev/null 2>&1
    ht_stop_sessiond
    rm -rf "$HK_TMP"
}
trap finish EXIT

isolated=0
unshare --time true 2>/dev/null && isolated=1

# The by-hand session: every process, no filter.
ht_start_sessiond
ht_session "$S" "$HK_TMP/all" all "--blocking-timeout=inf" "hakmem:malloc,hakmem:free"

# The other traced programs.
F=$HK_TMP/foreign.pids
: >"$F"
(
    export LD_PRELOAD="$BUILD/libhakmem.so $BUILD/libhakmem-tp.so"
    export LTTNG_UST_REGISTER_TIMEOUT=-1 LTTNG_UST_ALLOW_BLOCKING=1
    i=0
    while [ ! -e "$HK_TMP/stop" ] && [ $i -lt 3000 ]; do
        sh -c 'echo $$ >>"$1"; exec ls / >/dev/null' sh "$F"
        i=$((i + 1))
    done
) &
loop_pid=$!
i=0
while [ $i -lt 100 ] && [ "$(wc -l <"$F")" -lt 3 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(wc -l <"$F")" -ge 3 ] || hk_fail "the other traced programs do not run"

# The command: make -j2 and its recipes; every process prints its pid.
mkdir -p "$HK_TMP/mk"
printf 'all: a b c\na:\n\t@echo a=$$$$; exec ls / >/dev/null\nb:\n\t@echo b=$$$$; exec ls / >/dev/null\nc:\n\t@echo c=$$$$; ls / >/dev/null & echo c_bg=$$!; wait\n' \
    >"$HK_TMP/mk/Makefile"
echo begin >>"$F"
timeout -k 5 120 "$HT_TRACE" -o "$HK_TMP/t" -- \
    sh -c 'echo top=$$; exec make -s --no-print-directory -j2 -C "$1"' sh "$HK_TMP/mk" \
    >"$HK_TMP/out" 2>"$HK_TMP/err"
rc=$?
echo end >>"$F"
# A command that never registers (a static program) while the others run:
# our session gets buffers for them but no event, which is "nothing
# recorded", not a trace.
timeout -k 5 60 "$HT_TRACE" -o "$HK_TMP/none" -- "$HK_TMP/static_sleep" >"$HK_TMP/none.out" 2>"$HK_TMP/none.err"
rc_none=$?
touch "$HK_TMP/stop"
wait "$loop_pid"
loop_pid=""
lttng stop "$S" >/dev/null 2>&1 || hk_fail "lttng stop failed"
lttng destroy "$S" >/dev/null 2>&1 || hk_fail "lttng destroy failed"
created=0

[ $rc -eq 0 ] || { cat "$HK_TMP/out" "$HK_TMP/err" >&2; hk_fail "hakmem-trace exited $rc"; }
grep -q '^hakmem-trace: no events lost$' "$HK_TMP/err" || { cat "$HK_TMP/err" >&2; hk_fail "the capture reports loss"; }
sed -n 's/^[a-z_]*=\([0-9][0-9]*\)$/\1/p' "$HK_TMP/out" | sort -u >"$HK_TMP/ours"
[ "$(wc -l <"$HK_TMP/ours")" -eq 5 ] || { cat "$HK_TMP/out" >&2; hk_fail "the command did not print its 5 pids"; }
sed -n '/^begin$/,/^end$/p' "$F" | grep -v -e begin -e end | sort -u >"$HK_TMP/during"
[ -s "$HK_TMP/during" ] || hk_fail "no other traced program ran during the capture"

"$HT_TRACE" stat --threads "$HK_TMP/t" >"$HK_TMP/stat" 2>&1 || { cat "$HK_TMP/stat" >&2; hk_fail "stat of the capture failed"; }
awk 'NF == 9 && $1 ~ /^[0-9]+$/ { print $1 }' "$HK_TMP/stat" | sort -u >"$HK_TMP/recorded"
ht_bt "$HK_TMP/all" "$HK_TMP/all.txt"
sed -n 's/.* vpid = \([0-9]*\),.*/\1/p' "$HK_TMP/all.txt" | sort -u >"$HK_TMP/all.vpids"
seen=$(comm -12 "$HK_TMP/during" "$HK_TMP/all.vpids" | wc -l)
[ "$seen" -gt 0 ] || hk_fail "the session without a filter recorded none of the $(wc -l <"$HK_TMP/during") other programs run during the capture"
missing=$(comm -23 "$HK_TMP/ours" "$HK_TMP/recorded" | tr '\n' ' ')
[ -z "$missing" ] || { cat "$HK_TMP/out" "$HK_TMP/stat" >&2; hk_fail "processes of the command's tree not recorded: $missing"; }

if [ $isolated = 1 ]; then
    grep -q 'cannot isolate' "$HK_TMP/err" && { cat "$HK_TMP/err" >&2; hk_fail "hakmem-trace did not isolate its command"; }
    extra=$(comm -13 "$HK_TMP/ours" "$HK_TMP/recorded" | tr '\n' ' ')
    [ -z "$extra" ] || { cat "$HK_TMP/out" "$HK_TMP/stat" >&2; hk_fail "the trace holds processes outside the command's tree: $extra"; }
    [ $rc_none -eq 0 ] || { cat "$HK_TMP/none.err" >&2; hk_fail "capture of a command that never registers: exit $rc_none"; }
    grep -q 'WARNING: no events were recorded: .*static_sleep never registered' "$HK_TMP/none.err" ||
        { cat "$HK_TMP/none.err" >&2; hk_fail "no warning for a command that recorded nothing"; }
    echo "ok: a command that never registers gets the warning (trace directories: $(find "$HK_TMP/none" -name metadata 2>/dev/null | wc -l))"
    echo "ok: the trace holds the command's 5 processes (make -j2, its shells, a background ls) and none of the $(wc -l <"$HK_TMP/during") other traced programs ($seen of them recorded by a session without filter)"
else
    grep -q '^hakmem-trace: note: cannot isolate CMD' "$HK_TMP/err" ||
        { cat "$HK_TMP/err" >&2; hk_fail "hakmem-trace cannot isolate (no time namespace) and does not say so"; }
    [ -n "$(comm -12 "$HK_TMP/during" "$HK_TMP/recorded")" ] ||
        hk_fail "not isolated, yet none of the other programs was recorded"
    echo "ok: without a time namespace, the note is printed and the other programs are recorded too"
fi
