#!/bin/sh
# Every command shown in README.md and docs/*.md is run, so the docs stay true.
#
# Convention (README.md, "Conventions of these docs"): fenced blocks marked
# ```sh are shell, run as is; ```console blocks hold "$ command" lines
# (run) and example output (not compared); ```text, ```c ... are never run;
# a block without a language fails the test.  A comment on the line before
# a block adjusts it:
#   <!-- docs-test: skip REASON -->   not run (listed at the end, with why)
#   <!-- docs-test: status N -->      the block must exit with status N
#   <!-- docs-test: timeout SEC -->   time limit (default 60 s)
# tests/docs/docs_blocks.py does the extraction.
#
# Each Markdown file gets its own scratch directory, where `build` links to
# the build and the repository's other top-level entries (docs/, tests/,
# bench/...) are linked too; its blocks run there in order (files made by
# one block are there for the next, shell variables are not), each with
# `sh` (```sh: with set -e; ```console: every command line must exit 0, as
# typed in a terminal: "cmd; echo $?" succeeds), stdin from
# /dev/null and the build directory first on PATH.  The output of every
# block is in this test's log.
#   DOCS_TEST_ONLY=howto-replay   only the files whose name contains it
#   DOCS_TEST_KEEP=DIR            keep the scratch directories and the
#                                 per-block outputs in DIR
. "$(dirname "$0")/../trace/lib_trace.sh"
ht_setup
hk_need python3 lttng lttng-sessiond babeltrace2 gdb timeout
for f in libhakmem.so libhakmem-tp.so hakmem-trace hakmem-top hakmem-replay hakmem-lockstat \
         tests/progs/demo_workload tests/progs/replay_workload tests/progs/lock_workload; do
    [ -e "$BUILD/$f" ] || hk_fail "$BUILD/$f is missing (run make first)"
done
cd "$HAKMEM_ROOT" || hk_fail "cannot cd to $HAKMEM_ROOT"

WORK=${DOCS_TEST_KEEP:-$HK_TMP/work}
mkdir -p "$WORK/blocks" || hk_fail "cannot create $WORK"
files=""
for f in README.md docs/*.md; do
    case $f in *"${DOCS_TEST_ONLY:-}"*) files="$files $f" ;; esac
done
[ -n "$files" ] || hk_fail "no Markdown file matches DOCS_TEST_ONLY=${DOCS_TEST_ONLY:-}"
# shellcheck disable=SC2086
python3 tests/docs/docs_blocks.py "$WORK/blocks" $files >"$WORK/manifest" ||
    hk_fail "the docs break the code block convention (above)"

# The by-hand lttng examples need a session daemon; hakmem-trace starts its own.
ht_start_sessiond
trap 'ht_stop_sessiond; [ -n "${DOCS_TEST_KEEP:-}" ] || rm -rf "$HK_TMP"' EXIT

scratch_for() { # markdown file -> its scratch directory (created once)
    d=$WORK/$(echo "$1" | tr '/.' '__')
    if [ ! -d "$d" ]; then
        mkdir -p "$d"
        for e in "$HAKMEM_ROOT"/* "$HAKMEM_ROOT"/.[!.]*; do
            [ -e "$e" ] || continue
            case $(basename "$e") in build|.git) continue ;; esac
            ln -s "$e" "$d/$(basename "$e")"
        done
        ln -s "$BUILD" "$d/build"
    fi
    echo "$d"
}

ran=0; failed=0; skipped=0
tab=$(printf '\t')
start_all=$(date +%s)
while IFS="$tab" read -r n where mode status tmo reason; do
    if [ "$mode" = skip ]; then
        skipped=$((skipped + 1))
        echo "skip  $where: $reason"
        continue
    fi
    md=${where%:*}
    dir=$(scratch_for "$md")
    log=$WORK/blocks/$n.log
    t0=$(date +%s)
    (cd "$dir" && PATH="$BUILD:$PATH" timeout -k 5 "$tmo" sh "$WORK/blocks/$n.sh") \
        >"$log" 2>&1 </dev/null
    rc=$?
    t=$(( $(date +%s) - t0 ))
    ran=$((ran + 1))
    echo "----- $where (exit $rc, ${t}s)"
    grep -v -e '^# ' -e '^_dt_rc=' -e '^set -e$' -e '^wait$' "$WORK/blocks/$n.sh" | sed 's/^/  | /'
    sed 's/^/  > /' "$log" | head -n 60
    if [ "$rc" != "$status" ]; then
        failed=$((failed + 1))
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then why="timed out after ${tmo}s"; else why="exit $rc"; fi
        echo "FAIL  $where: $why, expected $status" >&2
    fi
done <"$WORK/manifest"

echo
echo "docs test: $ran blocks run, $failed failed, $skipped skipped, $(( $(date +%s) - start_all ))s"
[ "$ran" -gt 0 ] || hk_fail "no block was run"
[ "$failed" -eq 0 ] || exit 1
