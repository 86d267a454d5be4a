/* pool.c - the segment pool box (see pool.h): per-thread pools of
 * fixed-size blocks carved from 2 MiB arena segments, for the Mid tier
 * (1 KiB < size <= 32 KiB) and the L2.5 pool (32 KiB < size <= 1 MiB).
 *
 * Layout
 *   A segment is 32 units of 64 KiB.  A *page* is a run of 1..32 units
 *   holding blocks of one class; the run length per class is chosen at init
 *   so that a page holds at least `want_blocks` blocks with little waste
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
 *     the periodic cache trim and from page creation/retirement, with a
 *     clock read per trim and per 32 page events) purges units that stayed dirty for a whole
 *     period (MADV_DONTNEED through arena_purge) and gives fully free
 *     segments that stayed empty that long back to the arena
 *     (decommitted).  Hard bounds hold meanwhile: at most dirty_max dirty
 *     bytes (then purged down to half) and seg_cache_max empty segments per
 *     thread, each raised to the thread's peak of segments in use since the
 *     last decay pass when that is more (a pipeline with 150 MB in flight
 *     gets whole segments back in one drain and needs them a moment later).
 *     So RSS follows the live working set, not the peak.
 *   - Records (pool_seg, pool_tstate) are OS memory, recycled, never
 *     unmapped: a stale pointer to one can always be read safely.
 *   - The park: empty segments left by exited threads (and orphans that
 *     emptied) are purged and kept, at most park_max per kind, for the next
 *     thread that needs a segment, which takes one before asking the arena:
 *     a stream of short-lived threads would otherwise commit and decommit
 *     a segment per thread and tier.  Parked segments hold no RSS, only
 *     commit; malloc_trim releases them, and so does any thread's decay
 *     pass once none was parked or taken for two decay periods.
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
 * Ownership hand-over (frees from other threads, orphaned segments and
 * adoption, thread exit, fork) is the pool_owner box: pool_owner.c.
 *
 * Locks: one hak_lock per kind ("mid_pool", "l25_pool"): orphan lists,
 * the park, record free lists.  Never held on a fast path, never held
 * while calling the arena (except os_map for a new record chunk, and the
 * purge of an orphan's emptied page, which must be done before an adopter
 * can carve its units), tracepoints after it is released.
 */
#include "pool.h"
#include "pool_owner.h"
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
HK_TLS uint8_t pool_gone;          /* bit per kind: this thread's exit ran */
uintptr_t pool_secret;
pool_page pool_page_none;
static hks_thread pool_sink;       /* counts of threads without a block   */

/* ---- small helpers -------------------------------------------------- */

static void pool_seg_move(pool_tstate *t, pool_seg *s, uint8_t to) {
    slist_unlink(&t->segs[s->list], s);
    slist_link(&t->segs[to], s, to);
}

/* Lowest u such that units u..u+n-1 are all set in mask, or -1.  After
 * each step bit u of r says "a run of len starts at u"; runs double, so
 * log2(n) steps. */
static int pool_find_run(uint32_t mask, unsigned n) {
    uint64_t r = mask;
    for (unsigned len = 1; len < n && r;) {
        unsigned sh = len < n - len ? len : n - len;
        r &= r >> sh;
        len += sh;
    }
    return r ? __builtin_ctzll(r) : -1;
}

/* The hard bounds on what a thread keeps of what it freed scale with its
 * recent peak of segments in use: a pipeline with 150 MB in flight gets
 * whole segments back in one drain and needs them again a moment later,
 * and fixed caps would make it release and refault all the time.  What
 * stays unused for a decay period goes back anyway (the peak is reset by
 * each decay pass). */
static inline void pool_note_used(pool_tstate *t) {
    uint32_t used = t->nsegs - t->ncached;
    if (used > t->used_peak) t->used_peak = used;
}

static inline size_t pool_dirty_cap(const pool_kind *k, const pool_tstate *t) {
    size_t peak = (size_t)t->used_peak << HK_SEG_SHIFT;
    return peak > k->dirty_max ? peak : k->dirty_max;
}

static inline uint32_t pool_seg_cap(const pool_kind *k, const pool_tstate *t) {
    return t->used_peak > k->seg_cache_max ? t->used_peak : k->seg_cache_max;
}

/* s holds a page again, or leaves t: it no longer counts as kept empty. */
static inline void pool_seg_uncache(pool_tstate *t, pool_seg *s) {
    if (s->cached) {
        s->cached = 0;
        t->ncached--;
        pool_note_used(t);
    }
}

/* The calling thread's counters (a sink once its block is gone). */
hks_tier *pool_ctr(const pool_kind *k) {
    if (HK_UNLIKELY(hk_tls.state == HK_T_NEW)) (void)hk_self();
    hks_thread *st = hk_tls.st;
    return &(st ? st : &pool_sink)->tier[k->tier];
}

static void pool_emit_refill(const pool_kind *k, unsigned cls) {
    if (k->id == POOL_MID) HK_TP(mid_refill, cls, (size_t)k->bsize[cls], k->capacity[cls]);
    else HK_TP(l25_refill, cls, (size_t)k->bsize[cls], k->capacity[cls]);
}

/* ---- records ----------------------------------------------------------- */

/* Caller holds k->lock. */
static pool_seg *pool_seg_rec_take(pool_kind *k) {
    pool_chunk *c = k->seg_chunks;
    if (!c || c->used + sizeof(pool_seg) > POOL_REC_CHUNK) {
        c = os_map(POOL_REC_CHUNK);
        if (!c) return NULL;
        c->next = k->seg_chunks;
        c->used = POOL_CHUNK_HDR;
        k->seg_chunks = c;
    }
    pool_seg *s = (pool_seg *)((char *)c + c->used);
    c->used += sizeof(pool_seg);
    return s;
}

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

pool_tstate *pool_tstate_new(pool_kind *k) {
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

/* ---- segments ---------------------------------------------------------- */

/* A parked segment (most recently parked first), or NULL. */
static pool_seg *pool_park_take(pool_kind *k) {
    if (!atomic_load_explicit(&k->nparked, memory_order_relaxed)) return NULL;
    hak_lock_acquire(&k->lock);
    pool_seg *s = k->parked;
    if (s) {
        slist_unlink(&k->parked, s);
        atomic_store_explicit(&k->nparked, atomic_load_explicit(&k->nparked, memory_order_relaxed) - 1,
                              memory_order_relaxed);
        atomic_store_explicit(&k->park_stamp, os_now_ns(), memory_order_relaxed);
    }
    hak_lock_release(&k->lock);
    return s;
}

static pool_seg *pool_seg_new(pool_kind *k, pool_tstate *t) {
    /* An exited thread's segment first: no commit now, no decommit then. */
    pool_seg *s = pool_park_take(k);
    void *base;
    if (s) {
        base = (void *)s->base;
    } else {
        base = arena_seg_alloc(1, k->seg_kind);
        if (!base) return NULL;
        hak_lock_acquire(&k->lock);
        s = k->free_segs;
        if (s) k->free_segs = s->next;
        else s = pool_seg_rec_take(k);
        hak_lock_release(&k->lock);
        if (!s) {
            arena_seg_free(base, 1);
            errno = ENOMEM;
            return NULL;
        }
        /* The tiny slab table of a segment that was a SuperSlab may still
         * hold block sizes; FrontGate reads them first, so clear them. */
        for (unsigned i = 0; i < HK_SLABS_PER_SEG; i++)
            arena_slab((char *)base + ((size_t)i << HK_SLAB_SHIFT))->block_size = 0;
        pool_ctr(k)->segments++;
    }
    /* The record is set up while its owner is still POOL_DEAD (never
     * NULL: a stale reader of a recycled record sees "no block here"), and
     * names t only once it is complete and reachable: a fork child orphans
     * every record that names a vanished thread, and adopters trust it. */
    memset(&s->base, 0, sizeof *s - offsetof(pool_seg, base));
    s->base = (uintptr_t)base;
    s->free_mask = POOL_ALL_UNITS;
    s->nfree = POOL_UNITS;
    arena_segmeta(base)->owner_data = s;
    atomic_store_explicit(&s->owner, t, memory_order_release);
    slist_link(&t->segs[POOL_SL_AVAIL], s, POOL_SL_AVAIL);
    t->nsegs++;
    pool_note_used(t);
    return s;
}

/* Give a segment that holds no page back to the arena. */
void pool_seg_release(pool_kind *k, pool_seg *s) {
    void *base = (void *)s->base;
    /* owner first: a fork child orphans (and may reuse) a segment whose
     * record still names a vanished thread, so that one must be whole */
    atomic_store_explicit(&s->owner, POOL_DEAD, memory_order_release);
    __atomic_store_n(&arena_segmeta(base)->owner_data, NULL, __ATOMIC_RELEASE);
    s->list = POOL_SL_NONE;
    arena_seg_free(base, 1);
    hak_lock_acquire(&k->lock);
    s->next = k->free_segs;
    k->free_segs = s;
    hak_lock_release(&k->lock);
    pool_ctr(k)->segments_freed++;
}

/* Caller holds k->lock; s is empty, purged and on no list. */
int pool_park_push(pool_kind *k, pool_seg *s) {
    uint32_t n = atomic_load_explicit(&k->nparked, memory_order_relaxed);
    if (n >= k->park_max) return 0;
    atomic_store_explicit(&s->owner, POOL_DEAD, memory_order_release);
    s->cached = 0;
    slist_link(&k->parked, s, POOL_SL_PARKED);
    atomic_store_explicit(&k->nparked, n + 1, memory_order_relaxed);
    atomic_store_explicit(&k->park_stamp, os_now_ns(), memory_order_relaxed);
    return 1;
}

void pool_seg_park(pool_kind *k, pool_seg *s) {
    /* a full park: the decommit of the release drops the pages anyway */
    if (atomic_load_explicit(&k->nparked, memory_order_relaxed) >= k->park_max) {
        pool_seg_release(k, s);
        return;
    }
    if (s->dirty_mask) pool_purge_units(s, s->dirty_mask);
    hak_lock_acquire(&k->lock);
    int parked = pool_park_push(k, s);
    hak_lock_release(&k->lock);
    if (!parked) pool_seg_release(k, s);
}

size_t pool_park_flush(pool_kind *k) {
    if (!atomic_load_explicit(&k->nparked, memory_order_relaxed)) return 0;
    hak_lock_acquire(&k->lock);
    pool_seg *s = k->parked;
    k->parked = NULL;
    atomic_store_explicit(&k->nparked, 0, memory_order_relaxed);
    hak_lock_release(&k->lock);
    size_t n = 0;
    while (s) {
        pool_seg *next = s->next;
        s->prev = s->next = NULL;
        pool_seg_release(k, s);
        n += HK_SEG_SIZE;
        s = next;
    }
    return n;
}

/* Unlink an owned, fully free segment from t and give it back: to the
 * park if t's thread is exiting, else to the arena. */
void pool_seg_drop(pool_kind *k, pool_tstate *t, pool_seg *s) {
    slist_unlink(&t->segs[s->list == POOL_SL_FULL ? POOL_SL_FULL : POOL_SL_AVAIL], s);
    t->nsegs--;
    size_t d = pool_units_bytes(s->dirty_mask);
    t->dirty_bytes -= d;
    t->released += d;
    pool_seg_uncache(t, s);
    if (t->closing) pool_seg_park(k, s);
    else pool_seg_release(k, s);
}

/* Purge the dirty units `d` of segment s (owned, or locked orphan). */
size_t pool_purge_units(pool_seg *s, uint32_t d) {
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
size_t pool_purge(pool_tstate *t, size_t target) {
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

/* s became fully free: keep it (the decay pass releases it later) unless t
 * already keeps seg_cache_max empty segments.  Returns 1 if released (the
 * record may be reused at once: do not touch it). */
int pool_seg_empty(pool_kind *k, pool_tstate *t, pool_seg *s) {
    if (t->keep && t->ncached < pool_seg_cap(k, t)) {
        s->cached = 1;
        t->ncached++;
        return 0;
    }
    pool_seg_drop(k, t, s);
    return 1;
}

/* Give back what stayed unused for a whole decay period: dirty units that
 * were already dirty at the previous pass, and empty segments that were
 * already empty then.  At most one pass per decay_ns; the clock is read at
 * every periodic cache trim and once per 32 page events. */
static void pool_decay(pool_kind *k, pool_tstate *t, int page_event) {
    if (page_event && (++t->decay_tick & 31)) return;   /* clock every 32 */
    uint64_t now = os_now_ns();
    if (now - t->decay_stamp < k->decay_ns) return;
    t->decay_stamp = now;
    t->used_peak = t->nsegs - t->ncached;
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
    /* What in-place frees left dirty in orphans goes now (bounded anyway);
     * parked segments no thread took for two periods go back. */
    pool_orphans_purge(k);
    if (atomic_load_explicit(&k->nparked, memory_order_relaxed)) {
        uint64_t ps = atomic_load_explicit(&k->park_stamp, memory_order_relaxed);
        if (now > ps && now - ps >= 2 * k->decay_ns) pool_park_flush(k);
    }
}

/* ---- pages ------------------------------------------------------------- */

static pool_page *pool_page_init(pool_kind *k, pool_tstate *t, pool_seg *s, unsigned u, unsigned cls) {
    unsigned n = k->units[cls];
    uint32_t m = pool_mask(u, n);
    pool_seg_uncache(t, s);
    t->dirty_bytes -= pool_units_bytes(s->dirty_mask & m);
    s->dirty_mask &= ~m;
    s->aged_mask &= ~m;
    s->free_mask &= ~m;
    s->nfree -= (uint8_t)n;
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
        __atomic_store_n(&g->lim, 0, __ATOMIC_RELAXED);
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
uint32_t pool_page_clear(pool_seg *s, pool_page *pg, uint32_t *dirty) {
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
int pool_page_retire(pool_kind *k, pool_tstate *t, pool_page *pg) {
    pool_seg *s = pool_seg_of_page(pg);
    plist_unlink(t, pg);
    uint32_t dirty;
    uint32_t m = pool_page_clear(s, pg, &dirty);
    if (!s->free_mask) pool_seg_move(t, s, POOL_SL_AVAIL);
    s->free_mask |= m;
    s->nfree += pg->units;
    s->dirty_mask |= dirty;
    t->dirty_bytes += pool_units_bytes(dirty);
    if (s->free_mask == POOL_ALL_UNITS && pool_seg_empty(k, t, s)) return 1;
    if (t->dirty_bytes > pool_dirty_cap(k, t)) pool_purge(t, pool_dirty_cap(k, t) / 2);
    if (t->keep) pool_decay(k, t, 1);
    return 0;
}

/* A page got a block back: a FULL page rejoins its list; an empty page
 * is retired unless it is the small head of its class list. */
HK_NOINLINE void pool_page_event(pool_kind *k, pool_tstate *t, pool_page *pg) {
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

/* ---- the per-class cache ------------------------------------------------ */

/* Keep the `keep` most recent blocks, return the older ones to their
 * pages. */
void pool_cache_flush(pool_kind *k, pool_tstate *t, unsigned c, uint32_t keep) {
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
    pool_decay(k, t, 0);
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
    /* Freed units that are still resident first (no page faults, and RSS
     * does not grow while resident memory sits idle), else the first run of
     * free units. */
    pool_seg *clean = NULL;
    int clean_u = -1;
    for (s = t->segs[POOL_SL_AVAIL]; s; s = s->next) {
        if (s->nfree < n) continue;
        if (s->dirty_mask && (u = pool_find_run(s->dirty_mask, n)) >= 0) goto found;
        if (!clean && (clean_u = pool_find_run(s->free_mask, n)) >= 0) clean = s;
    }
    if (clean) {
        s = clean;
        u = clean_u;
        goto found;
    }
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
    pool_decay(k, t, 1);
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
            uintptr_t off = (uintptr_t)pg->reserved * pg->bsize;
            b = (pool_block *)(s->geo[pg->unit].start + off);
            /* A block is checked through the geometry of the unit its start
             * lies in, so only that copy's limit must cover it (limits only
             * grow, so earlier units still cover their blocks). */
            /* read by freeing threads without the owner's lock: atomic */
            __atomic_store_n(&s->geo[pg->unit + (off >> POOL_UNIT_SHIFT)].lim,
                             ++pg->reserved * pg->bsize, __ATOMIC_RELEASE);
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
    pool_route(k, s, b);
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

/* ---- init ---------------------------------------------------------------- */

/* Units per page for a block size: the smallest run holding want blocks
 * with less than 1/2^waste_shift waste, else the run (<= 32 units) wasting
 * least. */
static unsigned pool_span(uint32_t bs, unsigned want, unsigned waste_shift) {
    unsigned lo = (unsigned)((bs + POOL_UNIT_SIZE - 1) >> POOL_UNIT_SHIFT);
    unsigned best = lo;
    size_t best_waste = (size_t)-1;
    for (unsigned n = lo; n <= POOL_UNITS; n++) {
        size_t bytes = (size_t)n << POOL_UNIT_SHIFT;
        size_t blocks = bytes / bs, waste = bytes - blocks * bs;
        if (blocks >= want && (waste << waste_shift) < bytes) return n;
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
        unsigned n = pool_span(bs, k->want_blocks, k->waste_shift);
        k->bsize[c] = bs;
        k->div[c] = UINT64_MAX / bs + 1;   /* ceil(2^64 / bs), bs not 1 */
        k->units[c] = (uint8_t)n;
        k->capacity[c] = (uint32_t)(((size_t)n << POOL_UNIT_SHIFT) / bs);
        /* pages start on unit boundaries; block i at i * bs */
        k->balign[c] = k->capacity[c] == 1 ? (uint32_t)POOL_UNIT_SIZE : bs & -bs;
        if (k->balign[c] > POOL_UNIT_SIZE) k->balign[c] = (uint32_t)POOL_UNIT_SIZE;
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
