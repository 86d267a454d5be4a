#!/bin/sh
# xz -T2 under LD_PRELOAD=libhakmem.so: multi-threaded compression of
# ~8 MB of generated data (several blocks, so both threads work) and
# decompression.  The compressed stream must be byte-identical to the one
# made without hakmem, and the round trip must give the input back.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need xz awk sha256sum
hk_check_preload xz
cd "$HK_TMP" || exit 1
awk 'BEGIN { srand(7); for (i = 0; i < 300000; i++) printf "%08d %s %d\n", i, substr("abcdefghijklmnopqrstuvwxyz0123456789", int(rand() * 30) + 1, 7), int(rand() * 100000) }' >data
head -c 1500000 /dev/zero >>data
[ "$(wc -c <data)" -gt 7000000 ] || hk_fail "generated data too small"
sum=$(sha256sum <data)
hk_same xz-compress xz -T2 -2 --block-size=1MiB -c data
hk_same xz-compress-dict xz -T2 -6 --block-size=2MiB -c data
cp "$HK_TMP/xz-compress.hak.out" data.xz
hk_same xz-decompress xz -T2 -dc data.xz
[ "$(sha256sum <"$HK_TMP/xz-decompress.hak.out")" = "$sum" ] || hk_fail "xz round trip under hakmem changed the data"
hk_same xz-test xz -T2 -t -v data.xz
HK_STDERR=ignore
hk_same xz-list xz -l data.xz
echo "xz: ok"
