/* bigcache.c - BigCache and the span records of the Large tier (see
 * bigcache.h for what it owns and its invariants).
 *
 * Why a cache of committed spans: a program that keeps allocating large
 * zeroed buffers (5..25 MiB, a few dozen live) pays a page fault per 4 KiB
 * (or per 2 MiB with huge pages) plus the kernel's zeroing when every
 * buffer is a fresh mapping; mimalloc 2.0 and jemalloc 5.3 do that and are
 * about 10x slower than tcmalloc, which reuses its spans.  Reuse costs a
 * memset of the bytes that may be dirty, and nothing for a malloc.
 *
 * Why buckets plus coalescing instead of a hash keyed by exact size: with
 * random sizes an exact-size cache rarely holds the size asked for; best
 * fit over spans that merge when adjacent and split on reuse serves almost
 * every request from what was freed, with the cache holding only the
 * difference between freed and requested bytes.
 *
 * Lock order: the lock is registered after "arena"; arena_seg_free is
 * called only after releasing it (victims are collected under the lock
 * and given back outside), and tracepoints are emitted outside it.
 */
#include "bigcache.h"
#include "arena.h"
#include "config.h"
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "thread.h"
#include "tp.h"

#include <string.h>

#define BC_BUCKETS 64          /* bucket b: b+1 segments; the last: >= 64 */
#define BC_BATCH   16          /* victims given back per lock hold        */
#define LG_EXT_MAX 65536u      /* records for mappings outside the arena  */
#define LG_ARENA_RECS (1u << 20) /* records for arena spans, at most       */

static hak_lock bc_lock = HAK_LOCK_INIT("bigcache");

/* ---- records -------------------------------------------------------- */
/* One mapping, carved by a bump index and recycled through a free list;
 * never unmapped, so stale pointers in the segment table stay readable. */
static lg_span  *pool;         /* published with release, read lock-free */
static uint32_t  pool_cap;     /* written before pool is published        */
static uint32_t  pool_used;
static lg_span  *pool_free;

static int rec_valid(const lg_span *r) {
    lg_span *b = __atomic_load_n(&pool, __ATOMIC_ACQUIRE);
    uintptr_t off = (uintptr_t)r - (uintptr_t)b;
    return b && off < (uintptr_t)pool_cap * sizeof(lg_span) && off % sizeof(lg_span) == 0;
}

/* Lock held.  NULL when the pool cannot be mapped or is exhausted. */
static lg_span *rec_get(void) {
    lg_span *r = pool_free;
    if (r) {
        pool_free = r->next;
    } else {
        if (!pool) {
            /* Every live or cached arena span has at least one segment;
             * past LG_ARENA_RECS (2 TiB of spans) a huge arena would only
             * reserve commit charge for records nobody uses. */
            uint32_t cap = (hk_arena.nsegs < LG_ARENA_RECS ? hk_arena.nsegs : LG_ARENA_RECS) + LG_EXT_MAX;
            lg_span *p = os_map((size_t)cap * sizeof(lg_span));
            if (!p) return NULL;
            pool_cap = cap;
            __atomic_store_n(&pool, p, __ATOMIC_RELEASE);
        }
        if (pool_used == pool_cap) return NULL;
        r = &pool[pool_used++];
    }
    memset(r, 0, sizeof *r);
    return r;
}

static void rec_put(lg_span *r) {
    r->state = LG_FREE;
    r->next = pool_free;
    pool_free = r;
}

lg_span *span_rec_alloc(void) {
    hak_lock_acquire(&bc_lock);
    lg_span *r = rec_get();
    hak_lock_release(&bc_lock);
    return r;
}

void span_rec_free(lg_span *r) {
    hak_lock_acquire(&bc_lock);
    rec_put(r);
    hak_lock_release(&bc_lock);
}

/* ---- segment table -------------------------------------------------- */

static inline uint32_t span_first(const lg_span *r) {
    return arena_seg_index((const void *)r->base);
}

static inline void span_set_nsegs(lg_span *r, uint32_t n) {
    r->nsegs = n;
    r->len = (size_t)n << HK_SEG_SHIFT;
}

/* Write r's geometry into the segment table.  Lock held. */
static void span_mark(lg_span *r) {
    uint32_t i0 = span_first(r);
    for (uint32_t k = 0; k < r->nsegs; k++) {
        hk_segmeta *m = &hk_arena.segs[i0 + k];
        m->span = k == 0 ? r->nsegs : k;
        __atomic_store_n(&m->owner_data, (void *)r, __ATOMIC_RELAXED);
        atomic_store_explicit(&m->kind, k == 0 ? (uint8_t)HK_SEG_LARGE : (uint8_t)HK_SEG_LARGE_TAIL,
                              memory_order_release);
    }
}

/* The record of the Large span covering segment idx, or NULL.  Segments of
 * other kinds, tails of other tiers' multi-segment runs and stale records
 * are all rejected by the checks.  Lock held (geometry is stable). */
static lg_span *span_at(uint32_t idx) {
    if (idx >= hk_arena.nsegs) return NULL;
    hk_segmeta *m = &hk_arena.segs[idx];
    uint8_t kind = atomic_load_explicit(&m->kind, memory_order_acquire);
    if (kind != HK_SEG_LARGE && kind != HK_SEG_LARGE_TAIL) return NULL;
    lg_span *r = __atomic_load_n(&m->owner_data, __ATOMIC_RELAXED);
    if (!rec_valid(r) || r->state == LG_FREE || r->nsegs == 0) return NULL;
    if (idx - span_first(r) >= r->nsegs) return NULL;
    return r;
}

lg_span *span_live(const void *p) {
    if (!arena_owns(p) || ((uintptr_t)p & (HK_SEG_SIZE - 1))) return NULL;
    hk_segmeta *m = arena_segmeta(p);
    if (atomic_load_explicit(&m->kind, memory_order_acquire) != HK_SEG_LARGE) return NULL;
    lg_span *r = __atomic_load_n(&m->owner_data, __ATOMIC_RELAXED);
    if (!rec_valid(r) || r->state != LG_LIVE || r->nsegs == 0 || r->base != (uintptr_t)p)
        return NULL;
    return r;
}

lg_span *span_adopt(void *seg, uint32_t n) {
    /* FrontGate reads the tiny slab table before the segment kind; any
     * segment of the span may later head a block (after a split), so no
     * block size may linger from a SuperSlab that lived here. */
    for (uint32_t k = 0; k < n; k++)
        arena_slab((char *)seg + ((size_t)k << HK_SEG_SHIFT))->block_size = 0;
    hak_lock_acquire(&bc_lock);
    lg_span *r = rec_get();
    if (r) {
        r->base = (uintptr_t)seg;
        span_set_nsegs(r, n);
        r->dirty = 0;
        r->state = LG_LIVE;
        span_mark(r);
    }
    hak_lock_release(&bc_lock);
    return r;
}

/* ---- the cache ------------------------------------------------------ */

static lg_span *bucket[BC_BUCKETS];   /* LIFO lists by segment count      */
static uint64_t bucket_mask;          /* bit b: bucket b is not empty     */
/* Age list, circular through this sentinel: age.lru_next is the newest
 * span, age.lru_prev the oldest. */
static lg_span  age = { .lru_next = &age, .lru_prev = &age };
static size_t   cached;               /* bytes in the cache               */

static inline unsigned bucket_of(uint32_t n) {
    return n >= BC_BUCKETS ? BC_BUCKETS - 1 : n - 1;
}

static void bucket_link(lg_span *r) {
    unsigned b = bucket_of(r->nsegs);
    r->prev = NULL;
    r->next = bucket[b];
    if (r->next) r->next->prev = r;
    bucket[b] = r;
    bucket_mask |= 1ull << b;
}

static void bucket_unlink(lg_span *r) {
    unsigned b = bucket_of(r->nsegs);
    if (r->prev) r->prev->next = r->next;
    else bucket[b] = r->next;
    if (r->next) r->next->prev = r->prev;
    if (!bucket[b]) bucket_mask &= ~(1ull << b);
}

/* Cache r with the age of the position right after `pos` (&age: newest). */
static void cache_add(lg_span *r, lg_span *pos) {
    r->state = LG_CACHED;
    bucket_link(r);
    r->lru_prev = pos;
    r->lru_next = pos->lru_next;
    pos->lru_next->lru_prev = r;
    pos->lru_next = r;
    __atomic_store_n(&cached, cached + r->len, __ATOMIC_RELAXED);
    HKS_GAUGE_ADD(bigcache_bytes, r->len);
}

static void cache_del(lg_span *r) {
    bucket_unlink(r);
    r->lru_prev->lru_next = r->lru_next;
    r->lru_next->lru_prev = r->lru_prev;
    __atomic_store_n(&cached, cached - r->len, __ATOMIC_RELAXED);
    HKS_GAUGE_SUB(bigcache_bytes, r->len);
}

/* x = segments [off, off+n) of the span described by r (a copy), with the
 * part of r's dirty bound that falls inside it. */
static void piece_init(lg_span *x, const lg_span *r, uint32_t off, uint32_t n) {
    size_t o = (size_t)off << HK_SEG_SHIFT;
    x->base = r->base + o;
    span_set_nsegs(x, n);
    x->dirty = r->dirty > o ? r->dirty - o : 0;
    if (x->dirty > x->len) x->dirty = x->len;
}

/* Cache r (not in the cache yet), merged with cached neighbours; the
 * result is the newest span.  Lock held. */
static void cache_put(lg_span *r) {
    uint32_t i0 = span_first(r);
    lg_span *l = i0 ? span_at(i0 - 1) : NULL;
    if (l && l->state == LG_CACHED && l->base + l->len == r->base) {
        cache_del(l);
        l->dirty = r->dirty ? l->len + r->dirty : l->dirty;
        span_set_nsegs(l, l->nsegs + r->nsegs);
        rec_put(r);
        r = l;
    }
    lg_span *h = span_at(span_first(r) + r->nsegs);
    if (h && h->state == LG_CACHED && h->base == r->base + r->len) {
        cache_del(h);
        r->dirty = h->dirty ? r->len + h->dirty : r->dirty;
        span_set_nsegs(r, r->nsegs + h->nsegs);
        rec_put(h);
    }
    span_mark(r);
    cache_add(r, &age);
}

/* The budget: HAKMEM_BIGCACHE_BYTES.  A freed span larger than it is not
 * kept at all (it passes through the cache and is evicted at once). */
static size_t budget(void) {
    return (size_t)hk_cfg.bigcache_bytes;
}

typedef struct bc_victim { uintptr_t base; uint32_t n; } bc_victim;

/* Detach the oldest bytes until the cache holds at most `limit` (or `max`
 * victims were collected).  The oldest span is cut from its high end when
 * only part of it must go.  Lock held. */
static unsigned evict(size_t limit, bc_victim *v, unsigned max) {
    unsigned nv = 0;
    while (cached > limit && nv < max) {
        lg_span *o = age.lru_prev;
        uint32_t cut = (uint32_t)((cached - limit + HK_SEG_SIZE - 1) >> HK_SEG_SHIFT);
        if (cut >= o->nsegs) {
            cache_del(o);
            v[nv++] = (bc_victim){ o->base, o->nsegs };
            rec_put(o);
        } else {
            size_t bytes = (size_t)cut << HK_SEG_SHIFT;
            bucket_unlink(o);
            span_set_nsegs(o, o->nsegs - cut);
            if (o->dirty > o->len) o->dirty = o->len;
            bucket_link(o);
            hk_arena.segs[span_first(o)].span = o->nsegs;
            __atomic_store_n(&cached, cached - bytes, __ATOMIC_RELAXED);
            HKS_GAUGE_SUB(bigcache_bytes, bytes);
            v[nv++] = (bc_victim){ o->base + o->len, cut };
        }
    }
    return nv;
}

/* Give victims back to the arena (decommitted).  Lock not held. */
static size_t release(const bc_victim *v, unsigned nv) {
    size_t bytes = 0;
    if (!nv) return 0;
    hks_tier *st = &hk_self()->st->tier[HKS_TIER_LARGE];
    for (unsigned i = 0; i < nv; i++) {
        size_t len = (size_t)v[i].n << HK_SEG_SHIFT;
        arena_seg_free((void *)v[i].base, v[i].n);
        st->segments_freed += v[i].n;
        bytes += len;
        HK_TP(large_unmap, (const void *)v[i].base, len);
    }
    return bytes;
}

/* Unlock, then give back what the budget does not allow (in batches, so
 * the lock is never held across a syscall). */
static size_t unlock_and_settle(bc_victim *v, unsigned nv, size_t limit) {
    size_t bytes = 0;
    hak_lock_release(&bc_lock);
    while (nv) {
        bytes += release(v, nv);
        if (nv < BC_BATCH) break;
        hak_lock_acquire(&bc_lock);
        nv = evict(limit, v, BC_BATCH);
        hak_lock_release(&bc_lock);
    }
    return bytes;
}

lg_span *bigcache_take(uint32_t n, uint32_t align_segs) {
    if (__atomic_load_n(&cached, __ATOMIC_RELAXED) < ((size_t)n << HK_SEG_SHIFT)) return NULL;
    uintptr_t amask = ((uintptr_t)align_segs << HK_SEG_SHIFT) - 1;
    hak_lock_acquire(&bc_lock);
    lg_span *best = NULL;
    uint32_t off = 0;
    uint64_t mask = bucket_mask & (~0ull << bucket_of(n));
    while (mask && !best) {
        unsigned b = (unsigned)__builtin_ctzll(mask);
        mask &= mask - 1;
        for (lg_span *r = bucket[b]; r; r = r->next) {
            if (r->nsegs < n) continue;
            if (align_segs > 1) {
                /* First fit: the first aligned run inside a cached span. */
                uint32_t o = (uint32_t)((((r->base + amask) & ~amask) - r->base) >> HK_SEG_SHIFT);
                if ((uint64_t)o + n > r->nsegs) continue;
                best = r; off = o;
                break;
            }
            if (b < BC_BUCKETS - 1) { best = r; break; }   /* exact bucket: LIFO */
            if (!best || r->nsegs < best->nsegs) best = r; /* open bucket: best fit */
        }
    }
    if (!best) { hak_lock_release(&bc_lock); return NULL; }

    lg_span orig = *best, *pre = NULL, *suf = NULL;
    uint32_t rest = orig.nsegs - off - n;
    if (off && !(pre = rec_get())) { hak_lock_release(&bc_lock); return NULL; }
    if (rest && !(suf = rec_get())) rest = 0;   /* no record: hand the tail out too */
    lg_span *pos = best->lru_prev;               /* pieces keep the span's age */
    cache_del(best);
    if (pre) { piece_init(pre, &orig, 0, off); span_mark(pre); cache_add(pre, pos); }
    if (suf) { piece_init(suf, &orig, off + n, rest); span_mark(suf); cache_add(suf, pos); }
    piece_init(best, &orig, off, suf ? n : orig.nsegs - off);
    best->state = LG_LIVE;
    span_mark(best);
    hak_lock_release(&bc_lock);
    return best;
}

size_t bigcache_free(void *p, int clean) {
    bc_victim v[BC_BATCH];
    if (!arena_owns(p) || ((uintptr_t)p & (HK_SEG_SIZE - 1))) return 0;
    hak_lock_acquire(&bc_lock);
    /* Validated under the lock, so two racing frees of one block cannot
     * both succeed. */
    lg_span *r = span_at(arena_seg_index(p));
    if (!r || r->state != LG_LIVE || r->base != (uintptr_t)p) {
        hak_lock_release(&bc_lock);
        return 0;
    }
    size_t len = r->len;
    r->dirty = clean ? 0 : len;   /* the owner could write all of it */
    cache_put(r);
    size_t limit = budget();
    unsigned nv = evict(limit, v, BC_BATCH);
    unlock_and_settle(v, nv, limit);
    return len;
}

int bigcache_grow(lg_span *r, uint32_t n) {
    hak_lock_acquire(&bc_lock);
    uint32_t more = n - r->nsegs;
    lg_span *h = r->state == LG_LIVE && n > r->nsegs ? span_at(span_first(r) + r->nsegs) : NULL;
    if (!h || h->state != LG_CACHED || h->base != r->base + r->len || h->nsegs < more) {
        hak_lock_release(&bc_lock);
        return -1;
    }
    lg_span *pos = h->lru_prev;
    cache_del(h);
    if (h->nsegs > more) {
        lg_span orig = *h;
        piece_init(h, &orig, more, orig.nsegs - more);
        span_mark(h);
        cache_add(h, pos);
    } else {
        rec_put(h);
    }
    span_set_nsegs(r, n);
    span_mark(r);
    hak_lock_release(&bc_lock);
    return 0;
}

int bigcache_shrink(lg_span *r, uint32_t n) {
    bc_victim v[BC_BATCH];
    hak_lock_acquire(&bc_lock);
    lg_span *t = r->state == LG_LIVE && n && n < r->nsegs ? rec_get() : NULL;
    if (!t) { hak_lock_release(&bc_lock); return -1; }
    lg_span orig = *r;
    piece_init(t, &orig, n, orig.nsegs - n);
    t->dirty = t->len;
    span_set_nsegs(r, n);
    hk_arena.segs[span_first(r)].span = n;
    cache_put(t);
    size_t limit = budget();
    unsigned nv = evict(limit, v, BC_BATCH);
    unlock_and_settle(v, nv, limit);
    return 0;
}

size_t bigcache_trim(void) {
    bc_victim v[BC_BATCH];
    hak_lock_acquire(&bc_lock);
    unsigned nv = evict(0, v, BC_BATCH);
    return unlock_and_settle(v, nv, 0);
}

size_t bigcache_cached_bytes(void) {
    return __atomic_load_n(&cached, __ATOMIC_RELAXED);
}

void bigcache_init(void) {
    hak_lock_register(&bc_lock);
}
