#!/bin/sh
# bench/ab.sh - A/B comparison of allocator builds on one benchmark command.
#
#   sh bench/ab.sh [-n RUNS] -- CMD [ARGS...] -- VARIANT...
#
# Each VARIANT is a space-separated list of environment assignments, e.g.
# "LD_PRELOAD=build/libhakmem.so" or "LD_PRELOAD=/tmp/a/libhakmem.so
# HAKMEM_ULTRAHOT_MASK=0x06"; "" runs CMD with the inherited environment.
# For each of RUNS repetitions (default 7) every variant runs once, in
# order, so slow drifts of the machine spread over all of them; CMD must
# print a RESULT line with ops_per_sec= (every program in bench/ does).
# Prints the median, min and max of each variant and its ratio to the
# first.  The single-threaded benchmarks divide by CPU time, so they
# tolerate a loaded machine; the multi-threaded ones do not.
# Example (what docs/performance.md quotes):
#   sh bench/ab.sh -n 11 -- build/bench/random_mixed mode=replace min=64 max=64 ws=128 \
#       iters=40000000 -- LD_PRELOAD=build/libhakmem.so LD_PRELOAD=/tmp/c0/libhakmem.so
set -u
runs=7
usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit "$1"; }
while [ $# -gt 0 ]; do
    case $1 in
        -n) [ $# -ge 2 ] || usage 2; runs=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        --) shift; break ;;
        *) echo "bench/ab.sh: unexpected '$1' (usage: bench/ab.sh [-n RUNS] -- CMD... -- VARIANT...)" >&2; exit 2 ;;
    esac
done
case $runs in ''|*[!0-9]*|0) echo "bench/ab.sh: -n needs a positive number, not '$runs'" >&2; exit 2 ;; esac
cmd=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmd="$cmd '$(printf '%s' "$1" | sed "s/'/'\\\\''/g")'"; shift; done
[ $# -gt 0 ] || { echo "bench/ab.sh: no '--' before the variants" >&2; exit 2; }
shift
[ -n "$cmd" ] && [ $# -gt 0 ] || { echo "bench/ab.sh: need a command and at least one variant" >&2; exit 2; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$runs" ]; do
    n=0
    for v in "$@"; do
        n=$((n + 1))
        # shellcheck disable=SC2086  # $v is a list of assignments
        out=$(eval "env $v $cmd" 2>"$tmp/err") ||
            { echo "bench/ab.sh: variant $n ($v) failed:" >&2; cat "$tmp/err" >&2; exit 1; }
        r=$(printf '%s\n' "$out" | sed -n 's/^RESULT .*ops_per_sec=\([0-9.e+]*\).*/\1/p')
        [ -n "$r" ] || { echo "bench/ab.sh: variant $n printed no RESULT line" >&2; exit 1; }
        echo "$r" >>"$tmp/$n"
    done
    i=$((i + 1))
done
n=0
for v in "$@"; do
    n=$((n + 1))
    sort -g "$tmp/$n" | awk -v v="$v" -v n="$n" -v f="$tmp/first" '
        { a[NR] = $1 }
        END {
            m = a[int((NR + 1) / 2)]
            if (n == 1) { print m > f; close(f); base = m } else { getline base < f }
            printf "%12.1f  (min %12.1f, max %12.1f)  %5.3f  %s\n", m, a[1], a[NR], m / base, (v == "" ? "(no variables)" : v)
        }'
done
