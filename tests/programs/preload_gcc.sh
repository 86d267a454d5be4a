#!/bin/sh
# gcc and g++ under LD_PRELOAD=libhakmem.so (the driver, cc1/cc1plus, as
# and ld all run with hakmem): a small C program and a generated 600-
# function file at -O2, a C++ program with STL containers.  The object
# files must be byte-identical to those built without hakmem, and the
# programs must print the same.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need gcc g++ cmp
hk_check_preload gcc
CC1=$(gcc -print-prog-name=cc1)
[ -x "$CC1" ] || hk_fail "gcc: cc1 not found"
hk_check_preload "$CC1"

cd "$HK_TMP" || exit 1
cat >small.c <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[24]; int v; };
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
    struct node *h = NULL;
    for (int i = 0; i < 100000; i++) {
        struct node *n = malloc(sizeof *n);
        snprintf(n->name, sizeof n->name, "n%d", i * 7 % 1000);
        n->v = i; n->next = h; h = n;
    }
    long s = 0; int k = 0;
    int *a = NULL;
    for (struct node *n = h; n; ) {
        struct node *x = n->next;
        s += n->v + (long)strlen(n->name);
        if ((k & 1023) == 0) a = realloc(a, sizeof(int) * (size_t)(k + 1024));
        a[k++] = n->v * 31 % 1009;
        free(n); n = x;
    }
    qsort(a, (size_t)k, sizeof(int), cmp);
    printf("%ld %d %d %d\n", s, k, a[0], a[k - 1]);
    free(a);
    return 0;
}
CEOF
awk 'BEGIN {
    print "#include <stdio.h>";
    for (i = 0; i < 600; i++) {
        printf "static int f%d(int x) { int a[%d]; for (int i = 0; i < %d; i++) a[i] = x * i + %d; int s = 0; for (int i = 0; i < %d; i++) s += a[i] ^ (s >> 3); return s; }\n", i, i % 20 + 1, i % 20 + 1, i, i % 20 + 1;
    }
    print "int main(void) { long t = 0;";
    for (i = 0; i < 600; i++) printf "  t += f%d(%d);\n", i, i;
    print "  printf(\"%ld\\n\", t); return 0; }";
}' >big.c
cat >prog.cc <<'CEOF'
#include <iostream>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>
#include <algorithm>
#include <memory>
int main() {
    std::map<std::string, std::vector<int>> m;
    std::unordered_map<int, std::string> u;
    for (int i = 0; i < 200000; i++) {
        m["key" + std::to_string(i % 5000)].push_back(i);
        u[i % 30011] += std::to_string(i % 10);
    }
    std::vector<std::unique_ptr<std::string>> v;
    for (int i = 0; i < 100000; i++) v.push_back(std::make_unique<std::string>(i % 64, 'a' + i % 26));
    std::sort(v.begin(), v.end(), [](auto &a, auto &b) { return *a < *b; });
    size_t total = 0;
    for (auto &kv : m) total += kv.second.size() + kv.first.size();
    for (auto &kv : u) total += kv.second.size();
    std::cout << m.size() << " " << u.size() << " " << total << " " << *v.front() << "|" << v.back()->size() << "\n";
}
CEOF

build() { # suffix
    gcc -O2 -Wall -c small.c -o small.$1.o &&
    gcc -O2 -c big.c -o big.$1.o &&
    g++ -O2 -std=c++17 -c prog.cc -o prog.$1.o &&
    gcc small.$1.o -o small.$1 && gcc big.$1.o -o big.$1 && g++ prog.$1.o -o prog.$1
}
( build ref ) >build.ref.log 2>&1 || { cat build.ref.log >&2; hk_fail "gcc reference build failed"; }
( LD_PRELOAD="$HK_LIB"; export LD_PRELOAD; build hak ) >build.hak.log 2>&1
st=$?
hk_scan_stderr gcc-build build.hak.log
[ $st -eq 0 ] || { tail -n 20 build.hak.log >&2; hk_fail "gcc/g++ under LD_PRELOAD failed (exit $st)"; }
cmp -s build.ref.log build.hak.log || { diff build.ref.log build.hak.log | head >&2; hk_fail "compiler messages differ under LD_PRELOAD"; }
for o in small big prog; do hk_same_file "$o.o" $o.ref.o $o.hak.o; done
for p in small big prog; do
    ./$p.ref >$p.ref.out || hk_fail "$p built without hakmem fails"
    ./$p.hak >$p.hak.out || hk_fail "$p built with hakmem-preloaded gcc fails"
    hk_same_file "output of $p" $p.ref.out $p.hak.out
done
# The compiled program itself under hakmem.
hk_same small-under-hakmem ./small.ref
hk_same cxx-under-hakmem ./prog.ref
echo "gcc: ok"
