/* aggregate.c - lock events -> per-lock and per-site figures.
 *
 * lock.c emits, per timed acquisition and after the unlock, on the
 * acquiring thread: [lock_stack], lock_acquired (acquire site, wait),
 * lock_released (release site, hold), with consecutive `seq`; and
 * lock_contended (acquire site) before it blocks.  So:
 *   - a site is the acquisition's stack (lock_stack), else its acquire
 *     call site alone;
 *   - an acquisition is contended when a lock_contended of the same thread
 *     and lock precedes it, or when it waited (wait_ns > 0);
 *   - a hold belongs to the site of the acquisition just before it on the
 *     same thread (the release site when that acquisition is missing);
 *   - "blocked": lock_contended names the holder's kernel tid (`owner`,
 *     when the holder's acquisition was timed); the contention is charged
 *     to that thread's next hold of the lock seen in the trace, i.e. the
 *     hold that made it wait (lock_stat's "contending points").  Per-thread
 *     order, not timestamps: a holder's events are written after its
 *     unlock, often late (the waiter it wakes takes its CPU).  What has no
 *     known holder stays `unattributed`;
 *   - owner switches: consecutive acquisitions by different threads, in
 *     event order (the events are written after the unlock, so two close
 *     acquisitions may be seen swapped).
 * Waiter columns of the sites add up to the lock's acquisitions,
 * contended and wait; holder columns to its hold figures.
 */
#include "trace_events.h"

#include <stdlib.h>
#include <string.h>

struct lkev_vec { lkev *v; size_t n, cap; };

lkev_vec *lkev_new(void) { return xcalloc(1, sizeof(lkev_vec)); }
void lkev_push(lkev_vec *v, const lkev *e) {
    grow((void **)&v->v, &v->cap, v->n + 1, sizeof *v->v);
    v->v[v->n++] = *e;
}
void lkev_free(lkev_vec *v) {
    if (!v) return;
    free(v->v);
    free(v);
}

/* ---- lock_stack events by (process, thread, seq) -------------------- */

typedef struct sment {
    int64_t  vtid, ts;
    uint64_t seq;
    uint32_t proc, lock, stack, used;
} sment;

struct stackmap {
    ls_report *r;
    sment *tab;
    size_t cap, n;
};

stackmap *stackmap_new(ls_report *r) {
    stackmap *m = xcalloc(1, sizeof *m);
    m->r = r;
    m->cap = 1024;
    m->tab = xcalloc(m->cap, sizeof *m->tab);
    return m;
}

void stackmap_free(stackmap *m) {
    if (!m) return;
    free(m->tab);
    free(m);
}

static size_t sm_slot(const stackmap *m, uint32_t proc, int64_t vtid, uint64_t seq) {
    return hash64(hash64(((uint64_t)proc << 40) ^ (uint64_t)vtid) ^ seq) & (m->cap - 1);
}

static void sm_put(stackmap *m, const sment *e) {
    size_t k = sm_slot(m, e->proc, e->vtid, e->seq);
    while (m->tab[k].used) k = (k + 1) & (m->cap - 1);
    m->tab[k] = *e;
    m->tab[k].used = 1;
    m->n++;
}

void stackmap_add(void *arg, int64_t vpid, int64_t vtid, uint64_t seq, int64_t ts,
                  uint32_t lock, const uint64_t *pc, uint32_t depth) {
    stackmap *m = arg;
    if ((m->n + 1) * 2 > m->cap) {
        sment *old = m->tab;
        size_t oc = m->cap;
        m->cap *= 2;
        m->tab = xcalloc(m->cap, sizeof *m->tab);
        m->n = 0;
        for (size_t i = 0; i < oc; i++)
            if (old[i].used) sm_put(m, &old[i]);
        free(old);
    }
    sment e;
    memset(&e, 0, sizeof e);
    e.proc = procs_index(m->r->procs, vpid);
    e.vtid = vtid;
    e.seq = seq;
    e.ts = ts;
    e.lock = lock;
    e.stack = stacks_intern(m->r->stacks, e.proc, pc, depth);
    sm_put(m, &e);
}

/* The stack emitted just before an acquisition: same thread, seq - 1,
 * same lock, not later than it (a reused tid may repeat a seq). */
static int sm_find(const stackmap *m, const lkev *e, uint32_t *stack) {
    if (!m || !m->n || !e->has_seq || !e->seq) return 0;
    uint64_t seq = e->seq - 1;
    int found = 0;
    int64_t best = 0;
    for (size_t k = sm_slot(m, e->proc, e->vtid, seq); m->tab[k].used; k = (k + 1) & (m->cap - 1)) {
        const sment *x = &m->tab[k];
        if (x->proc != e->proc || x->vtid != e->vtid || x->seq != seq || x->lock != e->lock_id)
            continue;
        if (e->ts && x->ts > e->ts) continue;
        if (!found || x->ts > best) {
            best = x->ts;
            *stack = x->stack;
            found = 1;
        }
    }
    return found;
}

/* ---- per-thread pairing --------------------------------------------- */

typedef struct thr {
    uint32_t proc, used;
    int64_t  vtid;
    uint32_t *owed;              /* per lock: contentions of other threads
                                    met while this one held it, to charge
                                    to its next release of that lock     */
    uint32_t pend_lock;          /* lock index + 1 of a pending contention */
    uint32_t acq_lock;           /* lock index + 1 of the last acquisition */
    uint32_t acq_stack;
    uint64_t acq_seq;
    int64_t  acq_ts;
} thr;

typedef struct thrtab { thr *v; size_t cap, n; } thrtab;

static thr *thread_of(thrtab *t, uint32_t proc, int64_t vtid) {
    if ((t->n + 1) * 2 > t->cap) {
        thr *old = t->v;
        size_t oc = t->cap;
        t->cap = oc ? oc * 2 : 64;
        t->v = xcalloc(t->cap, sizeof *t->v);
        for (size_t i = 0; i < oc; i++) {
            if (!old[i].used) continue;
            size_t k = hash64(((uint64_t)old[i].proc << 40) ^ (uint64_t)old[i].vtid) & (t->cap - 1);
            while (t->v[k].used) k = (k + 1) & (t->cap - 1);
            t->v[k] = old[i];
        }
        free(old);
    }
    size_t k = hash64(((uint64_t)proc << 40) ^ (uint64_t)vtid) & (t->cap - 1);
    for (; t->v[k].used; k = (k + 1) & (t->cap - 1))
        if (t->v[k].proc == proc && t->v[k].vtid == vtid) return &t->v[k];
    thr *x = &t->v[k];
    memset(x, 0, sizeof *x);
    x->used = 1;
    x->proc = proc;
    x->vtid = vtid;
    t->n++;
    return x;
}

static uint32_t single(ls_report *r, uint32_t proc, uint64_t pc) {
    return stacks_intern(r->stacks, proc, &pc, pc ? 1 : 0);
}

void aggregate(ls_report *r, const lkev_vec *v, const stackmap *m) {
    thrtab threads = { 0 };
    uint8_t *seen = xcalloc(procs_count(r->procs) + 1, 1);
    size_t pids_cap = 0;
    for (size_t i = 0; i < v->n; i++) {
        const lkev *e = &v->v[i];
        ls_lock *l = &r->locks[e->lock];
        thr *t = thread_of(&threads, e->proc, e->vtid);
        if (e->proc < procs_count(r->procs) && !seen[e->proc]) {
            seen[e->proc] = 1;
            grow((void **)&r->pids, &pids_cap, r->npids + 1, sizeof *r->pids);
            r->pids[r->npids++] = procs_vpid(r->procs, e->proc);
        }
        if (e->kind == LK_CONTENDED) {
            t->pend_lock = e->lock + 1;
            if (e->owner && (int64_t)e->owner != e->vtid) {
                thr *h = thread_of(&threads, e->proc, (int64_t)e->owner);
                t = NULL;   /* thread_of may have moved the table */
                if (!h->owed) h->owed = xcalloc(r->nlocks, sizeof *h->owed);
                h->owed[e->lock]++;
            }
        } else if (e->kind == LK_ACQUIRED) {
            uint32_t stack;
            if (!sm_find(m, e, &stack)) stack = single(r, e->proc, e->caller);
            ls_site *s = lock_site(l, stack);
            int contended = t->pend_lock == e->lock + 1 || e->ns > 0;
            t->pend_lock = 0;
            l->fig.acquisitions++;
            s->acquisitions++;
            if (contended) {
                l->fig.contended++;
                s->contended++;
                l->fig.wait_ns += e->ns;
                s->wait_ns += e->ns;
                if (e->ns > l->fig.wait_max_ns) l->fig.wait_max_ns = e->ns;
                if (e->ns > s->wait_max_ns) s->wait_max_ns = e->ns;
            }
            if (l->last_owner_proc != e->proc || l->last_owner_tid != e->vtid) l->fig.owner_switches++;
            l->last_owner_proc = e->proc;
            l->last_owner_tid = e->vtid;
            t->acq_lock = e->lock + 1;
            t->acq_stack = stack;
            t->acq_seq = e->seq;
            t->acq_ts = e->ts;
        } else {
            uint32_t stack;
            if (t->acq_lock == e->lock + 1 && (!e->has_seq || e->seq == t->acq_seq + 1)) {
                stack = t->acq_stack;
            } else {
                stack = single(r, e->proc, e->caller);
            }
            t->acq_lock = 0;
            ls_site *s = lock_site(l, stack);
            s->holds++;
            s->hold_ns += e->ns;
            if (e->ns > s->hold_max_ns) s->hold_max_ns = e->ns;
            l->fig.hold_count++;
            l->fig.hold_ns += e->ns;
            if (e->ns > l->fig.hold_max_ns) l->fig.hold_max_ns = e->ns;
            if (t->owed && t->owed[e->lock]) {
                s->blocked += t->owed[e->lock];
                t->owed[e->lock] = 0;
            }
        }
    }
    for (size_t i = 0; i < r->nlocks; i++) {
        ls_lock *l = &r->locks[i];
        uint64_t blocked = 0;
        for (size_t k = 0; k < l->nsites; k++) blocked += l->sites[k].blocked;
        l->unattributed = l->fig.contended > blocked ? l->fig.contended - blocked : 0;
    }
    for (size_t i = 0; i < threads.cap; i++) free(threads.v[i].owed);
    free(seen);
    free(threads.v);
}
