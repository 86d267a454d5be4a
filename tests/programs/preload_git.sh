#!/bin/sh
# git under LD_PRELOAD=libhakmem.so: init, add, commit (several), log,
# gc (threaded delta search), clone (pack-objects / index-pack), fsck, in
# a temporary repository.  With fixed dates and identities the commit
# ids are reproducible, so the whole transcript must match a run without
# hakmem byte for byte.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need git
hk_check_preload git

cat >"$HK_TMP/scenario.sh" <<'SHEOF'
set -e
dir=$1
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
export GIT_AUTHOR_NAME=hakmem GIT_AUTHOR_EMAIL=hakmem@example.org
export GIT_COMMITTER_NAME=hakmem GIT_COMMITTER_EMAIL=hakmem@example.org
export GIT_CONFIG_NOSYSTEM=1 HOME="$dir"
git init -q -b main repo
cd repo
git config pack.threads 2
git config gc.auto 0
for c in 1 2 3 4 5 6; do
    export GIT_AUTHOR_DATE="2024-01-0$c 12:00:00 +0000" GIT_COMMITTER_DATE="2024-01-0$c 12:00:00 +0000"
    i=0
    while [ $i -lt 60 ]; do
        d=dir$((i % 7))
        mkdir -p $d
        # similar files, so that gc finds deltas
        awk -v c=$c -v i=$i 'BEGIN { for (l = 0; l < 200 + i; l++) printf "line %d of file %d, commit %d\n", l, i, (l % 10 == 0 ? c : 0) }' >$d/f$i.txt
        i=$((i + 1))
    done
    git add -A
    git commit -q -m "commit $c: $(git status --porcelain | wc -l) files staged"
done
git log --format=%s
git log --format='%H %T'
git rev-list --all --objects | sort
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --full --strict 2>&1
cd ..
git clone -q --no-local repo clone
cd clone
git log --format='%H %s'
git fsck --full 2>&1
git diff --stat HEAD~5 HEAD | tail -n 1
SHEOF

hk_same git-scenario sh "$HK_TMP/scenario.sh" "$HK_TMP/run"
echo "git: ok"
