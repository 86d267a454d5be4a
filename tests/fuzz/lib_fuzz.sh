# lib_fuzz.sh - building and running hakmem's libFuzzer targets (sourced by
# tests/fuzz/fuzz_smoke.sh, which `make test` and `make fuzz` run).
#
# Targets (clang -fsanitize=fuzzer,address,undefined, every UBSan finding fatal):
#   hkr_fuzz     the .hkr reader of hakmem-replay and what info/run/the
#                crash handler do with a file (tests/fuzz/hkr_fuzz.c)
#   stats_fuzz   the stats segment reader trace/stats_reader.c and
#                hakmem-top's batch output (tests/fuzz/stats_fuzz.c)
# Seeds are generated, never stored: hkr_seed writes .hkr files with the
# replay tool's own writer, stats_seed copies a real segment of a process
# running on libhakmem.so and shrinks it (see their header comments).
#
#   fz_build DIR        build the targets and seed generators into DIR
#   fz_seeds DIR        DIR/seeds/hkr, DIR/seeds/stats
#   fz_run DIR NAME SECONDS CORPUS
#                       fuzz NAME for SECONDS starting from CORPUS and its
#                       seeds (new inputs go into CORPUS; a crashing input
#                       into DIR/artifacts/); prints one line with the
#                       executions and the corpus size, fails on a finding
. "$(dirname "$0")/../lib.sh"

FZ_CFLAGS="-std=gnu11 -D_GNU_SOURCE -DHAKMEM_VERSION=\"fuzz\" -g -O1 -Wall -Wextra
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

fz_cc() { # log args...
    log=$1; shift
    "$@" >"$log" 2>&1 || hk_fail "cannot build fuzz code: $* ($(grep -m 3 -E 'error|undefined' "$log"))"
}

fz_build() { # dir
    hk_need clang
    d=$1; mkdir -p "$d"
    rm -f "$d/hkr_fuzz" "$d/stats_fuzz" "$d/hkr_seed" "$d/stats_seed"
    R=$HAKMEM_ROOT; RP=$R/tools/hakmem-replay; TOP=$R/tools/hakmem-top
    # The .hkr target: the reader skips block checksums in a fuzzing build
    # (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) so mutations reach the
    # decoders; checksums are covered by tests/replay/replay_badfiles.sh.
    fz_cc "$d/hkr_fuzz.log" clang $FZ_CFLAGS -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
        -I"$RP" -I"$R/include" -o "$d/hkr_fuzz" "$R/tests/fuzz/hkr_fuzz.c" \
        "$RP/hkf_read.c" "$RP/hkf_codec.c" "$RP/util.c" "$RP/replay.c" "$RP/crash.c" \
        -lunwind -lunwind-x86_64 -ldl -pthread &
    fz_cc "$d/stats_fuzz.log" clang $FZ_CFLAGS -I"$R/trace" -I"$TOP" -I"$R/include" \
        -o "$d/stats_fuzz" "$R/tests/fuzz/stats_fuzz.c" "$R/trace/stats_reader.c" \
        "$TOP/sample.c" "$TOP/batch.c" "$TOP/list.c" -lm &
    fz_cc "$d/hkr_seed.log" clang -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
        -I"$RP" -o "$d/hkr_seed" "$R/tests/fuzz/hkr_seed.c" "$RP/hkf_write.c" "$RP/hkf_codec.c"
    fz_cc "$d/stats_seed.log" clang -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
        -I"$R/trace" -o "$d/stats_seed" "$R/tests/fuzz/stats_seed.c" -ldl -pthread
    wait
    for t in hkr_fuzz stats_fuzz; do
        [ -x "$d/$t" ] || hk_fail "cannot build $t: $(grep -m 3 -E 'error|undefined' "$d/$t.log")"
    done
}

fz_seeds() { # dir
    d=$1
    rm -rf "$d/seeds"; mkdir -p "$d/seeds/hkr" "$d/seeds/stats"
    "$d/hkr_seed" "$d/seeds/hkr" || hk_fail "hkr_seed failed"
    LD_PRELOAD=$HK_LIB "$d/stats_seed" "$d/seeds/stats" || hk_fail "stats_seed failed"
    [ "$(ls "$d/seeds/hkr" | wc -l)" -ge 4 ] && [ "$(ls "$d/seeds/stats" | wc -l)" -ge 4 ] ||
        hk_fail "the seed generators wrote too few seeds"
}

fz_run() { # dir name seconds corpus
    d=$1; name=$2; secs=$3; corpus=$4
    case $name in
        hkr_fuzz) seeds=$d/seeds/hkr; maxlen=8192 ;;
        stats_fuzz) seeds=$d/seeds/stats; maxlen=32768 ;;
        *) hk_fail "unknown fuzz target $name" ;;
    esac
    mkdir -p "$corpus" "$d/artifacts"
    log=$d/$name.run.log
    # -timeout: one input may take 10 s at most; the outer timeout only
    # catches a fuzzer that does not stop by itself.
    (cd "$d" && timeout -k 10 $((secs + 120)) "./$name" -max_total_time="$secs" \
        -max_len=$maxlen -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$d/artifacts/$name-" "$corpus" "$seeds") >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        grep -E -A 25 '^==[0-9]+==ERROR|runtime error|SUMMARY|deadly signal|Test unit written' \
            "$log" | head -n 40 >&2
        hk_fail "$name: the fuzzer found a problem or could not run (exit $rc, log $log)"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -E '^#[0-9]+.*DONE' "$log" | sed -n 's/.*cov: \([0-9]*\).*/\1/p' | tail -n 1)
    [ -n "$runs" ] || hk_fail "$name: no statistics in $log (did it run?)"
    grep -q 'INITED' "$log" || hk_fail "$name: the fuzzer did not load its corpus ($log)"
    echo "ok: $name: $runs executions in ${secs}s, coverage ${cov:-?} edges," \
        "$(ls "$corpus" | wc -l) inputs in the corpus, no crash, leak or undefined behaviour"
    FZ_RUNS=$runs
}
