/* bigcache.h - BigCache and the span records of the Large tier.
 *
 * Owns:
 *  - lg_span records, one per live or cached Large span.  They live in one
 *    OS mapping that is never unmapped, so a record pointer read from the
 *    segment table can always be dereferenced and validated (range check
 *    against the pool, then state and geometry), even when stale.
 *  - The geometry of arena spans in the segment table: head segment kind
 *    HK_SEG_LARGE with span = segments, tails HK_SEG_LARGE_TAIL with
 *    span = offset from the head, and owner_data = the record in every
 *    segment of the span (so a neighbour's record is one lookup away).
 *  - The cache itself: freed arena spans kept committed (their pages stay
 *    resident, so reuse costs no syscall and no page fault), in 64 size
 *    buckets by segment count (exact for 1..63 segments, best fit among the
 *    rest), plus one age list.  A freed span coalesces with cached
 *    neighbours; a cached span larger than a request is split and the rest
 *    stays cached with its age.  Over budget (hk_cfg.bigcache_bytes,
 *    HAKMEM_BIGCACHE_BYTES, 0 = no cache) the oldest bytes go back to the
 *    arena, which decommits them (RSS falls).
 * Invariants: every geometry change of an arena span (create, split,
 * merge, grow, shrink) and every state change happens under the lock; a
 * cached span is exactly the segments it covers, all LARGE/LARGE_TAIL;
 * `dirty` bounds the bytes from `base` that may be non-zero, so a zeroed
 * reuse clears only those.
 * Lock: "bigcache" (registered after "arena"; arena calls are made only
 * with it released).  Counters: hks_tier[LARGE].segments_freed, gauge
 * bigcache_bytes.  Tracepoint: large_unmap for segments given back.
 */
#ifndef HAKMEM_BIGCACHE_H
#define HAKMEM_BIGCACHE_H

#include "types.h"

enum { LG_FREE = 0, LG_LIVE = 1, LG_CACHED = 2 };

typedef struct lg_span {
    uintptr_t        base;      /* block start = the user pointer          */
    size_t           len;       /* bytes of the span = usable size         */
    size_t           dirty;     /* bytes from base that may be non-zero    */
    struct lg_span  *next, *prev;         /* cache bucket; registry chain  */
    struct lg_span  *lru_next, *lru_prev; /* cache age list                */
    uint32_t         nsegs;     /* arena segments; 0 = own OS mapping      */
    uint8_t          state;     /* LG_*                                    */
    uint8_t          pad[3];
} lg_span;

void     bigcache_init(void);

/* Records for spans outside the arena (registry of large.c). */
lg_span *span_rec_alloc(void);
void     span_rec_free(lg_span *r);

/* A LIVE record for `n` fresh segments at `seg` (from arena_seg_alloc);
 * writes the segment table.  NULL when no record can be mapped (the
 * caller gives the segments back). */
lg_span *span_adopt(void *seg, uint32_t n);
/* The LIVE arena span starting at p, or NULL.  Lock-free: valid for a
 * block the caller owns. */
lg_span *span_live(const void *p);

/* Take a cached span of exactly `n` segments whose start is aligned to
 * `align_segs` segments (a power of two, 1 = any), splitting a larger one.
 * Returns it LIVE (r->dirty says what to clear for a zeroed block), or
 * NULL on a miss. */
lg_span *bigcache_take(uint32_t n, uint32_t align_segs);
/* Free the LIVE arena span starting at p into the cache (or back to the
 * arena when it does not fit the budget).  `clean`: its pages are known to
 * be zero.  Returns its usable size, or 0 if p is not a live span start. */
size_t   bigcache_free(void *p, int clean);
/* Grow r in place to n segments with the cached span right after it:
 * 0 or -1 (nothing changed). */
int      bigcache_grow(lg_span *r, uint32_t n);
/* Shrink r in place to n < r->nsegs segments; the cut tail is cached (or
 * given back).  0 or -1 (nothing changed). */
int      bigcache_shrink(lg_span *r, uint32_t n);
/* Give every cached span back to the arena; bytes released. */
size_t   bigcache_trim(void);
/* Bytes cached now (approximate outside the lock). */
size_t   bigcache_cached_bytes(void);

#endif
