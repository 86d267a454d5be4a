#!/bin/sh
# Tracepoint linkage: libhakmem.so holds the tracepoint definitions but has
# no DT_NEEDED on any lttng library (dynamic probe linkage); the probes are
# in libhakmem-tp.so, linked with liblttng-ust; without the probe preloaded
# a program never maps the tracer itself; a TRACE=0 build has no
# tracepoint left at all.
. "$(dirname "$0")/lib_trace.sh"
ht_setup
hk_need make cat objdump nm

LIB=$BUILD/libhakmem.so
TP=$BUILD/libhakmem-tp.so

readelf -d "$LIB" >"$HK_TMP/lib.dyn" || hk_fail "readelf -d $LIB failed"
grep -q NEEDED "$HK_TMP/lib.dyn" || hk_fail "readelf shows no NEEDED entry at all in $LIB"
if grep NEEDED "$HK_TMP/lib.dyn" | grep -qi lttng; then
    grep NEEDED "$HK_TMP/lib.dyn" >&2
    hk_fail "$LIB has a DT_NEEDED on an lttng library"
fi
readelf -S "$LIB" | grep -q 'lttng_ust_tr' || hk_fail "$LIB has no lttng_ust_tracepoints section"
echo "ok: $LIB: no lttng NEEDED, tracepoint definitions present"

readelf -d "$TP" | grep NEEDED | grep -q 'liblttng-ust\.so' ||
    hk_fail "$TP is not linked with liblttng-ust"
nm -D --defined-only "$TP" | grep -q ' fork$' || hk_fail "$TP does not wrap fork"
echo "ok: $TP: linked with liblttng-ust, wraps fork"

# Without the probe, the tracer (liblttng-ust.so) is never mapped; only the
# small tracepoint library that the definitions' constructor looks for.
LD_PRELOAD="$LIB" cat /proc/self/maps >"$HK_TMP/maps" || hk_fail "cat under hakmem failed"
grep -q "$LIB" "$HK_TMP/maps" || hk_fail "$LIB was not mapped"
if grep -q 'liblttng-ust\.so' "$HK_TMP/maps"; then
    hk_fail "liblttng-ust.so is mapped without the probe library"
fi
echo "ok: without libhakmem-tp.so no tracer is loaded"

# TRACE=0: no tracepoint section, no reference to lttng, no call to an
# emit helper.
B0=$HK_TMP/build-trace0
make -s -C "$HAKMEM_ROOT" BUILD="$B0" TRACE=0 lib >"$HK_TMP/make.log" 2>&1 ||
    { tail -n 20 "$HK_TMP/make.log" >&2; hk_fail "make TRACE=0 lib failed"; }
[ -f "$B0/libhakmem.so" ] || hk_fail "TRACE=0 build produced no libhakmem.so"
[ ! -e "$B0/libhakmem-tp.so" ] || hk_fail "TRACE=0 build produced a probe library"
if readelf -S "$B0/libhakmem.so" | grep -q 'lttng'; then
    hk_fail "TRACE=0 libhakmem.so still has tracepoint sections"
fi
if grep -q -a 'lttng' "$B0/libhakmem.so"; then
    hk_fail "TRACE=0 libhakmem.so still mentions lttng"
fi
calls=$(objdump -d "$B0/libhakmem.so" | grep -c 'call.*<hk_tp_emit_')
[ "$calls" = 0 ] || hk_fail "TRACE=0 libhakmem.so still calls emit helpers ($calls calls)"
calls=$(objdump -d "$LIB" | grep -c 'call.*<hk_tp_emit_')
[ "$calls" -gt 20 ] || hk_fail "the default build calls only $calls emit helpers"
echo "ok: TRACE=0 build has no tracepoints (default build: $calls call sites)"
