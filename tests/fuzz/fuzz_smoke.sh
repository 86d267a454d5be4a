#!/bin/sh
# Fuzz smoke test: builds the libFuzzer targets (tests/fuzz/lib_fuzz.sh),
# generates their seeds, and runs each for FUZZ_SECONDS (default 10) from
# the seeds.  Fails if a target cannot be built or run, if a seed is
# rejected by a crash, or if the fuzzer finds a crash, a leak or undefined
# behaviour.
#   FUZZ_DIR=DIR     keep binaries, corpora and crashing inputs in DIR
#                    (default: a temporary directory); `make fuzz` uses
#                    build/fuzz and FUZZ_SECONDS=180 per target.
#   FUZZ_TARGETS     the targets to run (default "hkr_fuzz stats_fuzz")
. "$(dirname "$0")/lib_fuzz.sh"
hk_setup
SECS=${FUZZ_SECONDS:-10}
case $SECS in ''|*[!0-9]*) hk_fail "FUZZ_SECONDS must be a number of seconds, not '$SECS'" ;; esac
D=${FUZZ_DIR:-$HK_TMP/fuzz}
case $D in /*) ;; *) D=$HAKMEM_ROOT/$D ;; esac
fz_build "$D"
fz_seeds "$D"
for t in ${FUZZ_TARGETS:-hkr_fuzz stats_fuzz}; do
    fz_run "$D" "$t" "$SECS" "$D/corpus/$t"
done
