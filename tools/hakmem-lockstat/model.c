/* model.c - the report's locks and their per-site rows, and the order
 * they are printed in (locks by total wait, sites by wait or hold). */
#include "lockstat.h"

#include <stdlib.h>
#include <string.h>

ls_lock *report_lock(ls_report *r, const char *name, uint32_t id) {
    char nm[LS_NAME];
    if (name && *name) printable(nm, sizeof nm, name);
    else snprintf(nm, sizeof nm, "lock#%u", id);
    for (size_t i = 0; i < r->nlocks; i++)
        if (!strcmp(r->locks[i].name, nm)) return &r->locks[i];
    grow((void **)&r->locks, &r->locks_cap, r->nlocks + 1, sizeof *r->locks);
    ls_lock *l = &r->locks[r->nlocks++];
    memset(l, 0, sizeof *l);
    memcpy(l->name, nm, sizeof nm);
    l->id = id;
    l->last_owner_proc = l->last_owner_tid = -2;
    return l;
}

ls_site *lock_site(ls_lock *l, uint32_t stack) {
    if (!l->site_tab_cap) {
        l->site_tab_cap = 64;
        l->site_tab = xcalloc(l->site_tab_cap, sizeof *l->site_tab);
    }
    size_t k = hash64(stack) & (l->site_tab_cap - 1);
    for (; l->site_tab[k]; k = (k + 1) & (l->site_tab_cap - 1))
        if (l->sites[l->site_tab[k] - 1].stack == stack) return &l->sites[l->site_tab[k] - 1];
    grow((void **)&l->sites, &l->sites_cap, l->nsites + 1, sizeof *l->sites);
    ls_site *s = &l->sites[l->nsites];
    memset(s, 0, sizeof *s);
    s->stack = stack;
    l->site_tab[k] = (uint32_t)++l->nsites;
    if (l->nsites * 2 > l->site_tab_cap) {
        size_t cap = l->site_tab_cap * 2;
        uint32_t *t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < l->nsites; i++) {
            size_t j = hash64(l->sites[i].stack) & (cap - 1);
            while (t[j]) j = (j + 1) & (cap - 1);
            t[j] = (uint32_t)i + 1;
        }
        free(l->site_tab);
        l->site_tab = t;
        l->site_tab_cap = cap;
    }
    return s;
}

static int cmp_lock(const void *a, const void *b) {
    const ls_lock *x = a, *y = b;
    if (x->fig.wait_ns != y->fig.wait_ns) return x->fig.wait_ns > y->fig.wait_ns ? -1 : 1;
    if (x->fig.contended != y->fig.contended) return x->fig.contended > y->fig.contended ? -1 : 1;
    if (x->fig.acquisitions != y->fig.acquisitions) return x->fig.acquisitions > y->fig.acquisitions ? -1 : 1;
    return strcmp(x->name, y->name);
}

void report_sort(ls_report *r) {
    if (r->nlocks > 1) qsort(r->locks, r->nlocks, sizeof *r->locks, cmp_lock);
    /* Site tables index the site arrays: printing sorts copies instead. */
}

void report_free(ls_report *r) {
    for (size_t i = 0; i < r->nlocks; i++) {
        free(r->locks[i].sites);
        free(r->locks[i].site_tab);
    }
    free(r->locks);
    free(r->pids);
    stacks_free(r->stacks);
    procs_free(r->procs);
    elf_cache_free();
    memset(r, 0, sizeof *r);
}

static int by_hold;
static int cmp_site(const void *a, const void *b) {
    const ls_site *x = *(ls_site *const *)a, *y = *(ls_site *const *)b;
    uint64_t kx = by_hold ? x->hold_ns : x->wait_ns, ky = by_hold ? y->hold_ns : y->wait_ns;
    if (kx != ky) return kx > ky ? -1 : 1;
    kx = by_hold ? x->blocked : x->contended;
    ky = by_hold ? y->blocked : y->contended;
    if (kx != ky) return kx > ky ? -1 : 1;
    kx = by_hold ? x->holds : x->acquisitions;
    ky = by_hold ? y->holds : y->acquisitions;
    if (kx != ky) return kx > ky ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

ls_site **lock_sites_sorted(const ls_lock *l, int hold, size_t *n) {
    ls_site **v = xcalloc(l->nsites ? l->nsites : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < l->nsites; i++) {
        const ls_site *s = &l->sites[i];
        if (hold ? s->holds : s->acquisitions) v[k++] = (ls_site *)s;
    }
    by_hold = hold;
    if (k > 1) qsort(v, k, sizeof *v, cmp_site);
    *n = k;
    return v;
}

void report_symbolize(ls_report *r) {
    ls_sym s;
    for (size_t i = 0; i < r->nlocks; i++) {
        const ls_lock *l = &r->locks[i];
        for (size_t k = 0; k < l->nsites; k++) {
            const ls_stack *st = stacks_get(r->stacks, l->sites[k].stack);
            for (uint32_t d = 0; st && d < st->depth; d++)
                procs_symbolize(r->procs, st->proc, st->pc[d], &s);
        }
    }
    r->nchanged = procs_changed_objects(r->procs, &r->changed);
}
