#!/bin/sh
# hakmem-trace's command line: --help/--version, usage errors (exit 2),
# user errors (exit 1, one clear line, never a hang), CMD's exit status
# passed through (127 when it cannot run, 128+N when killed by signal N),
# --events replay|boxes record exactly their set, the default output
# directory (named as --help says), the summary's count column (aligned
# even for event names of 30 characters and more), and bad trace
# directories for `stat` (missing, no trace, corrupt metadata, truncated
# stream).
. "$(dirname "$0")/lib_trace.sh"
ht_setup

expect() { # status description command...
    want=$1; what=$2; shift 2
    timeout -k 5 60 "$@" >"$HK_TMP/o" 2>"$HK_TMP/e"
    got=$?
    [ $got -eq "$want" ] || { cat "$HK_TMP/o" "$HK_TMP/e" >&2; hk_fail "$what: exit $got, expected $want"; }
}
has() { grep -q -- "$1" "$HK_TMP/e" "$HK_TMP/o" || { cat "$HK_TMP/e" >&2; hk_fail "no '$1' in the output of: $2"; }; }

expect 0 "--version" "$HT_TRACE" --version; has '^hakmem-trace [0-9]' --version
expect 0 "--help" "$HT_TRACE" --help; has '^usage: hakmem-trace' --help
expect 2 "no command" "$HT_TRACE"; has 'no command to run' "no command"
expect 2 "bad --events" "$HT_TRACE" --events bogus -- true; has 'replay, boxes or all' "bad --events"
expect 2 "-o with --url" "$HT_TRACE" -o "$HK_TMP/x" --url net://127.0.0.1 -- true
expect 2 "bad --url" "$HT_TRACE" --url http://127.0.0.1 -- true; has 'net://' "bad --url"
expect 2 "unknown option" "$HT_TRACE" --frobnicate -- true
expect 2 "stat without dir" "$HT_TRACE" stat
expect 2 "stat with two dirs" "$HT_TRACE" stat a b
echo "ok: help, version and usage errors"

mkdir -p "$HK_TMP/full" && touch "$HK_TMP/full/f"
expect 1 "non-empty -o" "$HT_TRACE" -o "$HK_TMP/full" -- true; has 'not empty' "non-empty -o"
expect 1 "stat missing dir" "$HT_TRACE" stat "$HK_TMP/nope"; has 'No such file' "stat missing"
mkdir -p "$HK_TMP/empty"
expect 1 "stat without trace" "$HT_TRACE" stat "$HK_TMP/empty"; has 'no LTTng trace below it' "stat empty"
echo "ok: user errors"

# CMD's status, exec failure, signal.
expect 7 "exit 7" "$HT_TRACE" -o "$HK_TMP/t7" -- sh -c 'exit 7'
has "trace: $HK_TMP/t7" "exit 7"
expect 127 "missing command" "$HT_TRACE" -o "$HK_TMP/t127" -- "$HK_TMP/no-such-program"
has "cannot run" "missing command"
expect 143 "killed command" "$HT_TRACE" -o "$HK_TMP/t143" -- sh -c 'kill -TERM $$'
has 'killed by signal 15' "killed command"
echo "ok: exit status of CMD passed through (7, 127, 143)"

# A closed output pipe or a SIGTERM must not leave the session behind.
"$HT_TRACE" -v -o "$HK_TMP/tp" -- true 2>&1 | sed -n "/ create /{p;q}" >"$HK_TMP/head"
name=$(sed -n 's/.* create \(hakmem-trace-[0-9a-f-]*\) .*/\1/p' "$HK_TMP/head")
[ -n "$name" ] || { cat "$HK_TMP/head" >&2; hk_fail "-v did not show the session name"; }
if lttng list 2>/dev/null | grep -q "$name"; then
    hk_fail "session $name left behind after the output pipe closed"
fi
"$HT_TRACE" -o "$HK_TMP/ts" -- sleep 60 >/dev/null 2>"$HK_TMP/ts.err" &
tpid=$!
i=0
while [ $i -lt 100 ] && ! lttng list 2>/dev/null | grep -q "hakmem-trace-$tpid-.*active"; do
    sleep 0.1; i=$((i + 1))
done
lttng list 2>/dev/null | grep -q "hakmem-trace-$tpid-" || hk_fail "capture session of pid $tpid never appeared"
sleep 0.5
kill -TERM "$tpid"
wait "$tpid"
rc=$?
[ $rc -eq 143 ] || { cat "$HK_TMP/ts.err" >&2; hk_fail "SIGTERM during the capture: exit $rc, expected 143"; }
if lttng list 2>/dev/null | grep -q "hakmem-trace-$tpid-"; then
    hk_fail "session left behind after SIGTERM"
fi
echo "ok: no session left behind (closed pipe, SIGTERM forwarded to CMD)"

# Event sets.
replay='^  hakmem:\(malloc\|free\|calloc\|realloc\|memalign\|thread_start\|thread_exit\) '
# One process (sh execs ls).  Each set is numbered by itself, so other
# sessions on the shared daemon recording other events cannot make gaps
# here (tests/trace/trace_seq_sets.sh).
capture_set() { # set dir
    expect 0 "--events $1" "$HT_TRACE" --events "$1" -o "$2" -- sh -c 'echo $$; exec ls / >/dev/null'
}
capture_set replay "$HK_TMP/tr"
grep '^  hakmem:' "$HK_TMP/e" >"$HK_TMP/names"
grep -q '^  hakmem:malloc ' "$HK_TMP/names" || hk_fail "--events replay recorded no malloc"
if grep -v "$replay" "$HK_TMP/names" | grep -q .; then
    cat "$HK_TMP/names" >&2; hk_fail "--events replay recorded other events"
fi
capture_set boxes "$HK_TMP/tb"
grep '^  hakmem:' "$HK_TMP/e" >"$HK_TMP/names"
grep -q . "$HK_TMP/names" || hk_fail "--events boxes recorded nothing"
if grep -q "$replay" "$HK_TMP/names"; then
    cat "$HK_TMP/names" >&2; hk_fail "--events boxes recorded replay events"
fi
echo "ok: --events replay and boxes record their sets"

# The summary's table: one column of counts, also with an event name of 30
# characters (lttng_ust_statedump:debug_link: a program with a
# .gnu_debuglink section) and in `stat`.
hk_need objcopy
printf 'debug' >"$HK_TMP/dl.debug"
objcopy --remove-section=.gnu_debuglink --add-gnu-debuglink="$HK_TMP/dl.debug" \
    "$(command -v ls)" "$HK_TMP/ls-dl" 2>"$HK_TMP/objcopy.err" ||
    hk_fail "objcopy: $(head -n 2 "$HK_TMP/objcopy.err")"
expect 0 "capture of a program with a debug link" "$HT_TRACE" -o "$HK_TMP/tl" -- "$HK_TMP/ls-dl" /
"$HT_TRACE" stat "$HK_TMP/tl" >"$HK_TMP/tl.stat" 2>&1 || hk_fail "stat of $HK_TMP/tl failed"
for f in "$HK_TMP/e" "$HK_TMP/tl.stat"; do
    table=$(sed -n '/^events recorded: /,/^threads: /p' "$f" | sed '1d;$d')
    echo "$table" | grep -q '^  lttng_ust_statedump:debug_link  *[0-9][0-9]*$' ||
        { cat "$f" >&2; hk_fail "no lttng_ust_statedump:debug_link row in the summary"; }
    ends=$(echo "$table" | awk '{ print length($0) }' | sort -u | tr '\n' ' ')
    [ "$ends" = "$(echo "$table" | head -n 1 | awk '{ print length($0) }') " ] ||
        { echo "$table" >&2; hk_fail "the count column is not aligned (line lengths $ends)"; }
done
echo "ok: the count column is aligned on the longest event name"

# Default output directory: ./hakmem-trace-DATE-TIME-PID (local time),
# mode 0700, as --help and the man page say.
mkdir -p "$HK_TMP/cwd"
(cd "$HK_TMP/cwd" && expect 0 "default -o" "$HT_TRACE" -- true) || exit 1
d=$(ls -d "$HK_TMP"/cwd/hakmem-trace-* 2>/dev/null | head -n 1)
[ -n "$d" ] || hk_fail "no default trace directory created"
[ "$(stat -c %a "$d")" = 700 ] || hk_fail "default trace directory mode $(stat -c %a "$d")"
b=$(basename "$d")
echo "$b" | grep -Eq '^hakmem-trace-20[0-9]{6}-[0-2][0-9][0-5][0-9][0-6][0-9]-[0-9]+$' ||
    hk_fail "default trace directory '$b' is not hakmem-trace-DATE-TIME-PID"
"$HT_TRACE" --help >"$HK_TMP/help"
grep -q '\./hakmem-trace-DATE-TIME-PID' "$HK_TMP/help" && ! grep -q 'DATE-PID' "$HK_TMP/help" ||
    hk_fail "--help does not name the default directory ./hakmem-trace-DATE-TIME-PID"
grep -q 'hakmem-trace-DATE-TIME-PID' "$HAKMEM_ROOT/docs/man/hakmem-trace.1" ||
    hk_fail "the man page does not name the default directory hakmem-trace-DATE-TIME-PID"
echo "ok: default trace directory $b (0700), as documented"

# Damaged traces: clear errors, no hang (babeltrace 2.0.4 loops forever on
# some corrupt metadata; the reader checks it first).
M=$(find "$HK_TMP/tr" -name metadata | head -n 1)
[ -n "$M" ] || hk_fail "no metadata file in $HK_TMP/tr"
mdir=$(dirname "$M")
cp -r "$HK_TMP/tr" "$HK_TMP/c1"; m1=$HK_TMP/c1${M#"$HK_TMP/tr"}
head -c 3000 "$M" >"$m1"; echo 'event { junk ;; };' >>"$m1"
expect 1 "truncated metadata" "$HT_TRACE" stat "$HK_TMP/c1"; has 'corrupt metadata' "truncated metadata"
cp -r "$HK_TMP/tr" "$HK_TMP/c2"; m2=$HK_TMP/c2${M#"$HK_TMP/tr"}
printf 'hello, world\n' >"$m2"
expect 1 "garbage metadata" "$HT_TRACE" stat "$HK_TMP/c2"; has 'not CTF metadata' "garbage metadata"
cp -r "$HK_TMP/tr" "$HK_TMP/c3"
s=$(find "$HK_TMP/c3" -path '*/64-bit/*_0' -type f | head -n 1)
[ -n "$s" ] || s=$(find "$HK_TMP/c3${mdir#"$HK_TMP/tr"}" -maxdepth 1 -type f ! -name metadata | head -n 1)
[ -n "$s" ] || hk_fail "no stream file in the trace"
truncate -s 100 "$s"
expect 1 "truncated stream" "$HT_TRACE" stat "$HK_TMP/c3"; has 'cannot read trace' "truncated stream"
echo "ok: damaged traces get one-line errors"
