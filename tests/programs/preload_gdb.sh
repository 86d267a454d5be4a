#!/bin/sh
# gdb --batch under LD_PRELOAD=libhakmem.so, debugging a small threaded
# program that inherits the preload: a conditional breakpoint in one of
# three threads, a backtrace, printing structures and strings from the
# inferior's heap, calls into the inferior that malloc (while it is stopped
# under ptrace), finish, continue to the end.  gdb itself (symbol tables,
# Python, libthread_db) and the inferior both run on hakmem.  The output,
# with addresses and process/thread ids masked, must match a run without
# hakmem; the inferior must really have had libhakmem.so loaded.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need gdb gcc sed
hk_check_preload gdb

cat >"$HK_TMP/prog.c" <<'CEOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
struct node { int value; char *name; struct node *next; };
struct node *make_list(int n) {
    struct node *head = NULL;
    for (int i = n; i > 0; i--) {
        struct node *x = malloc(sizeof *x);
        x->value = i;
        x->name = malloc(16 + i);
        snprintf(x->name, 16 + i, "node-%d", i);
        x->next = head;
        head = x;
    }
    return head;
}
int sum_list(struct node *l) { int s = 0; for (; l; l = l->next) s += l->value; return s; }
static int leaf(struct node *l, int depth) { return sum_list(l) + depth; }
static int walk(struct node *l, int depth) { return depth == 3 ? leaf(l, depth) : walk(l, depth + 1); }
static void *worker(void *arg) {
    struct node *l = make_list((int)(long)arg);
    int r = walk(l, 0);
    while (l) { struct node *x = l->next; free(l->name); free(l); l = x; }
    return (void *)(long)r;
}
int main(void) {
    pthread_t t[3];
    long total = 0;
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, (void *)(long)(10 * (i + 1)));
    for (int i = 0; i < 3; i++) { void *r; pthread_join(t[i], &r); total += (long)r; }
    printf("total %ld\n", total);
    return 0;
}
CEOF
gcc -g -O0 -pthread -o "$HK_TMP/prog" "$HK_TMP/prog.c" || hk_fail "cannot compile the debuggee"

# (No infcall in the breakpoint condition: gdb 13 asserts on that in a
# threaded inferior, with or without hakmem.)
cat >"$HK_TMP/cmds" <<'GEOF'
set debuginfod enabled off
set print thread-events off
set print frame-arguments none
set print address off
set confirm off
set pagination off
break leaf if l->next->next->next->next->next->next->next->next->next->next == 0
run
set scheduler-locking on
bt
print l->value
print l->next->next->name
print *l->next
print sum_list(l)
print sum_list(make_list(100))
print $_strlen(make_list(7)->name)
finish
delete
set scheduler-locking off
continue
GEOF

# gdb, with its output's addresses and ids masked (they depend on the
# address-space layout, which the allocator changes).
cat >"$HK_TMP/rungdb.sh" <<'SHEOF'
mask() { sed -E 's/0x[0-9a-f]+/0xADDR/g; s/LWP [0-9]+/LWP N/g; s/process [0-9]+/process N/g' "$1"; }
gdb -nx --batch -x "$2" "$1" >"$3.out" 2>"$3.err"
st=$?
mask "$3.out"
mask "$3.err" >&2
exit $st
SHEOF
hk_same gdb-batch sh "$HK_TMP/rungdb.sh" "$HK_TMP/prog" "$HK_TMP/cmds" "$HK_TMP/g"
out=$HK_TMP/gdb-batch.ref.out
for want in 'hit Breakpoint 1, leaf' '#5  worker' '$4 = 55' '$5 = 5050' '$6 = 6' \
            'Value returned is $7 = 58' 'total 739' 'exited normally'; do
    grep -qF "$want" "$out" || hk_fail "gdb output lacks '$want'"
done

# The inferior inherited the preload (else only gdb itself was tested).
printf 'set debuginfod enabled off\nbreak sum_list\nrun\ninfo sharedlibrary\nkill\n' >"$HK_TMP/cmds2"
LD_PRELOAD=$HK_LIB timeout 60 gdb -nx --batch -x "$HK_TMP/cmds2" "$HK_TMP/prog" >"$HK_TMP/libs" 2>&1
grep -q 'libhakmem\.so' "$HK_TMP/libs" || hk_fail "the inferior under gdb did not load libhakmem.so"
echo "gdb: ok"
