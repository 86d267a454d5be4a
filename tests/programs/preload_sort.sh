#!/bin/sh
# sort under LD_PRELOAD=libhakmem.so on ~8 MB of generated lines: plain,
# numeric by key, unique, and --parallel=2 with a small buffer (threads
# plus temporary files and merges).  Outputs must match runs without
# hakmem and be correctly sorted.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need sort awk sha256sum
hk_check_preload sort
cd "$HK_TMP" || exit 1
awk 'BEGIN { srand(42); for (i = 0; i < 300000; i++) printf "%s %d %.6f w%d\n", substr("qwertyuiopasdfghjklzxcvbnm", int(rand() * 26) + 1, int(rand() * 10) + 1), int(rand() * 1000000), rand() * 1000, i % 977 }' >data.txt
[ "$(wc -c <data.txt)" -gt 6000000 ] || hk_fail "generated data too small"
hk_same sort-plain sort data.txt
hk_same sort-numeric-key sort -k2,2n -k1,1 data.txt
hk_same sort-unique sort -u -k4,4 data.txt
hk_same sort-parallel sort --parallel=2 -S 1M -T "$HK_TMP" -k3,3g data.txt
hk_same sort-parallel-big-buffer sort --parallel=2 -S 64M data.txt
# The preloaded output really is sorted (not just equal to a wrong one).
sort -c "$HK_TMP/sort-plain.hak.out" || hk_fail "sort output under hakmem is not sorted"
sort -c -k3,3g "$HK_TMP/sort-parallel.hak.out" || hk_fail "sort --parallel output under hakmem is not sorted"
[ "$(wc -l <"$HK_TMP/sort-plain.hak.out")" -eq 300000 ] || hk_fail "sort lost lines"
echo "sort: ok"
