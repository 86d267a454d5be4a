/* pool_owner.c - the pool ownership box (see pool_owner.h): who owns a
 * Mid / L2.5 segment, and how blocks and segments change hands.
 *
 * Frees from other threads
 *   Each thread state has one MPSC queue (`remote`, a Treiber stack of
 *   blocks: push = one CAS, the owner takes all with one exchange).  A freer
 *   that is not the owner tags the block and pushes it onto the owner's
 *   queue.  The owner drains its queue on every allocation slow path and
 *   every gc_interval frees; drained blocks go back to their pages.  The
 *   queue line is the only shared write; page records are never written by
 *   other threads (they read only the read-mostly geometry).
 *   A block drained by a state that does not own its segment (the state was
 *   recycled while a pusher still held its pointer) is routed again.
 *
 * Thread exit (pool_thread_exit from the exiting thread)
 *   1. the caches are flushed to the pages;
 *   2. the queue is closed: exchange(remote, CLOSED), the taken blocks are
 *      freed; a pusher that finds CLOSED re-reads the segment owner and
 *      waits (sched_yield) until step 3 has changed it;
 *   3. empty pages are retired, empty segments are parked (pool.c: purged,
 *      kept for the next thread that needs a segment, at most park_max per
 *      kind, the rest go back to the arena), the others get their dirty
 *      units purged and become POOL_ORPHAN on the kind's orphan list (under
 *      the lock); the state is recycled.
 *   Blocks in orphaned segments stay valid.  A free into an orphaned
 *   segment returns the block to its page in place, under the lock (the
 *   units of pages that empty are purged in batches, see
 *   pool_orphan_free: nobody owns them to reuse them), and an orphan that
 *   empties is parked.  The freer does not adopt the segment:
 *   the typical freer is a thread collecting what dead workers handed it,
 *   which may never allocate from the tier, and as an adopter it became the
 *   owner of every dead thread's segments, parked their blocks in its
 *   per-class caches (a block per segment pins the segment) and kept the
 *   ones that emptied, while each new thread committed fresh segments
 *   (measured: 150-200 segments and 12-17 MiB of RSS held by a main thread
 *   that held no block, after 10,000 short-lived threads).
 *   A thread that needs a new page adopts orphans before asking for a
 *   segment (oldest first, and only segments with room: a page with blocks
 *   to hand out, or an eighth of the units free), so a stream of
 *   short-lived threads reuses the same segments.
 *
 * Fork
 *   The prepare handler holds the kind lock, so the orphan list, the free
 *   record lists and every ownership change (each made in one critical
 *   section) are consistent in the child.  The per-thread lists of the
 *   threads that vanished are not (a thread may have been in the middle of
 *   a list update): pool_abandon finds their segments through the registry
 *   of all segment records, orphans them, and returns their cached and
 *   queued blocks through the orphan path; nothing walks their lists.  So
 *   a record names a thread only while it is whole: pool_seg_new names
 *   the owner last, pool_seg_release forgets it first.
 *
 * Locks: the kind lock ("mid_pool" / "l25_pool") guards the orphan lists,
 * the park, in-place frees into orphans and every change of a segment's
 * owner away from or to POOL_ORPHAN; it is
 * never held on a fast path, and tracepoints are emitted outside it.
 */
#include "pool_owner.h"
#include "stats.h"

#include <sched.h>
#include <stddef.h>

/* ---- thread states --------------------------------------------------- */

/* The calling thread's state, created on first use; NULL if it may not own
 * anything (exiting) or out of memory. */
pool_tstate *pool_tstate_get(pool_kind *k) {
    pool_tstate *t = pool_tls[k->id];
    if (t) return t;
    hk_tls_t *self = hk_self();
    if (!pool_may_own(k->id) || !self->heap) return NULL;
    t = pool_tstate_new(k);
    if (!t) return NULL;
    t->heap = self->heap;
    if (k->id == POOL_MID) self->heap->mid = t; else self->heap->l25 = t;
    pool_tls[k->id] = t;
    return t;
}

/* ---- adoption of orphaned segments ------------------------------------- */

/* Is s worth adopting for an allocation: a page with a freed or uncarved
 * block, or free units for a new page (an eighth of the segment: a unit or
 * two left behind by big pages do not count). */
static int pool_seg_has_room(pool_seg *s) {
    if (pool_popcount(s->free_mask) >= POOL_UNITS / 8) return 1;
    for (unsigned u = 0; u < POOL_UNITS;) {
        if (!s->geo[u].bsize) { u++; continue; }
        pool_page *pg = &s->pages[u];
        if (pg->free || pg->reserved < pg->capacity) return 1;
        u += pg->units ? pg->units : 1;
    }
    return 0;
}

/* The orphan lists (caller holds k->lock).  Only segments with room are
 * worth adopting for an allocation; the others wait on orphans_full for
 * frees (which give them room, or empty them). */
static void pool_orphan_link(pool_kind *k, pool_seg *s) {
    if (!pool_seg_has_room(s)) {
        slist_link(&k->orphans_full, s, POOL_SL_ORPHAN_FULL);
        return;
    }
    s->next = NULL;
    s->prev = k->orphans_tail;
    if (k->orphans_tail) k->orphans_tail->next = s; else k->orphans = s;
    k->orphans_tail = s;
    s->list = POOL_SL_ORPHAN;
    atomic_store_explicit(&k->norphans, atomic_load_explicit(&k->norphans, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void pool_orphan_unlink(pool_kind *k, pool_seg *s) {
    if (s->list == POOL_SL_ORPHAN_FULL) {
        slist_unlink(&k->orphans_full, s);
        return;
    }
    if (s == k->orphans_tail) k->orphans_tail = s->prev;
    slist_unlink(&k->orphans, s);
    atomic_store_explicit(&k->norphans, atomic_load_explicit(&k->norphans, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

/* s leaves the orphans: its deferred units stop counting (caller holds
 * k->lock). */
static void pool_orphan_undefer(pool_kind *k, pool_seg *s) {
    if (!s->odirty) return;
    atomic_store_explicit(&k->orphan_dirty, atomic_load_explicit(&k->orphan_dirty, memory_order_relaxed) -
                          pool_units_bytes(s->odirty), memory_order_relaxed);
    s->odirty = 0;
}

/* Purge s's deferred units (caller holds k->lock: an adopter must not
 * carve a unit being purged). */
static size_t pool_orphan_purge(pool_kind *k, pool_seg *s) {
    uint32_t d = s->odirty & s->dirty_mask;
    pool_orphan_undefer(k, s);
    return d ? pool_purge_units(s, d) : 0;
}

size_t pool_orphans_purge(pool_kind *k) {
    if (!atomic_load_explicit(&k->orphan_dirty, memory_order_relaxed)) return 0;
    size_t n = 0;
    hak_lock_acquire(&k->lock);
    for (pool_seg *s = k->orphans; s; s = s->next) n += pool_orphan_purge(k, s);
    for (pool_seg *s = k->orphans_full; s; s = s->next) n += pool_orphan_purge(k, s);
    hak_lock_release(&k->lock);
    return n;
}

/* Make orphan s t's (caller holds k->lock): off the orphan list, owner
 * and t's segment list in one critical section, so a fork child finds it
 * on t's list if it finds t at all. */
static void pool_orphan_take(pool_kind *k, pool_tstate *t, pool_seg *s) {
    pool_orphan_unlink(k, s);
    pool_orphan_undefer(k, s);   /* t takes the dirty units over */
    atomic_store_explicit(&s->owner, t, memory_order_release);
    s->cached = 0;
    uint8_t l = s->free_mask ? POOL_SL_AVAIL : POOL_SL_FULL;
    slist_link(&t->segs[l], s, l);
    t->nsegs++;
    if (t->nsegs - t->ncached > t->used_peak) t->used_peak = t->nsegs - t->ncached;
}

/* s was just taken by t (pool_orphan_take): take its pages in.  Returns 1
 * if the segment was released (it held nothing). */
int pool_adopt(pool_kind *k, pool_tstate *t, pool_seg *s) {
    t->dirty_bytes += pool_units_bytes(s->dirty_mask);
    for (unsigned u = 0; u < POOL_UNITS;) {
        if (!s->geo[u].bsize || s->geo[u].unit != u) { u++; continue; }
        pool_page *pg = &s->pages[u];
        u += pg->units;
        pg->prev = pg->next = NULL;
        if (pg->flags & POOL_PG_FULL) continue;
        plist_push_tail(t, pg);
        if (pg->used == 0 && pool_page_retire(k, t, pg)) return 1;
    }
    return s->free_mask == POOL_ALL_UNITS && pool_seg_empty(k, t, s);
}

pool_seg *pool_orphan_pop(pool_kind *k, pool_tstate *t) {
    hak_lock_acquire(&k->lock);
    pool_seg *s = k->orphans;
    if (s) pool_orphan_take(k, t, s);
    hak_lock_release(&k->lock);
    return s;
}

/* A free into an orphaned segment, in place under the kind lock (the
 * freer does not adopt it: see the header comment).  A page that empties
 * leaves its units dirty (deferred: odirty), and they are purged when the
 * segment empties (parked, or released), when the kind's deferred bytes
 * exceed an eighth of its per-thread dirty bound (then this segment's
 * deferred units), by any thread's decay pass and by malloc_trim: one
 * madvise per emptied page made a stream of frees of a dead thread's
 * blocks 3-5 times slower.  Returns 0 if the segment was not orphaned any
 * more (the caller re-reads the owner). */
static int pool_orphan_free(pool_kind *k, pool_seg *s, pool_block *b) {
    hak_lock_acquire(&k->lock);
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != POOL_ORPHAN) {
        hak_lock_release(&k->lock);
        return 0;
    }
    pool_page *pg = pool_page_of(s, b);
    b->next = pg->free;
    pg->free = b;
    pg->flags &= (uint8_t)~POOL_PG_FULL;   /* adopters list every non-FULL page */
    int emptied = 0;
    if (s->list == POOL_SL_ORPHAN_FULL) {   /* it has room now */
        pool_orphan_unlink(k, s);
        pool_orphan_link(k, s);
    }
    if (--pg->used == 0) {
        uint32_t dirty;
        uint32_t m = pool_page_clear(s, pg, &dirty);
        s->free_mask |= m;
        s->nfree += pg->units;
        s->dirty_mask |= dirty;
        if (s->free_mask == POOL_ALL_UNITS) {
            /* empty: nobody else can reach it once it is off the list and
             * dead; parked (purged outside the lock) or released */
            pool_orphan_unlink(k, s);
            pool_orphan_undefer(k, s);
            atomic_store_explicit(&s->owner, POOL_DEAD, memory_order_release);
            emptied = 1;
        } else if (dirty) {
            s->odirty |= dirty;
            size_t od = atomic_load_explicit(&k->orphan_dirty, memory_order_relaxed) + pool_units_bytes(dirty);
            atomic_store_explicit(&k->orphan_dirty, od, memory_order_relaxed);
            if (od > k->dirty_max / 8) pool_orphan_purge(k, s);
        }
    }
    hak_lock_release(&k->lock);
    if (emptied) pool_seg_park(k, s);
    return 1;
}

/* ---- the remote queue --------------------------------------------------- */

/* Deliver a tagged block to whoever owns its segment now. */
void pool_route(pool_kind *k, pool_seg *s, pool_block *b) {
    for (;;) {
        pool_tstate *o = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (o == POOL_DEAD) return;  /* no live block can be here */
        if (o == POOL_ORPHAN) {
            if (pool_orphan_free(k, s, b)) return;
            continue;
        }
        pool_tstate *me = pool_tls[k->id];
        if (o == me) {
            pool_page_free(k, me, pool_page_of(s, b), b);
            return;
        }
        uintptr_t h = atomic_load_explicit(&o->remote, memory_order_relaxed);
        while (h != POOL_CLOSED) {
            b->next = (pool_block *)h;
            if (atomic_compare_exchange_weak_explicit(&o->remote, &h, (uintptr_t)b,
                                                      memory_order_release, memory_order_relaxed)) {
                pool_ctr(k)->remote_sent++;
                return;
            }
        }
        /* The owner is exiting: it changes the owner right after. */
        sched_yield();
    }
}

/* Take every block of t's queue back (closing: and close it). */
void pool_drain(pool_kind *k, pool_tstate *t, int closing) {
    uintptr_t h = atomic_exchange_explicit(&t->remote, closing ? POOL_CLOSED : 0,
                                           memory_order_acquire);
    if (h == POOL_CLOSED) h = 0;
    if (!h) return;
    uint64_t n = 0;
    while (h) {
        pool_block *b = (pool_block *)h;
        h = (uintptr_t)b->next;
        n++;
        pool_seg *s = pool_seg_of(b);
        if (!s) continue;
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == t)
            pool_page_free(k, t, pool_page_of(s, b), b);
        else
            pool_route(k, s, b);
    }
    pool_ctr(k)->remote_recv += n;
}

/* ---- exit, trim ---------------------------------------------------------- */

/* Retire every empty page on t's lists. */
static void pool_retire_empty(pool_kind *k, pool_tstate *t) {
    for (unsigned c = 0; c < k->nclasses; c++) {
        pool_page *pg = t->head[c];
        while (pg) {
            pool_page *next = pg->next;   /* never in a segment this releases */
            if (pg->used == 0) pool_page_retire(k, t, pg);
            pg = next;
        }
    }
}

/* Close t: caches flushed, queue closed and drained, empty pages and
 * segments given back, the rest orphaned.  Fork-safe: each segment moves
 * from t to the orphan list inside one critical section of the kind lock
 * (which the fork prepare handler takes), and *slot (the heap's pointer to
 * t) is cleared in the last one, so a fork child sees either a state that
 * still names all its segments (and closes it again, see
 * pool_thread_exit) or one that is fully closed. */
void pool_tstate_close(pool_kind *k, pool_tstate *t, void **slot) {
    t->keep = 0;
    t->closing = 1;
    for (unsigned c = 0; c < k->nclasses; c++) pool_cache_flush(k, t, c, 0);
    pool_drain(k, t, 1);
    pool_retire_empty(k, t);
    for (unsigned l = 0; l < 2; l++) {
        pool_seg *s;
        while ((s = t->segs[l]) != NULL) {
            s->cached = 0;
            if (s->free_mask == POOL_ALL_UNITS) {
                slist_unlink(&t->segs[l], s);
                pool_seg_park(k, s);
                continue;
            }
            pool_purge_units(s, s->dirty_mask);
            hak_lock_acquire(&k->lock);
            slist_unlink(&t->segs[l], s);
            atomic_store_explicit(&s->owner, POOL_ORPHAN, memory_order_release);
            pool_orphan_link(k, s);
            hak_lock_release(&k->lock);
        }
    }
    t->dirty_bytes = 0;
    hak_lock_acquire(&k->lock);
    if (slot) *slot = NULL;
    t->heap = NULL;
    t->next_free = k->free_ts;
    k->free_ts = t;
    hak_lock_release(&k->lock);
}

/* The state of a thread that does not exist any more (a fork child): the
 * thread may have been anywhere in its own code when another thread forked,
 * so its lists are not trusted.  Its segments are found through the record
 * registry and orphaned; the blocks parked in its caches (walked at most
 * `cap` deep) and its queue go back to their pages through the orphan
 * path, which touches no list of t. */
static void pool_abandon(pool_kind *k, pool_tstate *t, void **slot) {
    uintptr_t q = atomic_exchange_explicit(&t->remote, POOL_CLOSED, memory_order_acquire);
    if (q == POOL_CLOSED) q = 0;
    hak_lock_acquire(&k->lock);
    for (pool_chunk *c = k->seg_chunks; c; c = c->next)
        for (size_t off = POOL_CHUNK_HDR; off + sizeof(pool_seg) <= c->used; off += sizeof(pool_seg)) {
            pool_seg *s = (pool_seg *)((char *)c + off);
            if (atomic_load_explicit(&s->owner, memory_order_relaxed) != t) continue;
            s->cached = 0;
            atomic_store_explicit(&s->owner, POOL_ORPHAN, memory_order_release);
            pool_orphan_link(k, s);
        }
    hak_lock_release(&k->lock);
    for (unsigned c = 0; c < k->nclasses; c++) {
        pool_block *b = t->cache[c].head;
        for (uint32_t n = 0; b && n < t->cache[c].cap; n++) {
            pool_block *next = b->next;
            pool_seg *s = pool_seg_of(b);
            if (s) pool_route(k, s, b);
            b = next;
        }
    }
    while (q) {
        pool_block *b = (pool_block *)q;
        q = (uintptr_t)b->next;
        pool_seg *s = pool_seg_of(b);
        if (s) pool_route(k, s, b);
    }
    hak_lock_acquire(&k->lock);
    *slot = NULL;
    t->heap = NULL;
    t->next_free = k->free_ts;
    k->free_ts = t;
    hak_lock_release(&k->lock);
}

void pool_thread_exit(pool_kind *k, hk_heap *h) {
    if (!h) return;
    void **slot = k->id == POOL_MID ? &h->mid : &h->l25;
    pool_tstate *t = *slot;
    if (h != hk_tls.heap) {   /* a thread that vanished in a fork child */
        if (t) pool_abandon(k, t, slot);
        return;
    }
    pool_gone |= (uint8_t)(1u << k->id);
    if (!t) return;
    if (t == pool_tls[k->id]) pool_tls[k->id] = NULL;
    pool_tstate_close(k, t, slot);
}

size_t pool_trim(pool_kind *k) {
    size_t parked = pool_park_flush(k) + pool_orphans_purge(k);
    pool_tstate *t = pool_tls[k->id];
    if (!t) return parked;
    t->keep = 0;
    t->released = 0;
    for (unsigned c = 0; c < k->nclasses; c++) pool_cache_flush(k, t, c, 0);
    pool_drain(k, t, 0);
    pool_retire_empty(k, t);
    pool_seg *s = t->segs[POOL_SL_AVAIL];
    while (s) {
        pool_seg *next = s->next;
        if (s->free_mask == POOL_ALL_UNITS) pool_seg_drop(k, t, s);
        s = next;
    }
    pool_purge(t, 0);
    t->keep = 1;
    return t->released + parked;
}

