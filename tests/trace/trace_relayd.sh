#!/bin/sh
# hakmem-trace --url net://127.0.0.1:CTRL:DATA streams the session to an
# lttng-relayd started here on loopback (unique ports); the relay's copy
# is complete (hakmem-trace stat) and holds the workload's events.
. "$(dirname "$0")/lib_trace.sh"
ht_setup
hk_need lttng-relayd ss

RELAY=$HK_TMP/relay
mkdir -p "$RELAY"
RPID=""
cleanup_relayd() {
    if [ -n "$RPID" ]; then
        kill "$RPID" 2>/dev/null
        wait "$RPID" 2>/dev/null
        RPID=""
    fi
}
trap 'cleanup_relayd; rm -rf "$HK_TMP"' EXIT

listening() { ss -ltn 2>/dev/null | grep -q "127.0.0.1:$1 "; }

# Three free ports in a range that depends on our pid; retry on a clash.
tries=0
while :; do
    tries=$((tries + 1))
    [ $tries -le 8 ] || hk_fail "could not start lttng-relayd on free loopback ports"
    base=$((20000 + ($$ * 7 + tries * 997) % 40000))
    P1=$base; P2=$((base + 1)); P3=$((base + 2))
    if listening $P1 || listening $P2 || listening $P3; then continue; fi
    lttng-relayd -C "tcp://127.0.0.1:$P1" -D "tcp://127.0.0.1:$P2" -L "tcp://127.0.0.1:$P3" \
        -o "$RELAY" >"$HK_TMP/relayd.log" 2>&1 &
    RPID=$!
    i=0
    while [ $i -lt 50 ] && kill -0 "$RPID" 2>/dev/null && ! listening $P2; do
        sleep 0.1; i=$((i + 1))
    done
    if kill -0 "$RPID" 2>/dev/null && listening $P1 && listening $P2; then break; fi
    cleanup_relayd
done
echo "ok: lttng-relayd (pid $RPID) on 127.0.0.1:$P1/$P2/$P3"

OUT=$HK_TMP/workload.out
ERR=$HK_TMP/capture.err
timeout -k 5 240 "$HT_TRACE" --url "net://127.0.0.1:$P1:$P2" -- "$HT_WORKLOAD" >"$OUT" 2>"$ERR"
rc=$?
[ $rc -eq 0 ] || { cat "$ERR" >&2; hk_fail "hakmem-trace --url exited $rc"; }
[ "$(ht_kv "$OUT" done)" = 1 ] || hk_fail "the workload did not finish"
grep -q "trace streamed to net://127.0.0.1:$P1:$P2" "$ERR" || { cat "$ERR" >&2; hk_fail "no streaming report"; }
grep -q '^hakmem-trace: events discarded: 0$' "$ERR" || { cat "$ERR" >&2; hk_fail "loss reported"; }
session=$(sed -n 's/.*, session \(hakmem-trace-[0-9a-f-]*\) .*/\1/p' "$ERR")
[ -n "$session" ] || hk_fail "no session name in the report"

# Stop the relay so that every stream file is closed, then read its copy.
cleanup_relayd
dir=$(find "$RELAY" -maxdepth 2 -type d -name "$session-*" | head -n 1)
[ -n "$dir" ] || { find "$RELAY" -maxdepth 3 >&2; hk_fail "the relay has no directory for $session"; }
"$HT_TRACE" stat "$dir" >"$HK_TMP/stat.txt" 2>&1 ||
    { cat "$HK_TMP/stat.txt" >&2; hk_fail "the relay's trace is incomplete or unreadable"; }
n=$(awk '$1 == "hakmem:malloc" { print $2 }' "$HK_TMP/stat.txt")
calls=$(ht_kv "$OUT" counted_calls)
[ -n "$n" ] && [ "$n" -gt "$calls" ] || hk_fail "the relay's trace has '$n' malloc events"
ht_bt "$dir" "$HK_TMP/bt.txt"
grep -q "vpid = $(ht_kv "$OUT" child_pid)," "$HK_TMP/bt.txt" || hk_fail "the forked child's events did not reach the relay"
echo "ok: relay copy complete: $(sed -n 's/^events recorded: //p' "$HK_TMP/stat.txt") events, $n malloc"
