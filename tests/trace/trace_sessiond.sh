#!/bin/sh
# hakmem-trace starts its own lttng-sessiond when none answers, returns
# (no hang: `lttng-sessiond --background` keeps its stdout open, so the
# tool must not wait for EOF on it), captures, and stops the daemon it
# started.  Root always shares the system daemon, which other tests may
# have started, so as root the capture runs as user nobody with a private
# home (a per-user daemon that certainly does not run yet); a non-root run
# gets the same from its private LTTNG_HOME.  A normal user cannot isolate
# the command (no time namespace): the note saying so is checked too.
. "$(dirname "$0")/lib_trace.sh"
ht_setup

dir=$HK_TMP/pub
mkdir -p "$dir/home"
chmod 755 "$HK_TMP" "$dir"
cp "$HT_TRACE" "$BUILD/libhakmem.so" "$BUILD/libhakmem-tp.so" "$dir/" ||
    hk_fail "cannot copy the tool and libraries to $dir"
if [ "$(id -u)" = 0 ]; then
    hk_need setpriv
    user=nobody
    chown "$user" "$dir/home" || hk_fail "chown $user failed"
    as() { setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; }
else
    user=$(id -un)
    as() { "$@"; }
fi

# The daemon of $user, if any (matched on its private home).
user_sessiond() {
    pgrep -u "$user" -f '^lttng-sessiond' 2>/dev/null |
        while read -r p; do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q "^HOME=$dir/home\$" && echo "$p"
        done
}
[ -z "$(user_sessiond)" ] || hk_fail "a session daemon already runs in $dir/home"

cd "$dir" || hk_fail "cannot cd to $dir"
as timeout -k 5 90 env HOME="$dir/home" LTTNG_HOME="$dir/home" \
    ./hakmem-trace -v -o "$dir/home/tr" -- /bin/ls / >"$HK_TMP/out" 2>"$HK_TMP/err"
rc=$?
[ $rc -ne 124 ] && [ $rc -ne 137 ] || { cat "$HK_TMP/err" >&2; hk_fail "hakmem-trace hung (timeout)"; }
[ $rc -eq 0 ] || { cat "$HK_TMP/out" "$HK_TMP/err" >&2; hk_fail "hakmem-trace exited $rc"; }
grep -q 'started lttng-sessiond (pid [0-9]*)' "$HK_TMP/err" ||
    { cat "$HK_TMP/err" >&2; hk_fail "hakmem-trace did not say it started a session daemon"; }
grep -q 'hakmem-trace: no events lost' "$HK_TMP/err" ||
    { cat "$HK_TMP/err" >&2; hk_fail "the capture did not complete"; }
grep -q 'hakmem:malloc ' "$HK_TMP/err" || { cat "$HK_TMP/err" >&2; hk_fail "no malloc events recorded"; }
# A normal user may not create a time namespace: hakmem-trace cannot keep
# other traced programs of that user out of the trace, and says so.
grep -q '^hakmem-trace: note: cannot isolate CMD (time namespace: Operation not permitted)' "$HK_TMP/err" ||
    { cat "$HK_TMP/err" >&2; hk_fail "no note that the capture is not isolated"; }
i=0
while [ $i -lt 50 ] && [ -n "$(user_sessiond)" ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(user_sessiond)" ] || hk_fail "the session daemon hakmem-trace started is still running: $(user_sessiond)"
echo "PASS: hakmem-trace started its own session daemon, captured, and stopped it"
