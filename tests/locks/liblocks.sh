# liblocks.sh - shared helpers of tests/locks/*.sh (sourced; tests/run.sh
# skips lib*.sh).  Sets ROOT, BUILD, LIB, TP, LOCKSTAT, TRACE, WORKLOAD and
# a private $tmp removed at exit.

ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
LIB=$B/libhakmem.so
TP=$B/libhakmem-tp.so
LOCKSTAT=$B/hakmem-lockstat
TRACE=$B/hakmem-trace
WORKLOAD=$B/tests/progs/lock_workload

fail() { echo "FAIL: $*"; exit 1; }

# A test that cannot run fails (never skips).
need_file() { for f in "$@"; do [ -e "$f" ] || fail "missing $f (run make)"; done; }
need_prog() { for p in "$@"; do command -v "$p" >/dev/null 2>&1 || fail "missing program: $p"; done; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-locks.XXXXXX") || fail "mktemp"
_cleanup_fns=""
at_exit() { _cleanup_fns="$1; $_cleanup_fns"; }
# Background children not yet waited for (so never a reaped, reusable
# pid): killed at exit.  bg PID after `CMD &`; waited PID after `wait`.
_bg=""
bg() { _bg="$_bg $1"; }
waited() { _bg=$(echo "$_bg" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' '); }
trap 'set +e; for _j in $_bg; do kill "$_j" 2>/dev/null; done; eval "$_cleanup_fns"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# json_get FILE PYTHON-EXPR: evaluate EXPR with `d` = the parsed JSON.
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# start_workload PIDFILE ARGS...: run the workload under hakmem in the
# background; it writes its pid to PIDFILE when done and waits until the
# file is removed.  Sets WL_PID (the background job).
start_workload() {
    _pf=$1; shift
    rm -f "$_pf"
    LD_PRELOAD=$LIB "$WORKLOAD" -w "$_pf" -T 50 "$@" >"$tmp/workload.out" 2>&1 &
    WL_PID=$!
    bg $WL_PID
    _i=0
    while [ ! -s "$_pf" ]; do
        kill -0 "$WL_PID" 2>/dev/null || { cat "$tmp/workload.out"; fail "workload died"; }
        _i=$((_i + 1)); [ $_i -lt 600 ] || fail "workload did not finish in 30 s"
        sleep 0.05
    done
}
stop_workload() {
    rm -f "$1"
    _rc=0
    wait "$WL_PID" || _rc=$?
    waited "$WL_PID"
    [ $_rc = 0 ] || { cat "$tmp/workload.out"; fail "workload exited with $_rc"; }
}

# ---- an LTTng session of our own (statedump + hakmem events) ------------
# hakmem-trace records hakmem:* only; symbolization from the trace needs the
# base-address statedump (lttng_ust_statedump:*, lttng_ust_lib:*) too.
_lt_started_pid=""
_lt_session=""
_lt_rundir() { if [ "$(id -u)" = 0 ]; then echo /var/run/lttng; else echo "${LTTNG_HOME:-$HOME}/.lttng"; fi; }

lt_begin() {   # lt_begin OUTDIR EVENTS [--no-start]
    need_prog lttng lttng-sessiond
    if ! lttng list >/dev/null 2>&1; then
        lttng-sessiond --background --no-kernel >/dev/null 2>&1 || fail "cannot start lttng-sessiond"
        _lt_started_pid=$(cat "$(_lt_rundir)/lttng-sessiond.pid" 2>/dev/null)
        [ -n "$_lt_started_pid" ] || fail "lttng-sessiond started but wrote no pid file"
    fi
    _lt_session=hakmem-locktest-$$-$(date +%s%N)
    at_exit lt_end
    lttng create "$_lt_session" --output="$1" >/dev/null || fail "lttng create"
    lttng enable-channel -u -s "$_lt_session" --buffers-uid --subbuf-size=8M --num-subbuf=8 \
        --blocking-timeout=inf hk >/dev/null || fail "lttng enable-channel"
    lttng add-context -u -s "$_lt_session" -c hk -t vpid -t vtid >/dev/null || fail "lttng add-context"
    lttng enable-event -u -s "$_lt_session" -c hk "$2" >/dev/null || fail "lttng enable-event $2"
    [ "${3:-}" = --no-start ] || lt_start
}
lt_start() { lttng start "$_lt_session" >/dev/null || fail "lttng start"; }
lt_stop() { lttng stop "$_lt_session" >/dev/null || fail "lttng stop"; }

lt_end() {
    if [ -n "$_lt_session" ]; then
        _s=$_lt_session
        _lt_session=""
        lttng stop "$_s" >/dev/null 2>&1 || :
        lttng destroy "$_s" >/dev/null 2>&1 || :
    fi
    if [ -n "$_lt_started_pid" ]; then
        # Ours: stop it unless someone else created a session meanwhile.
        _p=$_lt_started_pid
        _lt_started_pid=""
        if lttng list 2>/dev/null | grep -q "Currently no available"; then
            if [ "$(cat /proc/"$_p"/comm 2>/dev/null)" = lttng-sessiond ]; then
                kill "$_p" 2>/dev/null || :
            fi
        fi
    fi
}

# lt_run CMD...: run CMD traced by the session lt_begin made.
lt_run() {
    LD_PRELOAD="$LIB $TP" LTTNG_UST_ALLOW_BLOCKING=1 LTTNG_UST_REGISTER_TIMEOUT=-1 "$@"
}
