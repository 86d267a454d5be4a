/* pool.c - the segment pool box (see pool.h): per-thread pools of
 * fixed-size blocks carved from 2 MiB arena segments, for the Mid tier
 * (1 KiB < size <= 32 KiB) and the L2.5 pool (32 KiB < size <= 1 MiB).
 *
 * Layout
 *   A segment is 32 units of 64 KiB.  A *page* is a run of 1..32 units
 *   holding blocks of one class; the run length per class is chosen at init
 *   so that a page holds at least `want_blocks` blocks with < 1/32 waste
 *   (e.g. Mid 20 KiB: 5 units = 16 blocks exactly; L2.5 1 MiB: 16 units =
 *   1 block).  Pages start on 64 KiB boundaries and block i sits at
 *   start + i * bsize, so a block is aligned to the largest power of two
 *   dividing bsize: every Mid/L2.5 class that is a multiple of 4 KiB hands
 *   out page-aligned blocks, which is how valloc/memalign are served
 *   (l25_alloc_aligned picks the smallest class whose size is a multiple of
 *   the alignment).  No header sits in the segment: all metadata is in a
 *   `pool_seg` record in OS memory, found by address arithmetic:
 *   arena_segmeta(p)->owner_data -> pool_seg; unit = (p >> 16) & 31;
 *   geo[unit] (start, carved limit, bsize, divisibility constant, class,
 *   first unit; one copy per unit of the page, so no indirection) and
 *   pages[first unit] (owner state).  The geo of a free unit is zero,
 *   which no pointer matches.
 *
 * Ownership and invariants
 *   - Every segment has one owner: a thread's pool_tstate, POOL_ORPHAN
 *     (on the kind's orphan list, owner exited) or POOL_DEAD (record not in
 *     use).  Only the owner changes the segment's pages, masks and lists;
 *     while orphaned, only a holder of the kind lock does.  The owner value
 *     is never NULL, so the fast-path test `owner == pool_tls[kind]` fails
 *     for a thread without a state.
 *   - page.used = carved blocks not on page.free: blocks held by users,
 *     parked in the owner's per-class cache, or travelling in a remote
 *     queue.  A page with used == 0 is empty and is retired (its units go
 *     back to the segment) unless it is the head of its class list and
 *     small (keep_max): that one is kept to avoid carve/retire ping-pong.
 *   - A page is on its owner's class list unless POOL_PG_FULL (found
 *     exhausted by an allocation); the first block returned to a FULL page
 *     puts it back at the tail.
 *   - The per-class cache is bounded (ccap blocks, cache_bytes per class)
 *     and halved every gc_interval frees, so parked blocks cannot keep pages
 *     from emptying for long; trim and thread exit flush it completely.
 *   - Carving is lazy (page.reserved grows one block per slow-path call),
 *     so pages are touched only when their blocks are handed out.
 *   - Retired units are *dirty* (maybe resident) and are reused first by
 *     new pages, without a fault.  Memory goes back by age, not at once
 *     (a producer/consumer pipeline would otherwise purge and refault its
 *     pages all the time): a decay pass (at most every decay_ns, run from
 *     page creation/retirement and the periodic cache trim, so one clock
 *     read per page event) purges units that stayed dirty for a whole
 *     period (MADV_DONTNEED through arena_purge) and gives fully free
 *     segments that stayed empty that long back to the arena
 *     (decommitted).  Hard bounds hold meanwhile: at most dirty_max dirty
 *     bytes (then purged down to half) and seg_cache_max empty segments per
 *     thread.  So RSS follows the live working set, not the peak.
 *   - Records (pool_seg, pool_tstate) are OS memory, recycled, never
 *     unmapped: a stale pointer to one can always be read safely.
 *
 * Block checks (free and usable size)
 *   p must lie in the carved part of a page (one compare against geo.lim,
 *   so never-carved blocks are refused), at a multiple of bsize from its
 *   start (one multiply and compare, Lemire's divisibility test), and its
 *   second word must not hold the free tag
 *   (p ^ pool_secret), which is written on every free and cleared on every
 *   allocation: a double free is caught unless the user overwrote a freed
 *   block.  Failures return -1 without touching anything.
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
 * Thread exit (pool_thread_exit, also for vanished threads in a fork child)
 *   1. the caches are flushed to the pages;
 *   2. the queue is closed: exchange(remote, CLOSED), the taken blocks are
 *      freed; a pusher that finds CLOSED re-reads the segment owner and
 *      waits (sched_yield) until step 3 has changed it;
 *   3. empty pages are retired, empty segments go back to the arena, the
 *      others get their dirty units purged and become POOL_ORPHAN on the
 *      kind's orphan list (under the lock); the state is recycled.
 *   Blocks in orphaned segments stay valid.  A free into an orphaned
 *   segment takes the lock and *adopts* the segment (the freer becomes its
 *   owner and links its pages into its own lists), or, if the freer cannot
 *   own anything (it is exiting), frees the block in place under the lock.
 *   A thread that needs a new page adopts orphans before asking the arena,
 *   so a stream of short-lived threads reuses the same segments.
 *
 * Locks: one hak_lock per kind ("mid_pool", "l25_pool"): orphan list,
 * record free lists.  Never held on a fast path, never held while calling
 * the arena (except os_map for a new record chunk), tracepoints after it is
 * released.
 */
#include "pool.h"
#include "os.h"
#include "stats.h"
#include "tp.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

_Static_assert(offsetof(pool_seg, free_mask) == HK_CACHELINE, "freer-read line first");
_Static_assert(offsetof(pool_seg, geo) == 2 * HK_CACHELINE, "geometry on its own lines");
_Static_assert(sizeof(pool_geo) == 32, "two unit geometries per cache line");
_Static_assert(offsetof(pool_seg, pages) % HK_CACHELINE == 0, "pages on their own lines");
_Static_assert(offsetof(pool_tstate, remote) % HK_CACHELINE == 0, "queue on its own line");

enum { POOL_SL_AVAIL = 0, POOL_SL_FULL = 1, POOL_SL_ORPHAN = 2, POOL_SL_ORPHAN_FULL = 3,
       POOL_SL_NONE = 4 };

#define POOL_REC_CHUNK ((size_t)256 << 10)
#define POOL_ADOPT_TRIES 4

const uint8_t pool_class_tab[128] = {
    [0 ... 4] = 0, [5] = 1, [6] = 2, [7] = 3, [8 ... 9] = 4, [10 ... 11] = 5,
    [12 ... 13] = 6, [14 ... 15] = 7, [16 ... 19] = 8, [20 ... 23] = 9,
    [24 ... 27] = 10, [28 ... 31] = 11, [32 ... 39] = 12, [40 ... 47] = 13,
    [48 ... 55] = 14, [56 ... 63] = 15, [64 ... 79] = 16, [80 ... 95] = 17,
    [96 ... 111] = 18, [112 ... 127] = 19,
};

HK_TLS pool_tstate *pool_tls[POOL_KINDS];
static HK_TLS uint8_t pool_gone;   /* bit per kind: this thread's exit ran */
uintptr_t pool_secret;
pool_page pool_page_none;
static hks_thread pool_sink;       /* counts of threads without a block   */

/* ---- small helpers -------------------------------------------------- */

static inline uint32_t pool_mask(unsigned u, unsigned n) {
    return n >= POOL_UNITS ? POOL_ALL_UNITS : ((1u << n) - 1) << u;
}

static inline size_t pool_units_bytes(uint32_t mask) {
    return (size_t)__builtin_popcount(mask) << POOL_UNIT_SHIFT;
}

/* Lowest u such that units u..u+n-1 are all set in mask, or -1. */
static int pool_find_run(uint32_t mask, unsigned n) {
    uint64_t m = mask, r = m;
    for (unsigned i = 1; i < n && r; i++) r &= m >> i;
    return r ? __builtin_ctzll(r) : -1;
}

static inline pool_seg *pool_seg_of_page(pool_page *pg) {
    return (pool_seg *)((char *)(pg - pg->unit) - offsetof(pool_seg, pages));
}

static inline pool_page *pool_page_of(pool_seg *s, const void *p) {
    return &s->pages[pool_geo_of(s, p)->unit];
}

/* The calling thread's counters (a sink once its block is gone). */
static hks_tier *pool_ctr(const pool_kind *k) {
    if (HK_UNLIKELY(hk_tls.state == HK_T_NEW)) (void)hk_self();
    hks_thread *st = hk_tls.st;
    return &(st ? st : &pool_sink)->tier[k->tier];
}

/* May the calling thread own segments of kind k?  Not while it exits: a
 * state created then would never be closed. */
static inline int pool_may_own(const pool_kind *k) {
    return hk_tls.state == HK_T_LIVE && !(pool_gone & (1u << k->id));
}

static void pool_emit_refill(const pool_kind *k, unsigned cls) {
    if (k->id == POOL_MID) HK_TP(mid_refill, cls, (size_t)k->bsize[cls], k->capacity[cls]);
    else HK_TP(l25_refill, cls, (size_t)k->bsize[cls], k->capacity[cls]);
}

/* ---- class lists (owner only) ---------------------------------------- */

static inline void plist_sync(pool_tstate *t, unsigned c) {
    t->cur[c] = t->head[c] ? t->head[c] : &pool_page_none;
}

static void plist_push_head(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    pg->prev = NULL;
    pg->next = t->head[c];
    if (t->head[c]) t->head[c]->prev = pg; else t->tail[c] = pg;
    t->head[c] = pg;
    plist_sync(t, c);
}

static void plist_push_tail(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    pg->next = NULL;
    pg->prev = t->tail[c];
    if (t->tail[c]) t->tail[c]->next = pg; else t->head[c] = pg;
    t->tail[c] = pg;
    plist_sync(t, c);
}

static void plist_unlink(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    if (pg->prev) pg->prev->next = pg->next; else t->head[c] = pg->next;
    if (pg->next) pg->next->prev = pg->prev; else t->tail[c] = pg->prev;
    pg->prev = pg->next = NULL;
    plist_sync(t, c);
}

/* ---- segment lists ---------------------------------------------------- */

static void slist_link(pool_seg **head, pool_seg *s, uint8_t list) {
    s->prev = NULL;
    s->next = *head;
    if (*head) (*head)->prev = s;
    *head = s;
    s->list = list;
}

static void slist_unlink(pool_seg **head, pool_seg *s) {
    if (s->prev) s->prev->next = s->next; else *head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->list = POOL_SL_NONE;
}

static void pool_seg_move(pool_tstate *t, pool_seg *s, uint8_t to) {
    slist_unlink(&t->segs[s->list], s);
    slist_link(&t->segs[to], s, to);
}

/* ---- records ----------------------------------------------------------- */

/* Caller holds k->lock. */
static void *pool_rec_take(pool_kind *k, size_t size) {
    size = (size + HK_CACHELINE - 1) & ~(size_t)(HK_CACHELINE - 1);
    if (k->chunk_left < size) {
        void *c = os_map(POOL_REC_CHUNK);
        if (!c) return NULL;
        k->chunk = c;
        k->chunk_left = POOL_REC_CHUNK;
    }
    void *r = k->chunk;
    k->chunk += size;
    k->chunk_left -= size;
    return r;
}

static pool_tstate *pool_tstate_new(pool_kind *k) {
    hak_lock_acquire(&k->lock);
    pool_tstate *t = k->free_ts;
    if (t) k->free_ts = t->next_free;
    else t = pool_rec_take(k, sizeof *t);
    hak_lock_release(&k->lock);
    if (!t) return NULL;
    memset(t, 0, offsetof(pool_tstate, remote));
    for (unsigned c = 0; c < POOL_MAX_CLASSES; c++) {
        t->cur[c] = &pool_page_none;
        t->cache[c].cap = t->cache[c].room = c < k->nclasses ? k->ccap[c] : 0;
    }
    t->tick = k->gc_interval;
    t->keep = 1;
    t->kind = k->id;
    t->decay_stamp = os_now_ns();
    t->segs[POOL_SL_AVAIL] = t->segs[POOL_SL_FULL] = NULL;
    /* reopen the queue (a recycled state was closed) */
    atomic_store_explicit(&t->remote, 0, memory_order_release);
    return t;
}

/* The calling thread's state, created on first use; NULL if it may not own
 * anything (exiting) or out of memory. */
static pool_tstate *pool_tstate_get(pool_kind *k) {
    pool_tstate *t = pool_tls[k->id];
    if (t) return t;
    hk_tls_t *self = hk_self();
    if (!pool_may_own(k) || !self->heap) return NULL;
    t = pool_tstate_new(k);
    if (!t) return NULL;
    t->heap = self->heap;
    if (k->id == POOL_MID) self->heap->mid = t; else self->heap->l25 = t;
    pool_tls[k->id] = t;
    return t;
}

/* ---- segments ---------------------------------------------------------- */

static pool_seg *pool_seg_new(pool_kind *k, pool_tstate *t) {
    void *base = arena_seg_alloc(1, k->seg_kind);
    if (!base) return NULL;
    hak_lock_acquire(&k->lock);
    pool_seg *s = k->free_segs;
    if (s) k->free_segs = s->next;
    else s = pool_rec_take(k, sizeof *s);
    hak_lock_release(&k->lock);
    if (!s) {
        arena_seg_free(base, 1);
        errno = ENOMEM;
        return NULL;
    }
    /* owner first: a stale reader of a recycled record never sees NULL */
    atomic_store_explicit(&s->owner, t, memory_order_relaxed);
    memset(&s->base, 0, sizeof *s - offsetof(pool_seg, base));
    s->base = (uintptr_t)base;
    s->free_mask = POOL_ALL_UNITS;
    /* The tiny slab table of a segment that was a SuperSlab may still hold
     * block sizes; FrontGate reads them first, so clear them. */
    for (unsigned i = 0; i < HK_SLABS_PER_SEG; i++)
        arena_slab((char *)base + ((size_t)i << HK_SLAB_SHIFT))->block_size = 0;
    slist_link(&t->segs[POOL_SL_AVAIL], s, POOL_SL_AVAIL);
    arena_segmeta(base)->owner_data = s;
    pool_ctr(k)->segments++;
    return s;
}

/* Give a segment that holds no page back to the arena. */
static void pool_seg_release(pool_kind *k, pool_seg *s) {
    void *base = (void *)s->base;
    arena_segmeta(base)->owner_data = NULL;
    atomic_store_explicit(&s->owner, POOL_DEAD, memory_order_release);
    s->list = POOL_SL_NONE;
    arena_seg_free(base, 1);
    hak_lock_acquire(&k->lock);
    s->next = k->free_segs;
    k->free_segs = s;
    hak_lock_release(&k->lock);
    pool_ctr(k)->segments_freed++;
}

/* Unlink an owned, fully free segment from t and release it. */
static void pool_seg_drop(pool_kind *k, pool_tstate *t, pool_seg *s) {
    slist_unlink(&t->segs[s->list == POOL_SL_FULL ? POOL_SL_FULL : POOL_SL_AVAIL], s);
    size_t d = pool_units_bytes(s->dirty_mask);
    t->dirty_bytes -= d;
    t->released += d;
    s->cached = 0;
    pool_seg_release(k, s);
}

/* Purge the dirty units `d` of segment s (owned, or locked orphan). */
static size_t pool_purge_units(pool_seg *s, uint32_t d) {
    size_t done = 0;
    s->dirty_mask &= ~d;
    while (d) {
        unsigned u = (unsigned)__builtin_ctz(d), e = u;
        while (e < POOL_UNITS && (d >> e & 1)) e++;
        size_t len = (size_t)(e - u) << POOL_UNIT_SHIFT;
        arena_purge((void *)(s->base + ((uintptr_t)u << POOL_UNIT_SHIFT)), len);
        done += len;
        d &= ~pool_mask(u, e - u);
    }
    return done;
}

/* Purge t's dirty units until at most `target` bytes remain. */
static size_t pool_purge(pool_tstate *t, size_t target) {
    size_t done = 0;
    for (pool_seg *s = t->segs[POOL_SL_AVAIL]; s && t->dirty_bytes > target; s = s->next) {
        if (!s->dirty_mask) continue;
        size_t n = pool_purge_units(s, s->dirty_mask);
        t->dirty_bytes -= n;
        done += n;
    }
    t->released += done;
    return done;
}

/* s became fully free: keep it if t keeps no other, else release it.
 * Returns 1 if released (the record may be reused at once: do not touch). */
static int pool_seg_empty(pool_kind *k, pool_tstate *t, pool_seg *s) {
    uint32_t cached = 0;
    for (pool_seg *o = t->segs[POOL_SL_AVAIL]; o; o = o->next) cached += o->cached != 0;
    if (t->keep && cached < k->seg_cache_max) {
        s->cached = 1;
        return 0;
    }
    pool_seg_drop(k, t, s);
    return 1;
}

/* Give back what stayed unused for a whole decay period: dirty units that
 * were already dirty at the previous pass, and empty segments that were
 * already empty then.  At most one pass per decay_ns (one clock read). */
static void pool_decay(pool_kind *k, pool_tstate *t) {
    uint64_t now = os_now_ns();
    if (now - t->decay_stamp < k->decay_ns) return;
    t->decay_stamp = now;
    pool_seg *s = t->segs[POOL_SL_AVAIL];
    while (s) {
        pool_seg *next = s->next;
        if (s->cached && s->cached++ >= 2) {
            pool_seg_drop(k, t, s);
        } else {
            uint32_t old = s->aged_mask & s->dirty_mask;
            if (old) t->dirty_bytes -= pool_purge_units(s, old);
            s->aged_mask = s->dirty_mask;
        }
        s = next;
    }
}

/* ---- pages ------------------------------------------------------------- */

static pool_page *pool_page_init(pool_kind *k, pool_tstate *t, pool_seg *s, unsigned u, unsigned cls) {
    unsigned n = k->units[cls];
    uint32_t m = pool_mask(u, n);
    s->cached = 0;
    t->dirty_bytes -= pool_units_bytes(s->dirty_mask & m);
    s->dirty_mask &= ~m;
    s->aged_mask &= ~m;
    s->free_mask &= ~m;
    if (!s->free_mask) pool_seg_move(t, s, POOL_SL_FULL);
    pool_page *pg = &s->pages[u];
    pg->free = NULL;
    pg->used = 0;
    pg->capacity = k->capacity[cls];
    pg->reserved = 0;
    pg->bsize = k->bsize[cls];
    pg->cls = (uint8_t)cls;
    pg->flags = 0;
    pg->unit = (uint8_t)u;
    pg->units = (uint8_t)n;
    plist_push_head(t, pg);
    for (unsigned i = u; i < u + n; i++) {
        pool_geo *g = &s->geo[i];
        g->lim = 0;
        g->bsize = k->bsize[cls];
        g->div = k->div[cls];
        g->cls = (uint8_t)cls;
        g->unit = (uint8_t)u;
        g->start = s->base + ((uintptr_t)u << POOL_UNIT_SHIFT);
    }
    pool_ctr(k)->refills++;
    return pg;
}

/* Reset page state and geometry; returns the units' mask.  The units
 * touched so far (carved blocks) become dirty. */
static uint32_t pool_page_clear(pool_seg *s, pool_page *pg, uint32_t *dirty) {
    unsigned u = pg->unit, n = pg->units;
    size_t touched = (size_t)pg->reserved * pg->bsize;
    unsigned tu = (unsigned)((touched + POOL_UNIT_SIZE - 1) >> POOL_UNIT_SHIFT);
    if (tu > n) tu = n;
    *dirty = tu ? pool_mask(u, tu) : 0;
    for (unsigned i = u; i < u + n; i++) memset(&s->geo[i], 0, sizeof s->geo[i]);
    pg->reserved = 0;
    pg->free = NULL;
    pg->used = 0;
    pg->flags = 0;
    return pool_mask(u, n);
}

/* An empty page goes back to its segment.  Returns 1 if that released the
 * segment itself (the record may already be reused). */
static int pool_page_retire(pool_kind *k, pool_tstate *t, pool_page *pg) {
    pool_seg *s = pool_seg_of_page(pg);
    plist_unlink(t, pg);
    uint32_t dirty;
    uint32_t m = pool_page_clear(s, pg, &dirty);
    if (!s->free_mask) pool_seg_move(t, s, POOL_SL_AVAIL);
    s->free_mask |= m;
    s->dirty_mask |= dirty;
    t->dirty_bytes += pool_units_bytes(dirty);
    if (s->free_mask == POOL_ALL_UNITS && pool_seg_empty(k, t, s)) return 1;
    if (t->dirty_bytes > k->dirty_max) pool_purge(t, k->dirty_max / 2);
    if (t->keep) pool_decay(k, t);
    return 0;
}

/* A page got a block back: a FULL page rejoins its list; an empty page
 * is retired unless it is the small head of its class list. */
static HK_NOINLINE void pool_page_event(pool_kind *k, pool_tstate *t, pool_page *pg) {
    if (pg->flags & POOL_PG_FULL) {
        pg->flags &= (uint8_t)~POOL_PG_FULL;
        plist_push_tail(t, pg);
    }
    if (pg->used == 0) {
        if (t->keep && pg == t->head[pg->cls] &&
            ((size_t)pg->units << POOL_UNIT_SHIFT) <= k->keep_max)
            return;
        pool_page_retire(k, t, pg);
    }
}

/* Return a tagged block to its page (owner). */
static inline void pool_page_free(pool_kind *k, pool_tstate *t, pool_page *pg, pool_block *b) {
    b->next = pg->free;
    pg->free = b;
    if (HK_UNLIKELY(--pg->used == 0 || pg->flags)) pool_page_event(k, t, pg);
}

/* ---- adoption of orphaned segments ------------------------------------- */

/* Is s worth adopting for an allocation: a page with a freed or uncarved
 * block, or free units for a new page (a quarter of the segment: a couple
 * of units left behind by big pages do not count). */
static int pool_seg_has_room(pool_seg *s) {
    if (__builtin_popcount(s->free_mask) >= (int)POOL_UNITS / 4) return 1;
    for (unsigned u = 0; u < POOL_UNITS;) {
        if (!s->geo[u].bsize) { u++; continue; }
        pool_page *pg = &s->pages[u];
        if (pg->free || pg->reserved < pg->capacity) return 1;
        u += pg->units;
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

/* Make orphan s t's (caller holds k->lock): off the orphan list, owner
 * and t's segment list in one critical section, so a fork child finds it
 * on t's list if it finds t at all. */
static void pool_orphan_take(pool_kind *k, pool_tstate *t, pool_seg *s) {
    pool_orphan_unlink(k, s);
    atomic_store_explicit(&s->owner, t, memory_order_release);
    s->cached = 0;
    uint8_t l = s->free_mask ? POOL_SL_AVAIL : POOL_SL_FULL;
    slist_link(&t->segs[l], s, l);
}

/* s was just taken by t (pool_orphan_take): take its pages in.  Returns 1
 * if the segment was released (it held nothing). */
static int pool_adopt(pool_kind *k, pool_tstate *t, pool_seg *s) {
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

static pool_seg *pool_orphan_pop(pool_kind *k, pool_tstate *t) {
    hak_lock_acquire(&k->lock);
    pool_seg *s = k->orphans;
    if (s) pool_orphan_take(k, t, s);
    hak_lock_release(&k->lock);
    return s;
}

/* A free into an orphaned segment.  Returns 0 if the segment was not
 * orphaned any more (the caller re-reads the owner). */
static int pool_orphan_free(pool_kind *k, pool_seg *s, pool_block *b, int adopt) {
    pool_tstate *t = adopt ? pool_tstate_get(k) : NULL;
    hak_lock_acquire(&k->lock);
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != POOL_ORPHAN) {
        hak_lock_release(&k->lock);
        return 0;
    }
    if (t) {
        pool_orphan_take(k, t, s);
        hak_lock_release(&k->lock);
        pool_page *pg = pool_page_of(s, b);
        if (!pool_adopt(k, t, s)) pool_page_free(k, t, pg, b);
        return 1;
    }
    /* Nobody to hand it to: free in place; the segment stays orphaned. */
    pool_page *pg = pool_page_of(s, b);
    b->next = pg->free;
    pg->free = b;
    pg->flags &= (uint8_t)~POOL_PG_FULL;   /* adopters list every non-FULL page */
    int release = 0;
    if (s->list == POOL_SL_ORPHAN_FULL) {   /* it has room now */
        pool_orphan_unlink(k, s);
        pool_orphan_link(k, s);
    }
    if (--pg->used == 0) {
        uint32_t dirty;
        uint32_t m = pool_page_clear(s, pg, &dirty);
        s->free_mask |= m;
        s->dirty_mask |= dirty;
        pool_purge_units(s, s->dirty_mask);
        if (s->free_mask == POOL_ALL_UNITS) {
            pool_orphan_unlink(k, s);
            atomic_store_explicit(&s->owner, POOL_DEAD, memory_order_release);
            release = 1;
        }
    }
    hak_lock_release(&k->lock);
    if (release) pool_seg_release(k, s);
    return 1;
}

/* ---- the remote queue --------------------------------------------------- */

/* Deliver a tagged block to whoever owns its segment now. */
static void pool_route(pool_kind *k, pool_seg *s, pool_block *b, int adopt) {
    for (;;) {
        pool_tstate *o = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (o == POOL_DEAD) return;  /* no live block can be here */
        if (o == POOL_ORPHAN) {
            if (pool_orphan_free(k, s, b, adopt)) return;
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
static void pool_drain(pool_kind *k, pool_tstate *t, int closing) {
    uintptr_t h = atomic_exchange_explicit(&t->remote, closing ? POOL_CLOSED : 0,
                                           memory_order_acquire);
    if (h == POOL_CLOSED) h = 0;
    if (!h) return;
    int adopt = !closing && t == pool_tls[k->id] && pool_may_own(k);
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
            pool_route(k, s, b, adopt);
    }
    pool_ctr(k)->remote_recv += n;
}

/* ---- the per-class cache ------------------------------------------------ */

/* Keep the `keep` most recent blocks, return the older ones to their
 * pages. */
static void pool_cache_flush(pool_kind *k, pool_tstate *t, unsigned c, uint32_t keep) {
    pool_cache *pc = &t->cache[c];
    if (pc->cap - pc->room <= keep) return;
    pool_block **link = &pc->head;
    for (uint32_t i = 0; i < keep; i++) link = &(*link)->next;
    pool_block *b = *link;
    *link = NULL;
    pc->room = pc->cap - keep;
    while (b) {
        pool_block *next = b->next;
        pool_page_free(k, t, pool_page_of(pool_seg_of(b), b), b);
        b = next;
    }
}

void pool_gc(pool_kind *k, pool_tstate *t) {
    t->tick = k->gc_interval;
    pool_decay(k, t);
    for (unsigned c = 0; c < k->nclasses; c++) {
        uint32_t n = t->cache[c].cap - t->cache[c].room;
        if (n) pool_cache_flush(k, t, c, n / 2);
    }
    if (atomic_load_explicit(&t->remote, memory_order_relaxed) > POOL_CLOSED) pool_drain(k, t, 0);
}

/* ---- allocation ---------------------------------------------------------- */

/* A new page for class cls.  0 = *out is a fresh page at the list head;
 * 1 = adopted segments brought pages of this class (retry the list);
 * -1 = out of memory. */
static int pool_page_new(pool_kind *k, pool_tstate *t, unsigned cls, pool_page **out) {
    unsigned n = k->units[cls];
    int u = -1;
    pool_seg *s;
    for (s = t->segs[POOL_SL_AVAIL]; s; s = s->next)
        if ((u = pool_find_run(s->free_mask, n)) >= 0) goto found;
    for (int i = 0; i < POOL_ADOPT_TRIES && atomic_load_explicit(&k->norphans, memory_order_relaxed); i++) {
        s = pool_orphan_pop(k, t);
        if (!s) break;
        if (pool_adopt(k, t, s)) continue;
        if (t->head[cls]) return 1;
        if (s->list == POOL_SL_AVAIL && (u = pool_find_run(s->free_mask, n)) >= 0) goto found;
    }
    s = pool_seg_new(k, t);
    if (!s) return -1;
    u = 0;
found:
    *out = pool_page_init(k, t, s, (unsigned)u, cls);
    pool_decay(k, t);
    return 0;
}

static void *pool_alloc_in(pool_kind *k, pool_tstate *t, unsigned cls) {
    pool_cache *pc = &t->cache[cls];
    pool_block *b = pc->head;
    int fresh = 0;
    if (b) {
        pc->head = b->next;
        pc->room++;
        goto done;
    }
    if (atomic_load_explicit(&t->remote, memory_order_relaxed) > POOL_CLOSED) pool_drain(k, t, 0);
    for (;;) {
        /* Freed blocks anywhere on the list before fresh memory: carving
         * touches new pages.  Exhausted pages leave the list (FULL), and
         * normally only the newest page still has blocks to carve, so the
         * walk is short. */
        pool_page *pg = t->head[cls], *carve = NULL;
        while (pg) {
            pool_page *next = pg->next;
            if ((b = pg->free) != NULL) {
                if (pg != t->head[cls]) { plist_unlink(t, pg); plist_push_head(t, pg); }
                pg->free = b->next;
                pg->used++;
                goto done;
            }
            if (pg->reserved < pg->capacity) {
                if (!carve) carve = pg;
            } else {
                plist_unlink(t, pg);
                pg->flags |= POOL_PG_FULL;
            }
            pg = next;
        }
        if ((pg = carve) != NULL) {
            if (pg != t->head[cls]) { plist_unlink(t, pg); plist_push_head(t, pg); }
            pool_seg *s = pool_seg_of_page(pg);
            b = (pool_block *)(s->geo[pg->unit].start + (uintptr_t)pg->reserved * pg->bsize);
            uint32_t lim = ++pg->reserved * pg->bsize;
            for (unsigned i = pg->unit; i < pg->unit + pg->units; i++) s->geo[i].lim = lim;
            pg->used++;
            goto done;
        }
        int r = pool_page_new(k, t, cls, &pg);
        if (r < 0) {
            errno = ENOMEM;
            return NULL;
        }
        fresh |= r == 0;
    }
done:
    b->tag = 0;   /* also clears a stale tag left in a reused unit */
    hks_tier *st = pool_ctr(k);
    st->allocs++;
    st->bytes_alloc += k->bsize[cls];
    if (fresh) pool_emit_refill(k, cls);
    return b;
}

static void pool_tstate_close(pool_kind *k, pool_tstate *t, void **slot);

void *pool_alloc_slow(pool_kind *k, unsigned cls) {
    if (HK_UNLIKELY(atomic_load_explicit(&k->ready, memory_order_acquire) != 2)) pool_kind_init(k);
    pool_tstate *t = pool_tstate_get(k);
    if (HK_LIKELY(t != NULL)) return pool_alloc_in(k, t, cls);
    if (hk_tls.state == HK_T_LIVE && !(pool_gone & (1u << k->id))) {
        errno = ENOMEM;
        return NULL;
    }
    /* An exiting thread: serve from a state that is closed at once, so the
     * block lives in an orphaned segment like any other exited thread's. */
    t = pool_tstate_new(k);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = pool_alloc_in(k, t, cls);
    pool_tstate_close(k, t, NULL);
    return p;
}

/* ---- free ---------------------------------------------------------------- */

int pool_free_slow(pool_kind *k, pool_seg *s, pool_geo *g, pool_block *b, uintptr_t tag) {
    pool_tstate *t = pool_tls[k->id];
    hks_tier *st = pool_ctr(k);
    uint32_t bs = g->bsize;
    unsigned cls = g->cls;
    b->tag = tag;
    st->frees++;
    st->bytes_freed += bs;
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) == t) {
        /* ours, and the class cache is full (or the class has none) */
        pool_cache *pc = &t->cache[cls];
        if (pc->cap) {
            pool_cache_flush(k, t, cls, pc->cap / 2);
            b->next = pc->head;
            pc->head = b;
            pc->room--;
        } else {
            pool_page_free(k, t, &s->pages[g->unit], b);
        }
        if (--t->tick <= 0) pool_gc(k, t);
        return 0;
    }
    pool_route(k, s, b, pool_may_own(k));
    return 0;
}

size_t pool_usable_size(const void *p) {
    pool_seg *s = pool_seg_of(p);
    if (!s) return 0;
    pool_geo *g = pool_geo_of(s, p);
    if (!pool_block_ok(g, p)) return 0;
    if (((const pool_block *)p)->tag == ((uintptr_t)p ^ pool_secret)) return 0;
    return g->bsize;
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
static void pool_tstate_close(pool_kind *k, pool_tstate *t, void **slot) {
    t->keep = 0;
    for (unsigned c = 0; c < k->nclasses; c++) pool_cache_flush(k, t, c, 0);
    pool_drain(k, t, 1);
    pool_retire_empty(k, t);
    for (unsigned l = 0; l < 2; l++) {
        pool_seg *s;
        while ((s = t->segs[l]) != NULL) {
            s->cached = 0;
            if (s->free_mask == POOL_ALL_UNITS) {
                slist_unlink(&t->segs[l], s);
                pool_seg_release(k, s);
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

void pool_thread_exit(pool_kind *k, hk_heap *h) {
    if (!h) return;
    if (h == hk_tls.heap) pool_gone |= (uint8_t)(1u << k->id);
    void **slot = k->id == POOL_MID ? &h->mid : &h->l25;
    pool_tstate *t = *slot;
    if (!t) return;
    if (t == pool_tls[k->id]) pool_tls[k->id] = NULL;
    /* In a fork child, t may be the state of a thread that was closing it
     * when another thread forked: closing again finishes the job (the
     * queue stays closed, the remaining segments are orphaned). */
    pool_tstate_close(k, t, slot);
}

size_t pool_trim(pool_kind *k) {
    pool_tstate *t = pool_tls[k->id];
    if (!t) return 0;
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
    return t->released;
}

/* ---- init ---------------------------------------------------------------- */

/* Units per page for a block size: the smallest run holding want blocks
 * with less than 1/32 waste, else the run (<= 32 units) wasting least. */
static unsigned pool_span(uint32_t bs, unsigned want) {
    unsigned lo = (unsigned)((bs + POOL_UNIT_SIZE - 1) >> POOL_UNIT_SHIFT);
    unsigned best = lo;
    size_t best_waste = (size_t)-1;
    for (unsigned n = lo; n <= POOL_UNITS; n++) {
        size_t bytes = (size_t)n << POOL_UNIT_SHIFT;
        size_t blocks = bytes / bs, waste = bytes - blocks * bs;
        if (blocks >= want && waste * 32 < bytes) return n;
        if (waste * 1024 / bytes < best_waste) {
            best_waste = waste * 1024 / bytes;
            best = n;
        }
    }
    return best;
}

void pool_kind_init(pool_kind *k) {
    int expect = 0;
    if (!atomic_compare_exchange_strong(&k->ready, &expect, 1)) {
        while (atomic_load_explicit(&k->ready, memory_order_acquire) != 2) sched_yield();
        return;
    }
    uintptr_t zero = 0;
    uintptr_t seed = (uintptr_t)os_now_ns() * 0x9E3779B97F4A7C15ull ^ (uintptr_t)&zero ^
                     ((uintptr_t)&pool_secret << 17);
    __atomic_compare_exchange_n(&pool_secret, &zero, seed | 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    for (unsigned c = 0; c < k->nclasses; c++) {
        uint32_t bs = pool_class_size(c, k->base_shift);
        unsigned n = pool_span(bs, k->want_blocks);
        k->bsize[c] = bs;
        k->div[c] = UINT64_MAX / bs + 1;   /* ceil(2^64 / bs), bs not 1 */
        k->units[c] = (uint8_t)n;
        k->capacity[c] = (uint32_t)(((size_t)n << POOL_UNIT_SHIFT) / bs);
        uint32_t cap = k->cache_bytes / bs;
        if (cap < k->cache_min) cap = k->cache_min;
        if (cap > k->cache_max) cap = k->cache_max;
        k->ccap[c] = cap;
    }
    for (unsigned i = 4; i < 128; i++) {   /* the table is the arithmetic */
        size_t top = (size_t)(i + 1) << (k->base_shift - 2);
        if (pool_class_tab[i] != pool_class_of(top, k->base_shift) ||
            pool_class_tab[i] != pool_class_of(top - ((size_t)1 << (k->base_shift - 2)) + 1, k->base_shift)) {
            os_write_err("hakmem: pool class table does not match the class arithmetic\n");
            __builtin_trap();
        }
    }
    hak_lock_register(&k->lock);
    atomic_store_explicit(&k->ready, 2, memory_order_release);
}
