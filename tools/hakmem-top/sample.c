/* sample.c - snapshots to figures: per-class rows, rates, box totals,
 * threads and locks, and the sort orders of the views.
 *
 * Rates are differences between two snapshots over the time between them.
 * The first sample of a live process has no predecessor: its rates are
 * averages since the segment was created (so `-b -n 1` already shows
 * rates); for a segment read from a file they are 0.  A count that seems
 * to go backwards (a hostile writer) gives a rate of 0, never a negative.
 */
#include "top.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *const col_key[COL_COUNT] = {
    "class", "size", "alloc", "free", "uh", "sll", "refill", "drain",
    "remote", "live", "bytes", "slabs",
};
const char *const col_title[COL_COUNT] = {
    "CLASS", "SIZE", "ALLOC/s", "FREE/s", "UH%", "SLL%", "REFILL/s", "DRAIN/s",
    "REMOTE/s", "LIVE", "LIVE_B", "SLABS",
};
/* Aliases: the JSON field names. */
static const char *const col_alias[COL_COUNT] = {
    "name", "block", "alloc_rate", "free_rate", "ultrahot_hit_pct", "sll_hit_pct", "refills",
    "drains", "remote_frees", "live_blocks", "live_bytes", "slab",
};

int col_parse(const char *key) {
    for (int i = 0; i < COL_COUNT; i++)
        if (!strcmp(key, col_key[i]) || !strcmp(key, col_alias[i])) return i;
    return -1;
}

int sampler_open(hkss_sampler *s, const top_opts *o, char *err, size_t errlen) {
    return hkss_sampler_open(s, o->pid, o->segment_file, err, errlen);
}

void view_free(top_view *v) {
    free(v->threads);
    free(v->locks);
    v->threads = NULL;
    v->locks = NULL;
    v->nthreads = v->threads_alloc = v->nlocks = v->locks_alloc = 0;
}

static uint64_t thread_allocs(const hks_thread *t) {
    uint64_t n = 0;
    for (int c = 0; c < HKS_TINY_CLASSES; c++) n += hkss_class_allocs(&t->cls[c]);
    for (int k = 0; k < HKS_TIERS; k++) n += t->tier[k].allocs;
    return n;
}
static uint64_t thread_frees(const hks_thread *t) {
    uint64_t n = 0;
    for (int c = 0; c < HKS_TINY_CLASSES; c++) n += t->cls[c].frees;
    for (int k = 0; k < HKS_TIERS; k++) n += t->tier[k].frees;
    return n;
}
/* One hks_class field summed over the classes of a block. */
static uint64_t cls_sum(const hks_thread *t, size_t off) {
    uint64_t n = 0;
    for (int c = 0; c < HKS_TINY_CLASSES; c++) {
        uint64_t v;
        memcpy(&v, (const char *)&t->cls[c] + off, sizeof v);
        n += v;
    }
    return n;
}
#define THREAD_SUM(t, field) cls_sum((t), offsetof(hks_class, field))

static void uh_sll(const hks_thread *t, double *uh, double *sll) {
    uint64_t uh_h = THREAD_SUM(t, uh_hits), uh_m = THREAD_SUM(t, uh_misses);
    uint64_t sh = THREAD_SUM(t, sll_hits), sm = THREAD_SUM(t, sll_misses);
    *uh = hkss_pct(uh_h, uh_h + uh_m);
    *sll = hkss_pct(sh, sh + sm);
}

static void thread_row(top_thread_row *r, const hks_thread *c, const hks_thread *p, double dt) {
    static const hks_thread zero;
    if (!p) p = &zero;
    r->allocs = thread_allocs(c);
    r->frees = thread_frees(c);
    r->alloc_rate = hkss_rate(r->allocs, thread_allocs(p), dt);
    r->free_rate = hkss_rate(r->frees, thread_frees(p), dt);
    r->refill_rate = hkss_rate(THREAD_SUM(c, refills), THREAD_SUM(p, refills), dt);
    r->drain_rate = hkss_rate(THREAD_SUM(c, drains), THREAD_SUM(p, drains), dt);
    uint64_t rs = THREAD_SUM(c, remote_sent), rr = THREAD_SUM(c, remote_recv);
    uint64_t prs = THREAD_SUM(p, remote_sent), prr = THREAD_SUM(p, remote_recv);
    for (int k = 0; k < HKS_TIERS; k++) {
        rs += c->tier[k].remote_sent; rr += c->tier[k].remote_recv;
        prs += p->tier[k].remote_sent; prr += p->tier[k].remote_recv;
    }
    r->remote_rate = hkss_rate(rs, prs, dt);
    r->recv_rate = hkss_rate(rr, prr, dt);
    uh_sll(c, &r->uh_pct, &r->sll_pct);
    r->net = (int64_t)(r->allocs - r->frees);
}

static const hks_thread *find_prev_thread(const hkss_snapshot *p, const hkss_thread *t) {
    for (uint32_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].index == t->index && p->threads[i].c.tid == t->c.tid) return &p->threads[i].c;
    return NULL;
}

static int oom(char *err, size_t errlen) {
    snprintf(err, errlen, "out of memory");
    return HKSS_ENOMEM;
}

static const char *const tier_name[HKS_TIERS] = { "Mid", "L2.5", "Large" };

static int build(const hkss_sampler *s, top_view *v, char *err, size_t errlen) {
    const hkss_info *in = hkss_info_of(s->seg);
    const hkss_snapshot *c = &s->cur;
    const hkss_snapshot *p = s->have_prev ? &s->prev : NULL;
    static hkss_snapshot zero_snap;
    double dt;
    if (p) dt = hkss_sampler_interval(s);
    else if (s->pid && c->real_ns > in->start_time_ns) dt = (double)(c->real_ns - in->start_time_ns) / 1e9;
    else dt = 0;
    if (!p) p = &zero_snap;
    const hks_thread *cs = &c->sum, *ps = &p->sum;

    v->pid = in->pid;
    memcpy(v->cmd, in->cmdline, sizeof v->cmd);
    v->time = (double)c->real_ns / 1e9;
    v->uptime = c->real_ns > in->start_time_ns ? (double)(c->real_ns - in->start_time_ns) / 1e9 : 0;
    v->interval = dt;
    v->sample = s->samples;
    v->rss = s->pid ? hkss_proc_rss(s->pid) : 0;
    v->live_bytes = hkss_live_bytes(in, cs);
    v->consistent = c->consistent;

    for (int i = 0; i < TOP_ROWS; i++) {
        top_row *r = &v->rows[i];
        memset(r, 0, sizeof *r);
        if (i < HKS_TINY_CLASSES) {
            const hks_class *k = &cs->cls[i], *pk = &ps->cls[i];
            snprintf(r->name, sizeof r->name, "C%d", i);
            r->tier = -1;
            r->size = in->class_size[i];
            r->allocs = hkss_class_allocs(k);
            r->frees = k->frees;
            r->refills = k->refills;
            r->drains = k->drains;
            r->remote = k->remote_sent;
            r->alloc_rate = hkss_rate(r->allocs, hkss_class_allocs(pk), dt);
            r->free_rate = hkss_rate(k->frees, pk->frees, dt);
            r->refill_rate = hkss_rate(k->refills, pk->refills, dt);
            r->drain_rate = hkss_rate(k->drains, pk->drains, dt);
            r->remote_rate = hkss_rate(k->remote_sent, pk->remote_sent, dt);
            r->uh_pct = (in->ultrahot_mask >> i & 1) ? hkss_pct(k->uh_hits, k->uh_hits + k->uh_misses) : -1;
            r->sll_pct = hkss_pct(k->sll_hits, k->sll_hits + k->sll_misses);
            r->live_blocks = hkss_class_live(k);
            r->live_bytes = r->live_blocks * r->size;
            r->slabs = hkss_class_slabs(k);
        } else {
            int t = i - HKS_TINY_CLASSES;
            const hks_tier *k = &cs->tier[t], *pk = &ps->tier[t];
            v->tier[t] = *k;
            snprintf(r->name, sizeof r->name, "%s", tier_name[t]);
            r->tier = t;
            r->size = in->tier_max[t];
            r->allocs = k->allocs;
            r->frees = k->frees;
            r->refills = k->refills;
            r->remote = k->remote_sent;
            r->alloc_rate = hkss_rate(k->allocs, pk->allocs, dt);
            r->free_rate = hkss_rate(k->frees, pk->frees, dt);
            r->refill_rate = hkss_rate(k->refills, pk->refills, dt);
            r->remote_rate = hkss_rate(k->remote_sent, pk->remote_sent, dt);
            r->uh_pct = r->sll_pct = -1;
            r->live_blocks = hkss_sub0(k->allocs, k->frees);
            r->live_bytes = hkss_sub0(k->bytes_alloc, k->bytes_freed);
            r->slabs = hkss_sub0(k->segments, k->segments_freed);
        }
    }

    const hks_box *b = &cs->box, *pb = &ps->box;
    const hks_global *g = &c->global;
    v->ss_live = g->ss_live;
    v->ss_map = b->ss_map;
    v->ss_unmap = b->ss_unmap;
    v->slots_unused = g->slots_unused;
    v->slots_active = g->slots_active;
    v->slots_empty = g->slots_empty;
    v->sp_stage[0] = b->sp_stage1;
    v->sp_stage[1] = b->sp_stage2;
    v->sp_stage[2] = b->sp_stage3;
    v->sp_release = b->sp_release;
    v->slab_orphan = b->slab_orphan;
    v->slab_adopt = b->slab_adopt;
    v->inbox_recv = b->inbox_recv;
    v->lru_count = g->lru_count;
    v->lru_bytes = g->lru_bytes;
    v->lru_push = b->lru_push;
    v->lru_pop = b->lru_pop;
    v->lru_evict = b->lru_evict;
    v->os_map = b->os_map;
    v->os_unmap = b->os_unmap;
    v->os_map_bytes = b->os_map_bytes;
    v->os_unmap_bytes = b->os_unmap_bytes;
    v->os_map_rate = hkss_rate(b->os_map, pb->os_map, dt);
    v->os_unmap_rate = hkss_rate(b->os_unmap, pb->os_unmap, dt);
    v->committed = g->committed_bytes;
    v->arena_base = g->arena_base;
    v->arena_size = g->arena_size;
    v->large_live_bytes = g->large_live_bytes;
    v->bigcache_bytes = g->bigcache_bytes;
    v->threads_live = g->threads_live;
    v->threads_total = g->threads_total;
    v->threads_overflow = c->threads_overflow;

    /* threads: live blocks, then the retired and shared blocks */
    v->nthreads = 0;
    if (hkss_grow((void **)&v->threads, &v->threads_alloc, c->nthreads + 2, sizeof(top_thread_row)))
        return oom(err, errlen);
    for (uint32_t i = 0; i < c->nthreads; i++) {
        top_thread_row *r = &v->threads[v->nthreads++];
        memset(r, 0, sizeof *r);
        const hkss_thread *t = &c->threads[i];
        r->index = t->index;
        r->tid = t->c.tid;
        r->os_tid = t->c.os_tid;
        thread_row(r, &t->c, s->have_prev ? find_prev_thread(&s->prev, t) : NULL, dt);
    }
    top_thread_row *r = &v->threads[v->nthreads++];
    memset(r, 0, sizeof *r);
    r->label = "retired";
    thread_row(r, &c->retired, &p->retired, dt);
    r = &v->threads[v->nthreads++];
    memset(r, 0, sizeof *r);
    r->index = HKS_SHARED_BLOCK;
    r->label = "shared";
    thread_row(r, &c->shared, &p->shared, dt);

    /* locks */
    v->nlocks = 0;
    v->lock_acq = v->lock_contended = 0;
    uint64_t prev_acq = 0;
    if (hkss_grow((void **)&v->locks, &v->locks_alloc, c->nlocks, sizeof(top_lock_row)))
        return oom(err, errlen);
    for (uint32_t i = 0; i < c->nlocks; i++) {
        const hkss_lock *l = &c->locks[i], *pl = hkss_lock_by_id(p, l->c.id);
        top_lock_row *lr = &v->locks[v->nlocks++];
        memset(lr, 0, sizeof *lr);
        memcpy(lr->name, l->name, sizeof lr->name);
        lr->id = l->c.id;
        hkss_lock_figures_of(l, pl, dt, &lr->fig);
        lr->contended_pct = hkss_pct(lr->fig.contended, lr->fig.acquisitions);
        v->lock_acq += lr->fig.acquisitions;
        v->lock_contended += lr->fig.contended;
        prev_acq += pl ? pl->c.acquisitions : 0;
    }
    v->lock_acq_rate = hkss_rate(v->lock_acq, prev_acq, dt);
    v->lock_contended_pct = hkss_pct(v->lock_contended, v->lock_acq);
    return HKSS_OK;
}

int sampler_next(hkss_sampler *s, top_view *v, char *err, size_t errlen) {
    int rc = hkss_sampler_next(s, err, errlen);
    return rc ? rc : build(s, v, err, errlen);
}

/* ---- ordering -------------------------------------------------------- */

static double col_value(const top_row *r, int col) {
    switch (col) {
    case COL_SIZE:   return r->tier == HKS_TIER_LARGE ? 1e18 : r->size;
    case COL_ALLOC:  return r->alloc_rate;
    case COL_FREE:   return r->free_rate;
    case COL_UH:     return r->uh_pct;
    case COL_SLL:    return r->sll_pct;
    case COL_REFILL: return r->refill_rate;
    case COL_DRAIN:  return r->drain_rate;
    case COL_REMOTE: return r->remote_rate;
    case COL_LIVE:   return (double)r->live_blocks;
    case COL_BYTES:  return (double)r->live_bytes;
    case COL_SLABS:  return (double)r->slabs;
    default:         return 0;
    }
}

static const top_view *sort_view;
static int sort_col, sort_rev;

static int cmp_rows(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    int d = 0;
    if (sort_col != COL_CLASS) {
        double x = col_value(&sort_view->rows[i], sort_col), y = col_value(&sort_view->rows[j], sort_col);
        /* numbers: largest first; size: smallest first, like the class order */
        d = (x < y) - (x > y);
        if (sort_col == COL_SIZE) d = -d;
    }
    if (!d) d = (i > j) - (i < j);
    return sort_rev ? -d : d;
}

void sort_rows(const top_view *v, int col, int reverse, int order[TOP_ROWS]) {
    for (int i = 0; i < TOP_ROWS; i++) order[i] = i;
    sort_view = v;
    sort_col = col;
    sort_rev = reverse;
    qsort(order, TOP_ROWS, sizeof order[0], cmp_rows);
}

static int cmp_threads(const void *a, const void *b) {
    const top_thread_row *x = a, *y = b;
    /* the retired and shared rows stay last */
    if (!!x->label != !!y->label) return x->label ? 1 : -1;
    if (x->label) return (x->index > y->index) - (x->index < y->index);
    int d = (x->alloc_rate < y->alloc_rate) - (x->alloc_rate > y->alloc_rate);
    if (!d) d = (x->allocs < y->allocs) - (x->allocs > y->allocs);
    if (!d) d = (x->index > y->index) - (x->index < y->index);
    return sort_rev ? -d : d;
}

void sort_threads(top_view *v, int reverse) {
    sort_rev = reverse;
    qsort(v->threads, v->nthreads, sizeof *v->threads, cmp_threads);
}

static int cmp_locks(const void *a, const void *b) {
    const top_lock_row *x = a, *y = b;
    int d = (x->fig.wait_ns < y->fig.wait_ns) - (x->fig.wait_ns > y->fig.wait_ns);
    if (!d) d = (x->fig.acquisitions < y->fig.acquisitions) - (x->fig.acquisitions > y->fig.acquisitions);
    if (!d) d = (x->id > y->id) - (x->id < y->id);
    return sort_rev ? -d : d;
}

void sort_locks(top_view *v, int reverse) {
    sort_rev = reverse;
    qsort(v->locks, v->nlocks, sizeof *v->locks, cmp_locks);
}
