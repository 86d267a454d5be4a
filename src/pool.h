/* pool.h - the segment pool box: the engine under the Mid tier (mid.c) and
 * the L2.5 pool (l25.c).  Each of those is one `pool_kind` (classes, page
 * geometry, counters); this box owns the per-thread engine they share.  The
 * design (layout, invariants, memory give-back, and why) is the header
 * comment of pool.c; how blocks and segments change hands between threads
 * (remote frees, orphans, adoption, exit, fork) is the pool_owner box.
 *
 * Owns: per-thread pool states (`pool_tstate`, OS memory, recycled, never
 * unmapped), the segment records (`pool_seg`, one per 2 MiB arena segment
 * of kind HK_SEG_MID / HK_SEG_L25, reached through
 * arena_segmeta(p)->owner_data, OS memory, recycled, never unmapped), the
 * kind's park of empty segments (left by exited threads, purged, taken by
 * the next thread that needs a segment; at most park_max), the kind lock
 * ("mid_pool" / "l25_pool", registered by pool_kind_init).
 *
 * Fast paths (inline below, no lock, no atomic RMW, no syscall):
 *   alloc: per-thread per-class LIFO cache pop, else pop from the current
 *          page's free list;
 *   free:  segment record -> page geometry (address arithmetic) -> block
 *          check (start of a carved block, not already free) -> if this
 *          thread owns the segment, push onto the per-class cache.
 * Everything else is in pool.c.
 *
 * Counters: hks_tier[MID or L25] of the calling thread (allocs, frees,
 * bytes_alloc, bytes_freed, refills, remote_sent, remote_recv, segments,
 * segments_freed).  Tracepoints: mid_refill / l25_refill (a page carved
 * from a segment), emitted outside any lock.
 */
#ifndef HAKMEM_POOL_H
#define HAKMEM_POOL_H

#include "types.h"
#include "arena.h"
#include "lock.h"
#include "thread.h"

/* ---- geometry -------------------------------------------------------- */
#define POOL_UNIT_SHIFT  16                       /* 64 KiB units        */
#define POOL_UNIT_SIZE   ((size_t)1 << POOL_UNIT_SHIFT)
#define POOL_UNITS       (1u << (HK_SEG_SHIFT - POOL_UNIT_SHIFT)) /* 32  */
#define POOL_ALL_UNITS   0xffffffffu
#define POOL_MAX_CLASSES 20

_Static_assert(POOL_UNITS == 32, "the unit masks are 32-bit words");

enum { POOL_MID = 0, POOL_L25 = 1, POOL_KINDS = 2 };

/* Owner values of a segment besides a live pool_tstate pointer. */
#define POOL_ORPHAN ((pool_tstate *)(uintptr_t)1) /* on the orphan list   */
#define POOL_DEAD   ((pool_tstate *)(uintptr_t)2) /* record not in use, or
                                                     its segment parked  */
/* Value of a closed remote queue (its owner is exiting). */
#define POOL_CLOSED ((uintptr_t)1)

/* page flags */
#define POOL_PG_FULL 1u   /* exhausted: off the class list until a free   */

/* ---- records --------------------------------------------------------- */

/* A free block: the link and a "this block is free" tag (address ^ secret)
 * that makes a second free of the same block detectable. */
typedef struct pool_block {
    struct pool_block *next;
    uintptr_t          tag;
} pool_block;

/* Read-mostly geometry of the page covering one 64 KiB unit (each unit of
 * a multi-unit page holds a copy, so a freer needs no indirection).  Read by
 * any thread that frees into the page; written by the owner only when the
 * page is created, when it carves (lim) and when it is retired. */
typedef struct pool_geo {
    uintptr_t start;       /* address of block 0 (0 = unit not in a page)  */
    uint64_t  div;         /* ceil(2^64 / bsize): off % bsize == 0 iff
                              off * div < div (mod 2^64), for off < 2^32   */
    uint32_t  lim;         /* carved bytes: offsets below are handed out   */
    uint32_t  bsize;
    uint8_t   cls;
    uint8_t   unit;        /* first unit of the page (its pages[] index)   */
    uint8_t   pad[6];
} pool_geo;

/* Owner-only page state (never touched by other threads). */
typedef struct pool_page {
    pool_block       *free;      /* blocks returned to this page          */
    uint32_t          used;      /* carved blocks not on `free`           */
    uint32_t          capacity;
    uint32_t          reserved;  /* blocks carved so far (lazy carving)   */
    uint32_t          bsize;
    uint8_t           cls;
    uint8_t           flags;     /* POOL_PG_*                             */
    uint8_t           unit;      /* first unit                            */
    uint8_t           units;     /* span in units                         */
    uint32_t          pad;
    struct pool_page *prev, *next; /* owner's per-class list              */
    uint64_t          pad2[2];
} pool_page;

_Static_assert(sizeof(pool_geo) == 32, "two page geometries per cache line");
_Static_assert(sizeof(pool_page) == 64, "one page record per cache line");

typedef struct pool_tstate pool_tstate;

/* One per 2 MiB segment, in OS memory (owner_data of the segment table). */
typedef struct pool_seg {
    /* read by every freer */
    _Atomic(pool_tstate *) owner;  /* tstate, POOL_ORPHAN or POOL_DEAD    */
    uintptr_t        base;
    uint8_t          pad0[48];
    /* owner-only (or under the kind lock while orphaned) */
    uint32_t         free_mask;    /* units not in any page               */
    uint32_t         dirty_mask;   /* free units that may be resident     */
    struct pool_seg *prev, *next;  /* owner's segment list / orphan list  */
    uint32_t         aged_mask;    /* dirty at the last decay pass        */
    uint8_t          list;         /* POOL_SL_*                           */
    uint8_t          cached;       /* fully free and kept: decay passes
                                      seen + 1 (0 = not an empty seg)     */
    uint8_t          nfree;        /* units in free_mask                  */
    uint8_t          pad1;
    uint32_t         odirty;       /* dirty units freed in place while
                                      orphaned, not purged yet (counted in
                                      the kind's orphan_dirty)            */
    uint8_t          pad2[28];
    pool_geo         geo[POOL_UNITS];       /* per unit; zero if free     */
    pool_page        pages[POOL_UNITS];     /* per page, at its 1st unit  */
} pool_seg;

typedef struct pool_cache {
    pool_block *head;
    uint32_t    room;      /* blocks it may still take (count = cap - room) */
    uint32_t    cap;
} pool_cache;

struct pool_tstate {
    pool_page   *cur[POOL_MAX_CLASSES];   /* list head or &pool_page_none */
    int32_t      tick;                    /* frees left until pool_gc     */
    uint8_t      keep;                    /* 0 while closing / trimming   */
    uint8_t      kind;
    uint8_t      closing;                 /* thread exit: empty segments
                                             go to the park               */
    uint8_t      pad0;
    size_t       dirty_bytes;             /* free, maybe-resident units   */
    size_t       released;                /* bytes given back (trim)      */
    uint64_t     decay_stamp;             /* ns of the last decay pass    */
    uint32_t     ncached;                 /* kept empty segments          */
    uint32_t     nsegs;                   /* segments owned               */
    uint32_t     used_peak;               /* most segments in use (not
                                             kept empty) since the last
                                             decay pass                   */
    uint32_t     decay_tick;              /* page events (clock reads)    */
    pool_cache   cache[POOL_MAX_CLASSES];
    pool_page   *head[POOL_MAX_CLASSES];
    pool_page   *tail[POOL_MAX_CLASSES];
    struct pool_seg *segs[2];             /* POOL_SL_AVAIL, POOL_SL_FULL  */
    hk_heap     *heap;
    pool_tstate *next_free;
    /* written by other threads: its own cache line */
    _Atomic uintptr_t remote __attribute__((aligned(HK_CACHELINE)));
    uint8_t      pad1[HK_CACHELINE - sizeof(uintptr_t)];
};

/* A pool tier: its classes and page geometry (filled by pool_kind_init
 * from the parameters), and its global state under `lock`. */
typedef struct pool_kind {
    /* parameters (static initialiser in mid.c / l25.c) */
    const char *name;
    uint8_t     id;            /* POOL_MID / POOL_L25                      */
    uint8_t     seg_kind;      /* HK_SEG_MID / HK_SEG_L25                  */
    uint8_t     tier;          /* HKS_TIER_MID / HKS_TIER_L25              */
    uint8_t     nclasses;
    uint8_t     base_shift;    /* log2 of the tier's lower size bound      */
    uint8_t     want_blocks;   /* page sizing: at least this many blocks   */
    uint8_t     waste_shift;   /* ... wasting less than 1/2^waste_shift of
                                  the page (untouched waste costs address
                                  space, not RSS)                          */
    uint8_t     pad0;
    uint32_t    cache_bytes;   /* per-class cache budget                   */
    uint32_t    cache_min, cache_max; /* per-class cache bounds (blocks)   */
    uint32_t    keep_max;      /* an empty head page this small is kept    */
    int32_t     gc_interval;   /* frees between cache trims                */
    size_t      dirty_max;     /* free resident bytes kept per thread: hard
                                  cap (or the thread's recent peak of
                                  segments in use, if more), purged down to
                                  half when exceeded                       */
    uint64_t    decay_ns;      /* freed units / empty segments unused this
                                  long are purged / released               */
    uint32_t    seg_cache_max; /* empty segments kept per thread (or the
                                  thread's recent peak in use, if more)    */
    uint32_t    park_max;      /* empty segments of exited threads kept
                                  (purged) for the next thread             */
    /* computed */
    _Atomic int ready;
    uint32_t    bsize[POOL_MAX_CLASSES];
    uint64_t    div[POOL_MAX_CLASSES];
    uint32_t    capacity[POOL_MAX_CLASSES];
    uint32_t    ccap[POOL_MAX_CLASSES];
    uint32_t    balign[POOL_MAX_CLASSES]; /* alignment every block has      */
    uint8_t     units[POOL_MAX_CLASSES];
    /* global state */
    hak_lock    lock;
    pool_seg   *orphans;        /* orphaned segments with room to allocate,
                                   FIFO: popped at the head, pushed at the
                                   tail, so segments that did not help one
                                   thread rotate to the back               */
    pool_seg   *orphans_tail;
    pool_seg   *orphans_full;   /* orphaned segments without (owner of both:
                                   POOL_ORPHAN)                            */
    _Atomic uint32_t norphans;  /* segments on `orphans`                    */
    pool_seg   *parked;         /* empty, purged segments (owner POOL_DEAD,
                                   still the kind's in the arena), LIFO    */
    _Atomic uint32_t nparked;
    _Atomic uint64_t park_stamp; /* ns of the last park push or take        */
    _Atomic size_t orphan_dirty; /* bytes of the orphans' odirty units      */
    pool_seg   *free_segs;      /* recycled segment records                */
    pool_tstate *free_ts;       /* recycled thread states                  */
    char       *chunk;          /* thread-state record bump area           */
    size_t      chunk_left;
    struct pool_chunk *seg_chunks; /* every segment record ever made (for
                                   a fork child, which cannot trust the
                                   lists of threads that vanished)         */
} pool_kind;

/* ---- shared state ---------------------------------------------------- */
extern HK_TLS pool_tstate *pool_tls[POOL_KINDS];
extern uintptr_t pool_secret;
extern pool_page pool_page_none;   /* empty page: `free` is always NULL */

void   pool_kind_init(pool_kind *k);
void  *pool_alloc_slow(pool_kind *k, unsigned cls);
int    pool_free_slow(pool_kind *k, pool_seg *s, pool_geo *g, pool_block *b, uintptr_t tag);
void   pool_gc(pool_kind *k, pool_tstate *t);
size_t pool_usable_size(const void *p);
/* Thread exit and malloc_trim: pool_owner.h. */

/* ---- inline helpers and fast paths ------------------------------------ */

/* Classes: four per doubling above 2^base_shift.  For x = size - 1 with top
 * bit e, the class is (e - base) * 4 + the two bits below the top one, and
 * its block size is (5 + (c & 3)) << (base + (c >> 2) - 2). */
HK_INLINE unsigned pool_class_of(size_t size, unsigned base_shift) {
    size_t x = size - 1;
    unsigned e = 63u - (unsigned)__builtin_clzl(x);
    return ((e - base_shift) << 2) | (unsigned)((x >> (e - 2)) & 3);
}

/* The same classes by table: for both tiers, class = pool_class_tab[(size -
 * 1) >> (base_shift - 2)] (Mid: >> 8, L2.5: >> 13), for sizes in the tier. */
extern const uint8_t pool_class_tab[128];

HK_INLINE uint32_t pool_class_size(unsigned c, unsigned base_shift) {
    return (5u + (c & 3u)) << (base_shift + (c >> 2) - 2);
}

HK_INLINE pool_seg *pool_seg_of(const void *p) {
    return (pool_seg *)hk_arena.segs[((uintptr_t)p - hk_arena.base) >> HK_SEG_SHIFT].owner_data;
}

HK_INLINE pool_geo *pool_geo_of(pool_seg *s, const void *p) {
    return &s->geo[((uintptr_t)p >> POOL_UNIT_SHIFT) & (POOL_UNITS - 1)];
}

/* Is p the start of a carved block of page g?  A carved offset (below lim,
 * so < 2 MiB; a free unit has lim 0) that is a multiple of bsize, tested
 * with one multiply (Lemire, Kaser, Kurz: "Faster remainder by direct
 * computation", 2019) instead of a division. */
HK_INLINE int pool_block_ok(const pool_geo *g, const void *p) {
    uintptr_t off = (uintptr_t)p - g->start;
    return off < __atomic_load_n(&g->lim, __ATOMIC_RELAXED) && off * g->div < g->div;
}

HK_INLINE void *pool_alloc_fast(pool_kind *k, unsigned id, unsigned tier, unsigned cls) {
    pool_tstate *t = pool_tls[id];
    pool_block *b;
    if (HK_LIKELY(t != NULL)) {
        pool_cache *c = &t->cache[cls];
        b = c->head;
        if (HK_LIKELY(b != NULL)) {
            c->head = b->next;
            c->room++;
            goto hit;
        }
        pool_page *pg = t->cur[cls];
        b = pg->free;
        if (HK_LIKELY(b != NULL)) {
            pg->free = b->next;
            pg->used++;
            goto hit;
        }
    }
    return pool_alloc_slow(k, cls);
hit:
    b->tag = 0;
    HK_CTR(hks_tier *st = &hk_tls.st->tier[tier]; st->allocs++; st->bytes_alloc += k->bsize[cls]);
    (void)tier;
    return b;
}

/* 0 = freed; -1 = p is not the start of a live block (nothing changed). */
HK_INLINE int pool_free_fast(pool_kind *k, unsigned id, unsigned tier, void *p) {
    (void)tier;   /* only the counters use it */
    pool_seg *s = pool_seg_of(p);
    if (HK_UNLIKELY(s == NULL)) return -1;
    pool_geo *g = pool_geo_of(s, p);
    if (HK_UNLIKELY(!pool_block_ok(g, p))) return -1;
    pool_block *b = p;
    uintptr_t tag = (uintptr_t)p ^ pool_secret;
    if (HK_UNLIKELY(b->tag == tag)) return -1;           /* already free */
    pool_tstate *t = pool_tls[id];
    /* owner is never NULL, so a thread without a state never matches */
    if (HK_LIKELY(atomic_load_explicit(&s->owner, memory_order_relaxed) == t)) {
        pool_cache *c = &t->cache[g->cls];
        if (HK_LIKELY(c->room != 0)) {
            b->tag = tag;
            b->next = c->head;
            c->head = b;
            c->room--;
            HK_CTR(hks_tier *st = &hk_tls.st->tier[tier]; st->frees++; st->bytes_freed += g->bsize);
            if (HK_UNLIKELY(--t->tick <= 0)) pool_gc(k, t);
            return 0;
        }
    }
    return pool_free_slow(k, s, g, b, tag);
}


/* ---- engine internals (pool.c), shared with the pool_owner box -------- */

enum { POOL_SL_AVAIL = 0, POOL_SL_FULL = 1, POOL_SL_ORPHAN = 2, POOL_SL_ORPHAN_FULL = 3,
       POOL_SL_NONE = 4, POOL_SL_PARKED = 5 };

/* Segment records live in chunks of their own, linked from the kind, so
 * that every record can be visited (pool_abandon). */
typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t             used;    /* bytes, from the chunk start */
} pool_chunk;
#define POOL_CHUNK_HDR HK_CACHELINE

extern HK_TLS uint8_t pool_gone;   /* bit per kind: this thread's exit ran */

HK_INLINE uint32_t pool_mask(unsigned u, unsigned n) {
    return n >= POOL_UNITS ? POOL_ALL_UNITS : ((1u << n) - 1) << u;
}

/* Bits set (SWAR: the library builds without -mpopcnt, and the libgcc
 * call costs more than this). */
HK_INLINE unsigned pool_popcount(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

HK_INLINE size_t pool_units_bytes(uint32_t mask) {
    return (size_t)pool_popcount(mask) << POOL_UNIT_SHIFT;
}

HK_INLINE pool_seg *pool_seg_of_page(pool_page *pg) {
    return (pool_seg *)((char *)(pg - pg->unit) - __builtin_offsetof(pool_seg, pages));
}

HK_INLINE pool_page *pool_page_of(pool_seg *s, const void *p) {
    return &s->pages[pool_geo_of(s, p)->unit];
}

/* May the calling thread own segments of this kind?  Not while it exits: a
 * state created then would never be closed. */
HK_INLINE int pool_may_own(unsigned id) {
    return hk_tls.state == HK_T_LIVE && !(pool_gone & (1u << id));
}

/* Class lists (owner only). */

HK_INLINE void plist_sync(pool_tstate *t, unsigned c) {
    t->cur[c] = t->head[c] ? t->head[c] : &pool_page_none;
}

HK_INLINE void plist_push_head(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    pg->prev = NULL;
    pg->next = t->head[c];
    if (t->head[c]) t->head[c]->prev = pg; else t->tail[c] = pg;
    t->head[c] = pg;
    plist_sync(t, c);
}

HK_INLINE void plist_push_tail(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    pg->next = NULL;
    pg->prev = t->tail[c];
    if (t->tail[c]) t->tail[c]->next = pg; else t->head[c] = pg;
    t->tail[c] = pg;
    plist_sync(t, c);
}

HK_INLINE void plist_unlink(pool_tstate *t, pool_page *pg) {
    unsigned c = pg->cls;
    if (pg->prev) pg->prev->next = pg->next; else t->head[c] = pg->next;
    if (pg->next) pg->next->prev = pg->prev; else t->tail[c] = pg->prev;
    pg->prev = pg->next = NULL;
    plist_sync(t, c);
}

/* Segment lists: the owner's (POOL_SL_AVAIL / POOL_SL_FULL) or, under the
 * kind lock, the orphan lists. */

HK_INLINE void slist_link(pool_seg **head, pool_seg *s, uint8_t list) {
    s->prev = NULL;
    s->next = *head;
    if (*head) (*head)->prev = s;
    *head = s;
    s->list = list;
}

HK_INLINE void slist_unlink(pool_seg **head, pool_seg *s) {
    if (s->prev) s->prev->next = s->next; else *head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->list = POOL_SL_NONE;
}



/* The calling thread's counters of kind k (a sink once its block is gone). */
hks_tier    *pool_ctr(const pool_kind *k);
pool_tstate *pool_tstate_new(pool_kind *k);
/* A page got a block back while FULL, or became empty. */
void     pool_page_event(pool_kind *k, pool_tstate *t, pool_page *pg);
/* Reset a page; returns its units, *dirty = the units it touched. */
uint32_t pool_page_clear(pool_seg *s, pool_page *pg, uint32_t *dirty);
/* Retire an empty page; 1 if that released the segment (do not touch). */
int      pool_page_retire(pool_kind *k, pool_tstate *t, pool_page *pg);
size_t   pool_purge_units(pool_seg *s, uint32_t d);
size_t   pool_purge(pool_tstate *t, size_t target);
void     pool_seg_release(pool_kind *k, pool_seg *s);
/* An empty segment that left its owner (thread exit, or an orphan emptied
 * by frees): purged and parked for the next thread, or released if the
 * park is full.  pool_park_push: the same under k->lock for a purged
 * segment, 1 if parked (else the caller releases it after unlocking). */
void     pool_seg_park(pool_kind *k, pool_seg *s);
int      pool_park_push(pool_kind *k, pool_seg *s);
/* Release every parked segment: bytes given back. */
size_t   pool_park_flush(pool_kind *k);
void     pool_seg_drop(pool_kind *k, pool_tstate *t, pool_seg *s);
int      pool_seg_empty(pool_kind *k, pool_tstate *t, pool_seg *s);
/* Keep the `keep` newest cached blocks of class c, return the others. */
void     pool_cache_flush(pool_kind *k, pool_tstate *t, unsigned c, uint32_t keep);

/* Return a tagged block to its page (owner, or kind lock for an orphan). */
HK_INLINE void pool_page_free(pool_kind *k, pool_tstate *t, pool_page *pg, pool_block *b) {
    b->next = pg->free;
    pg->free = b;
    if (HK_UNLIKELY(--pg->used == 0 || pg->flags)) pool_page_event(k, t, pg);
}

#endif
