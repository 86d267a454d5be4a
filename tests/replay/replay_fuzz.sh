#!/bin/sh
# A short libFuzzer run of the .hkr reader (tests/fuzz/hkr_fuzz.c) with
# ASan/UBSan, seeded with real files (a recorded trace, converted, and its
# reduced form).  Needs clang; HKR_FUZZ_SECONDS sets the length (default
# 10).  `make fuzz` builds the same target and runs it longer.
. "$(dirname "$0")/lib_replay.sh"
rp_setup
hk_need clang
T=$HK_TMP
SECS=${HKR_FUZZ_SECONDS:-10}
SRC=$HAKMEM_ROOT/tools/hakmem-replay
FZ=$T/hkr_fuzz
clang -std=gnu11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -g -O1 \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$SRC" -I"$HAKMEM_ROOT/include" -o "$FZ" "$HAKMEM_ROOT/tests/fuzz/hkr_fuzz.c" \
    "$SRC/hkf_read.c" "$SRC/hkf_codec.c" "$SRC/util.c" "$SRC/replay.c" "$SRC/crash.c" \
    -lunwind -lunwind-x86_64 -ldl -pthread >"$T/cc.log" 2>&1 ||
    hk_fail "cannot build the fuzz target: $(head -n 5 "$T/cc.log")"

# seeds: a real two-thread trace with every kind of event, and a tiny one
rp_capture_libc "$T/trace" "$RP_WL" churn 300 2
mkdir -p "$T/corpus" "$T/seeds"
rp_ok conv "$RP" convert "$T/trace" -o "$T/seeds/churn.bin" --pid "$(rp_field "$T/trace.out" pid)"
rp_capture_libc "$T/trace2" "$RP_WL" doublefree 3
rp_ok conv2 "$RP" convert "$T/trace2" -o "$T/df.bin" --pid "$(rp_field "$T/trace2.out" pid)"
rp_ok red "$RP" reduce "$T/df.bin" -o "$T/seeds/small.bin"

cd "$T" || hk_fail "cd $T"
timeout -k 10 $((SECS + 60)) "$FZ" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "$T/corpus" "$T/seeds" >"$T/fuzz.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { tail -n 30 "$T/fuzz.log" >&2; hk_fail "the fuzzer found a problem (exit $rc)"; }
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/fuzz.log")
[ -n "$runs" ] && [ "$runs" -gt 1000 ] || hk_fail "the fuzzer ran only ${runs:-0} inputs"
echo "ok: $runs inputs in ${SECS}s, no crash, leak or undefined behaviour"
