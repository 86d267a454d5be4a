/* overlap.c - live block intervals per process (see overlap.h). */
#include "overlap.h"
#include "hkf.h"

#include <search.h>
#include <stdlib.h>

#define MAX_PROCS 1024

struct ival {
    uint64_t lo, hi;     /* [lo, hi) */
    uint32_t obj;
};

struct ovl {
    void *root[MAX_PROCS];
};

/* Overlapping intervals compare equal: a consistent order as long as the
 * tree itself never holds two overlapping intervals. */
static int cmp(const void *a, const void *b)
{
    const struct ival *x = a, *y = b;
    if (x->hi <= y->lo) return -1;
    if (y->hi <= x->lo) return 1;
    return 0;
}

struct ovl *ovl_new(void)
{
    return calloc(1, sizeof(struct ovl));
}

static void free_node(void *p) { free(p); }

void ovl_free(struct ovl *s)
{
    if (!s) return;
    for (int i = 0; i < MAX_PROCS; i++)
        if (s->root[i]) tdestroy(s->root[i], free_node);
    free(s);
}

int ovl_add(struct ovl *s, uint16_t proc, uint64_t addr, uint64_t size, uint32_t obj,
            uint32_t *other, uint64_t *other_addr)
{
    *other = HKF_NOOBJ;
    *other_addr = 0;
    if (proc >= MAX_PROCS) return 0;
    struct ival *n = malloc(sizeof *n);
    if (!n) return -1;
    n->lo = addr;
    n->hi = size && addr + size > addr ? addr + size : addr + 1;
    n->obj = obj;
    void **root = &s->root[proc];
    struct ival **hit;
    while ((hit = tfind(n, root, cmp))) {
        struct ival *old = *hit;
        if (old->lo != addr && *other == HKF_NOOBJ) {
            *other = old->obj;
            *other_addr = old->lo;
        }
        tdelete(old, root, cmp);
        free(old);
    }
    if (!tsearch(n, root, cmp)) {
        free(n);
        return -1;
    }
    return 0;
}

void ovl_remove(struct ovl *s, uint16_t proc, uint64_t addr, uint32_t obj)
{
    if (proc >= MAX_PROCS) return;
    struct ival key = { addr, addr + 1, obj };
    void **root = &s->root[proc];
    struct ival **hit = tfind(&key, root, cmp);
    if (!hit || (*hit)->obj != obj || (*hit)->lo != addr) return;
    struct ival *old = *hit;
    tdelete(old, root, cmp);
    free(old);
}
