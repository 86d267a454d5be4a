# lib_trace.sh - helpers for the tracepoint tests (sourced, never run).
#
#   . "$(dirname "$0")/lib_trace.sh"
#   ht_setup          hk_setup + required programs + a private LTTNG_HOME;
#                     sets HT_TRACE (hakmem-trace), HT_WORKLOAD (tp_workload)
#   ht_sessiond_up    true when a session daemon answers
#   ht_kv FILE KEY    the value of a "KEY=VALUE" line of FILE
#   ht_bt DIR OUT     babeltrace2's text of trace DIR into OUT (must succeed)
#
# Tests use the real lttng-sessiond: hakmem-trace starts one if none runs
# and stops it afterwards.  The private LTTNG_HOME isolates a non-root run
# from the user's session daemon and ~/.lttngrc; root always shares the
# system daemon (/var/run/lttng), so sessions are uniquely named, and
# hakmem-trace records only its command's processes (time namespace +
# filter: tests/trace/trace_isolation.sh).

. "$(dirname "$0")/../lib.sh"

ht_setup() {
    hk_setup
    hk_need lttng lttng-sessiond babeltrace2 readelf awk
    HT_TRACE=$BUILD/hakmem-trace
    HT_WORKLOAD=$BUILD/tests/progs/tp_workload
    [ -x "$HT_TRACE" ] || hk_fail "$HT_TRACE does not exist (run make first)"
    [ -x "$HT_WORKLOAD" ] || hk_fail "$HT_WORKLOAD does not exist (run make first)"
    [ -f "$BUILD/libhakmem-tp.so" ] || hk_fail "$BUILD/libhakmem-tp.so does not exist (TRACE=0 build?)"
    LTTNG_HOME=$HK_TMP/lttng-home
    mkdir -p "$LTTNG_HOME"
    export LTTNG_HOME
}

ht_sessiond_up() {
    lttng list >/dev/null 2>&1
}

ht_kv() { # file key
    sed -n "s/^$2=//p" "$1" | head -n 1
}

ht_bt() { # dir out
    timeout -k 5 120 babeltrace2 "$1" >"$2" 2>"$2.err" ||
        hk_fail "babeltrace2 cannot read $1: $(head -n 3 "$2.err")"
}

# A session daemon for tests that drive lttng by hand: start one when none
# answers (ht_stop_sessiond stops only that one).
HT_SD_PID=""
# ht_session S OUT CHANNEL "CHANNEL OPTIONS" EVENTS: create session S
# writing to OUT (sets created=1 for the caller's cleanup), one userspace
# channel with vpid/vtid contexts and EVENTS enabled, and start it.
ht_session() {
    lttng create "$1" --output="$2" >"$HK_TMP/lttng.log" 2>&1 ||
        hk_fail "lttng create: $(cat "$HK_TMP/lttng.log")"
    created=1
    for cmd in "enable-channel --userspace --session=$1 $4 $3" \
               "add-context --userspace --session=$1 --channel=$3 --type=vpid --type=vtid" \
               "enable-event --userspace --session=$1 --channel=$3 $5" \
               "start $1"; do
        # shellcheck disable=SC2086
        lttng $cmd >"$HK_TMP/lttng.log" 2>&1 || hk_fail "lttng $cmd: $(cat "$HK_TMP/lttng.log")"
    done
}

ht_start_sessiond() {
    ht_sessiond_up && return 0
    lttng-sessiond --background --no-kernel >"$HK_TMP/sessiond.log" 2>&1 ||
        hk_fail "lttng-sessiond failed to start: $(tail -n 3 "$HK_TMP/sessiond.log")"
    if [ "$(id -u)" = 0 ]; then rundir=/var/run/lttng; else rundir=$LTTNG_HOME/.lttng; fi
    HT_SD_PID=$(cat "$rundir/lttng-sessiond.pid" 2>/dev/null)
    [ -n "$HT_SD_PID" ] || hk_fail "lttng-sessiond started but wrote no pid file in $rundir"
    ht_sessiond_up || hk_fail "lttng-sessiond does not answer"
}
ht_stop_sessiond() {
    [ -n "$HT_SD_PID" ] || return 0
    if lttng list 2>/dev/null | grep -q 'Currently no available'; then
        kill "$HT_SD_PID" 2>/dev/null
        i=0
        while [ $i -lt 100 ] && [ -d "/proc/$HT_SD_PID" ] &&
              ! grep -q '^State:.*[ZX]' "/proc/$HT_SD_PID/status" 2>/dev/null; do
            sleep 0.05; i=$((i + 1))
        done
    fi
    HT_SD_PID=""
}
