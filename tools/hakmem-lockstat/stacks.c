/* stacks.c - interned call stacks: one id per distinct (process, address
 * sequence), so per-site rows are keyed by a small integer. */
#include "lockstat.h"

#include <stdlib.h>
#include <string.h>

struct ls_stacks {
    ls_stack **v;
    size_t n, cap;
    uint32_t *tab;               /* id + 1, 0 = empty; power-of-two size  */
    size_t tab_cap;
};

ls_stacks *stacks_new(void) {
    ls_stacks *t = xcalloc(1, sizeof *t);
    t->tab_cap = 256;
    t->tab = xcalloc(t->tab_cap, sizeof *t->tab);
    return t;
}

void stacks_free(ls_stacks *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->v[i]);
    free(t->v);
    free(t->tab);
    free(t);
}

static uint64_t stack_hash(uint32_t proc, const uint64_t *pc, uint32_t depth) {
    uint64_t h = hash64(((uint64_t)proc << 32) | depth);
    for (uint32_t i = 0; i < depth; i++) h = hash64(h ^ pc[i]);
    return h;
}

static void rehash(ls_stacks *t) {
    size_t cap = t->tab_cap * 2;
    uint32_t *tab = xcalloc(cap, sizeof *tab);
    for (size_t i = 0; i < t->n; i++) {
        const ls_stack *s = t->v[i];
        size_t k = stack_hash(s->proc, s->pc, s->depth) & (cap - 1);
        while (tab[k]) k = (k + 1) & (cap - 1);
        tab[k] = (uint32_t)i + 1;
    }
    free(t->tab);
    t->tab = tab;
    t->tab_cap = cap;
}

uint32_t stacks_intern(ls_stacks *t, uint32_t proc, const uint64_t *pc, uint32_t depth) {
    if (depth > LS_MAX_FRAMES) depth = LS_MAX_FRAMES;
    size_t k = stack_hash(proc, pc, depth) & (t->tab_cap - 1);
    for (; t->tab[k]; k = (k + 1) & (t->tab_cap - 1)) {
        const ls_stack *s = t->v[t->tab[k] - 1];
        if (s->proc == proc && s->depth == depth && !memcmp(s->pc, pc, depth * sizeof *pc))
            return t->tab[k] - 1;
    }
    if (t->n >= UINT32_MAX - 1) {
        fprintf(stderr, "%s: too many distinct call stacks\n", progname);
        exit(1);
    }
    ls_stack *s = xcalloc(1, sizeof *s + depth * sizeof *pc);
    s->proc = proc;
    s->depth = depth;
    if (depth) memcpy(s->pc, pc, depth * sizeof *pc);
    grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v);
    uint32_t id = (uint32_t)t->n;
    t->v[t->n++] = s;
    t->tab[k] = id + 1;
    if (t->n * 2 > t->tab_cap) rehash(t);
    return id;
}

const ls_stack *stacks_get(const ls_stacks *t, uint32_t id) {
    return id < t->n ? t->v[id] : NULL;
}

uint32_t stacks_count(const ls_stacks *t) { return (uint32_t)t->n; }
