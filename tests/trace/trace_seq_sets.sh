#!/bin/sh
# hakmem numbers the replay set and the other (box and lock) events in two
# per-thread sequences (src/tp.c), and the reader checks each by itself
# (trace/reader.h).  LTTng enables an event in every registered program
# as soon as any session enables it, so:
#   - an `--events replay` capture while a session of our own records the
#     box events (loglevel DEBUG only) of the same command: the box events
#     are emitted in the command (our session holds them), yet the capture
#     exits 0 with no sequence gap, `hakmem-replay convert` accepts it, and
#     our session's box sequence is gap-free too;
#   - the same the other way round: `--events boxes` beside a session of
#     the replay set (loglevel INFO only);
#   - real loss is still found: an `--events all` capture with tiny buffers
#     and no LTTNG_UST_ALLOW_BLOCKING in the program (so the ring buffer
#     discards) exits 3 and reports gaps in both sequences; babeltrace2's
#     text, checked by awk, confirms that both sets lost events.
# Our sessions track the command's pid only (the command waits on a FIFO
# until the session is set up), so other captures on the shared daemon
# never see their events.
. "$(dirname "$0")/lib_trace.sh"
ht_setup
hk_need mkfifo
HT_REPLAY=$BUILD/hakmem-replay
[ -x "$HT_REPLAY" ] || hk_fail "$HT_REPLAY does not exist (run make first)"

S=""
gt=""
finish() {
    [ -n "$gt" ] && { kill "$gt" 2>/dev/null; wait "$gt" 2>/dev/null; }
    [ -n "$S" ] && lttng destroy "$S" >/dev/null 2>&1
    ht_stop_sessiond
    rm -rf "$HK_TMP"
}
trap finish EXIT
ht_start_sessiond

# beside SET LOGLEVEL: capture `--events SET` of `sh` (which waits for the
# go, then execs ls) into $HK_TMP/SET.cap while a session of ours records
# every hakmem event of loglevel LOGLEVEL exactly (the other set) of the
# same process into $HK_TMP/SET.own.  Sets $rc (the capture's status).
beside() {
    set_=$1; level=$2
    cap=$HK_TMP/$set_.cap; own=$HK_TMP/$set_.own
    rm -f "$HK_TMP/gpid" "$HK_TMP/go"
    mkfifo "$HK_TMP/go" || hk_fail "mkfifo failed"
    timeout -k 5 60 "$HT_TRACE" --events "$set_" -o "$cap" -- \
        sh -c 'echo $$ >"$1.tmp"; mv "$1.tmp" "$1"; read -r x <"$2"; exec ls -R /etc >/dev/null' sh \
        "$HK_TMP/gpid" "$HK_TMP/go" >"$cap.out" 2>"$cap.err" &
    gt=$!
    i=0
    while [ $i -lt 150 ] && [ ! -s "$HK_TMP/gpid" ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$HK_TMP/gpid" ] || { cat "$cap.err" >&2; hk_fail "--events $set_: the command never started"; }
    S=hakmem-seqsets-test-$$-$(date +%s%N)
    { lttng create "$S" --output="$own" &&
      lttng enable-channel --userspace --session="$S" --blocking-timeout=inf own &&
      lttng add-context --userspace --session="$S" --channel=own --type=vpid --type=vtid &&
      lttng track --userspace --session="$S" --vpid="$(cat "$HK_TMP/gpid")" &&
      lttng enable-event --userspace --session="$S" --channel=own 'hakmem:*' \
          --loglevel-only="$level" &&
      lttng start "$S"; } >"$HK_TMP/lttng.log" 2>&1 ||
        hk_fail "lttng: $(cat "$HK_TMP/lttng.log")"
    echo go >"$HK_TMP/go"
    wait $gt
    rc=$?
    gt=""
    lttng stop "$S" >/dev/null 2>&1 || hk_fail "lttng stop $S failed"
    lttng destroy "$S" >/dev/null 2>&1 || hk_fail "lttng destroy $S failed"
    S=""
}

# own_check SET WANT: our session's trace holds WANT events (a regex of
# names) of the command's process and nothing else of hakmem, and its
# sequence is complete.
own_check() {
    own=$HK_TMP/$1.own
    ht_bt "$own" "$own.txt"
    n=$(grep -c " hakmem:$2: " "$own.txt")
    [ "$n" -gt 0 ] || { head -n 5 "$own.txt" >&2; hk_fail "our session recorded no $2 event of the command beside --events $1"; }
    if grep ' hakmem:' "$own.txt" | grep -v " hakmem:$2: " | grep -q .; then
        grep ' hakmem:' "$own.txt" | grep -v " hakmem:$2: " | head -n 3 >&2
        hk_fail "our session recorded events outside its set"
    fi
    "$HT_TRACE" stat "$own" >"$own.stat" 2>&1 ||
        { cat "$own.stat" >&2; hk_fail "stat of our session's trace (beside --events $1): not complete"; }
    echo "$n"
}

# cap_check SET OTHER EVENT: the --events SET capture ($cap, status $rc) run
# beside a session of OTHER exited 0, lost nothing and recorded EVENT.
cap_check() {
    [ $rc -eq 0 ] || { cat "$cap.err" >&2; hk_fail "--events $1 beside a session of $2: exit $rc, expected 0"; }
    grep -q '^hakmem-trace: no events lost$' "$cap.err" || { cat "$cap.err" >&2; hk_fail "--events $1: loss reported"; }
    grep -q '^sequence gaps: 0 ' "$cap.err" || { cat "$cap.err" >&2; hk_fail "--events $1: sequence gaps"; }
    grep -q "^  hakmem:$3 " "$cap.err" || hk_fail "--events $1 recorded no $3"
}

# The replay set beside a session of the box events (DEBUG).
beside replay DEBUG
cap=$HK_TMP/replay.cap
cap_check replay "the box events" malloc
boxes='\(ultrahot_[a-z]*\|sll_[a-z]*\|sp_[a-z]*\|ss_[a-z]*\|lru_[a-z]*\|remote_[a-z]*\|slab_[a-z]*\|mid_refill\|l25_refill\|large_[a-z]*\|bigcache_[a-z]*\|lock_[a-z]*\)'
nb=$(own_check replay "$boxes") || exit 1
"$HT_REPLAY" convert "$cap" -o "$HK_TMP/replay.hkr" >"$HK_TMP/convert.out" 2>&1 ||
    { cat "$HK_TMP/convert.out" >&2; hk_fail "hakmem-replay convert refused the --events replay capture"; }
echo "ok: --events replay beside a session of the box events: exit 0, no gap, convert accepts it ($nb box events emitted meanwhile, gap-free in their own session)"

# The box events beside a session of the replay set (INFO).
beside boxes INFO
cap=$HK_TMP/boxes.cap
cap_check boxes "the replay set" sll_refill
nr=$(own_check boxes '\(malloc\|free\|calloc\|realloc\|memalign\|thread_start\|thread_exit\)') || exit 1
echo "ok: --events boxes beside a session of the replay set: exit 0, no gap ($nr replay events emitted meanwhile, gap-free in their own session)"

# Real loss, --events all: 2 sub-buffers of 4 KiB per CPU, and the program
# may not block (env drops LTTNG_UST_ALLOW_BLOCKING), so it discards.
L=$HK_TMP/lossy
timeout -k 5 120 "$HT_TRACE" --events all --subbuf-size 4096 --num-subbuf 2 -o "$L" -- \
    env -u LTTNG_UST_ALLOW_BLOCKING "$HT_WORKLOAD" >"$L.out" 2>"$L.err"
rc=$?
[ $rc -eq 3 ] || { cat "$L.err" >&2; hk_fail "--events all with a lossy buffer: exit $rc, expected 3"; }
grep -q 'WARNING: THE TRACE IS INCOMPLETE' "$L.err" || { cat "$L.err" >&2; hk_fail "no INCOMPLETE warning"; }
"$HT_TRACE" stat "$L" >"$L.stat" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$L.stat" >&2; hk_fail "stat of the lossy trace: exit $rc, expected 3"; }
grep -q '^GAP: thread vpid [0-9]* vtid [0-9]* lost [0-9]* \(replay\|box\) events (seq ' "$L.stat" ||
    { cat "$L.stat" >&2; hk_fail "no per-thread sequence gap report"; }
for k in 'replay set' 'box events'; do
    g=$(sed -n "s/^  $k: \([0-9]*\) gaps .*/\1/p" "$L.stat")
    [ -n "$g" ] && [ "$g" -gt 0 ] || { cat "$L.stat" >&2; hk_fail "stat found no gap in the $k"; }
done
# babeltrace2's view: jumps per (vpid, vtid, set); a seq of 0 starts over.
ht_bt "$L" "$L.txt"
awk '
    {
        name = ""
        for (i = 1; i <= NF; i++)
            if ($i ~ /^hakmem:[a-z_0-9]+:$/) { name = substr($i, 8, length($i) - 8); break }
        if (name == "" || !match($0, /vpid = [0-9]+, vtid = [0-9]+/)) next
        id = substr($0, RSTART, RLENGTH)
        if (!match($0, /seq = [0-9]+/)) next
        s = substr($0, RSTART + 6, RLENGTH - 6) + 0
        set = name ~ /^(malloc|free|calloc|realloc|memalign|thread_start|thread_exit)$/ ? "replay" : "box"
        key = id "/" set
        if ((key in last) && s != 0 && s != last[key] + 1) gaps[set]++
        last[key] = s
    }
    END { printf "%d %d\n", gaps["replay"], gaps["box"] }' "$L.txt" >"$L.awk" || hk_fail "awk failed"
read -r ar ab <"$L.awk"
[ "$ar" -gt 0 ] && [ "$ab" -gt 0 ] ||
    hk_fail "babeltrace2 shows $ar replay-set and $ab box-event gaps: the buffer did not lose both (test setup)"
echo "ok: --events all with a lossy buffer: exit 3, $(sed -n 's/^sequence gaps: //p' "$L.stat"); $(sed -n 's/^  replay set: //p' "$L.stat") in the replay set, $(sed -n 's/^  box events: //p' "$L.stat") in the box events (babeltrace2: $ar and $ab jumps)"
