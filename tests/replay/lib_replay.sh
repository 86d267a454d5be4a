# lib_replay.sh - helpers for the hakmem-replay tests (sourced, never run).
#
#   . "$(dirname "$0")/lib_replay.sh"
#   rp_setup                 hk_setup + programs; RP (hakmem-replay), RP_H (the
#                            one to run under LD_PRELOAD), RP_WL (replay_workload),
#                            RP_TRACE (hakmem-trace), RP_JE (jemalloc), a
#                            private LTTNG_HOME
#   rp_capture_libc DIR CMD  record CMD's malloc calls with LTTng's libc
#                            wrapper (lttng_ust_libc:* + vtid/vpid/ip context)
#                            into DIR; CMD's stdout goes to DIR.out
#   rp_run NAME CMD...       run CMD (time limit), stdout+stderr to
#                            $HK_TMP/NAME.out/.err, exit status in $rc
#   rp_kv FILE KEY           value of "KEY: value" (first line) in FILE
#   rp_field FILE KEY        value of KEY=VALUE anywhere in FILE
#
# Sessions are uniquely named and every lttng command names its session.
# As root the lttng client always talks to the system session daemon; a
# daemon is started (and stopped at exit) only when none answers.

. "$(dirname "$0")/../lib.sh"

rp_setup() {
    hk_setup
    hk_need lttng lttng-sessiond babeltrace2 awk sed timeout readelf make
    RP=$BUILD/hakmem-replay
    RP_WL=$BUILD/tests/progs/replay_workload
    RP_TRACE=$BUILD/hakmem-trace
    RP_JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    RP_WRAP=/usr/lib/x86_64-linux-gnu/liblttng-ust-libc-wrapper.so.1
    RP_FORK=/usr/lib/x86_64-linux-gnu/liblttng-ust-fork.so.1
    for f in "$RP" "$RP_WL"; do
        [ -x "$f" ] || hk_fail "$f does not exist (run make first)"
    done
    # RP_H runs under another malloc (LD_PRELOAD).  A DEBUG=1 replayer is
    # built with ASan, whose runtime cannot share a process with another
    # malloc: build a plain one for those runs (make keeps it up to date).
    RP_H=$RP
    if readelf -d "$RP" 2>/dev/null | grep -q 'libasan'; then
        make -s -C "$HAKMEM_ROOT" BUILD="$BUILD/plain" DEBUG=0 "$BUILD/plain/hakmem-replay" \
            >"$HK_TMP/plain.log" 2>&1 || hk_fail "cannot build a plain hakmem-replay: $(tail -n 3 "$HK_TMP/plain.log")"
        RP_H=$BUILD/plain/hakmem-replay
    fi
    LTTNG_HOME=$HK_TMP/lttng-home
    mkdir -p "$LTTNG_HOME"
    export LTTNG_HOME
    RP_SESSIONS=""
    RP_SESSIOND=""
    trap 'rp_cleanup' EXIT
}

rp_cleanup() {
    for rp_s in $RP_SESSIONS; do
        lttng destroy "$rp_s" >/dev/null 2>&1
    done
    if [ -n "$RP_SESSIOND" ]; then
        kill "$RP_SESSIOND" 2>/dev/null
    fi
    rm -rf "$HK_TMP"
}

rp_sessiond() {
    lttng list >/dev/null 2>&1 && return 0
    lttng-sessiond --background --no-kernel >/dev/null 2>&1 ||
        hk_fail "cannot start lttng-sessiond"
    if [ "$(id -u)" = 0 ]; then rp_pidf=/var/run/lttng/lttng-sessiond.pid
    else rp_pidf=$LTTNG_HOME/.lttng/lttng-sessiond.pid; fi
    RP_SESSIOND=$(cat "$rp_pidf" 2>/dev/null)
    lttng list >/dev/null 2>&1 || hk_fail "lttng-sessiond does not answer"
}

rp_capture_libc() { # dir cmd...
    rp_out=$1; shift
    [ -f "$RP_WRAP" ] || hk_fail "$RP_WRAP is missing (package liblttng-ust1)"
    [ -f "$RP_FORK" ] || hk_fail "$RP_FORK is missing (package liblttng-ust1)"
    rp_sessiond
    rp_s=hkreplay-$$-$(date +%s%N)
    RP_SESSIONS="$RP_SESSIONS $rp_s"
    lttng create "$rp_s" -o "$rp_out" >"$HK_TMP/lttng.log" 2>&1 &&
    lttng enable-channel -u -s "$rp_s" --subbuf-size=4M --num-subbuf=8 \
        --blocking-timeout=inf ch >>"$HK_TMP/lttng.log" 2>&1 &&
    lttng add-context -u -s "$rp_s" -c ch -t vtid -t vpid -t ip >>"$HK_TMP/lttng.log" 2>&1 &&
    lttng enable-event -u -s "$rp_s" -c ch 'lttng_ust_libc:*' >>"$HK_TMP/lttng.log" 2>&1 &&
    lttng start "$rp_s" >>"$HK_TMP/lttng.log" 2>&1 ||
        hk_fail "lttng session setup failed: $(tail -n 3 "$HK_TMP/lttng.log")"
    LTTNG_UST_ALLOW_BLOCKING=1 LTTNG_UST_REGISTER_TIMEOUT=-1 \
        LD_PRELOAD="$RP_WRAP $RP_FORK ${RP_EXTRA_PRELOAD:-}" timeout -k 5 120 "$@" \
        >"$rp_out.out" 2>"$rp_out.err"
    rp_crc=$?
    lttng stop "$rp_s" >/dev/null 2>&1
    lttng destroy "$rp_s" >/dev/null 2>&1 || hk_fail "lttng destroy $rp_s failed"
    RP_SESSIONS=$(echo "$RP_SESSIONS" | sed "s/ $rp_s//")
    [ $rp_crc -eq 0 ] || hk_fail "the traced command failed (exit $rp_crc): $(head -n 3 "$rp_out.err")"
}

rp_run() { # name cmd...
    rp_n=$1; shift
    timeout -k 5 120 "$@" >"$HK_TMP/$rp_n.out" 2>"$HK_TMP/$rp_n.err"
    rc=$?
}

rp_kv() { # file key
    sed -n "s/^$2: *//p" "$1" | head -n 1
}

rp_field() { # file key
    tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | head -n 1
}

# run NAME expecting exit 0, else show the output and fail
rp_ok() { # name cmd...
    rp_run "$@"
    [ $rc -eq 0 ] || hk_fail "$rp_n: exit $rc: $(tail -n 5 "$HK_TMP/$rp_n.err")"
}
