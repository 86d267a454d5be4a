#!/bin/sh
# The soak test in short (`make soak` runs it for 30 minutes): 25 s of the
# self-checking soak workload under LD_PRELOAD (4 threads, every tier,
# remote frees, short-lived threads, forks) with its RSS sampled every
# second and its segment read by hakmem-top, while a few multi-threaded
# stress tests run in a loop beside it.  Fails on a crash, a corruption, a
# failed test, an unreadable segment, or an RSS that grows by more than
# 50% over the last two thirds of the run (the full soak allows 10% over
# 20 minutes; 25 s is too short for a tight bound).
HAKMEM_ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export HAKMEM_ROOT
SOAK_SECONDS=25 SOAK_SAMPLE=1 SOAK_RSS_LIMIT_PCT=50 \
SOAK_ITEMS="test_thread_churn test_remote test_orphan test_drain" \
SOAK_DIR=$(mktemp -d /tmp/hakmem-soak.XXXXXX) || { echo "FAIL: mktemp failed" >&2; exit 1; }
export SOAK_SECONDS SOAK_SAMPLE SOAK_RSS_LIMIT_PCT SOAK_ITEMS SOAK_DIR
sh "$HAKMEM_ROOT/tests/soak.sh"
rc=$?
rm -rf "$SOAK_DIR"
exit $rc
