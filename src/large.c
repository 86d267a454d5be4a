/* large.c - the Large tier (see large.h): blocks of more than 1 MiB and
 * alignments above 64 KiB.
 *
 * Where a block lives:
 *  - Normally a span of whole 2 MiB arena segments; the block starts at the
 *    span start (no header: the record is a side record reached through the
 *    segment table), so every arena block is 2 MiB aligned and larger
 *    alignments are found by trimming an over-sized run or by an aligned
 *    run inside a cached span.  Freed spans go to BigCache (bigcache.h).
 *  - When the arena cannot serve (full, reservation failed, a request
 *    larger than it), a plain OS mapping outside it, registered in a
 *    chained hash keyed by address (lock "large_registry"), so
 *    large_owns_external answers without touching the block.  These are
 *    unmapped on free and resized with mremap; they are not cached (they
 *    only exist when the arena is exhausted).
 *
 * No MADV_HUGEPAGE: spans are whole aligned 2 MiB segments and huge pages
 * cut their faults 512-fold, but on the development VM (THP "madvise")
 * the 5..25 MiB workload ran 1.1..2.1 s with them against 0.6..1.3 s
 * without: a fresh huge page is zeroed in one go from guest memory the
 * host has not backed yet, while 4 KiB pages come back hot.  The cache is
 * what removes the faults.
 *
 * Zeroing on reuse: a span's `dirty` bound (everything the previous owner
 * could write = its usable size) limits the clearing to min(request,
 * dirty).  Resident memory is cleared faster by memset than by a purge and
 * refault; beyond LG_PURGE_MIN the pages are purged instead, as a huge
 * buffer is less likely to be touched entirely and its RSS matters more.
 *
 * realloc: same segment count -> in place; shrink -> the tail goes to the
 * cache; grow -> take the cached span right after it if there is one,
 * else move: a new span and, inside the arena, mremap(MREMAP_FIXED |
 * MREMAP_DONTUNMAP) moves the page tables instead of copying the bytes
 * (the old range stays mapped and empty, so the arena never has a hole;
 * it is then cached as clean).  memcpy is the fallback.
 *
 * Counters (hks_tier[LARGE], calling thread): allocs, frees, bytes_alloc /
 * bytes_freed (usable sizes), cache_hits / cache_misses (every allocation
 * is one or the other), segments (arena segments taken fresh, or 1 per OS
 * mapping), segments_freed (bigcache.c for arena segments, here for OS
 * mappings).  Gauge large_live_bytes.  Tracepoints: bigcache_hit,
 * bigcache_miss, large_map (fresh span), large_unmap.  All emitted
 * outside locks.
 */
#include "large.h"
#include "arena.h"
#include "bigcache.h"
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "thread.h"
#include "tp.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Requests above this fail with ENOMEM before any rounding can overflow
 * (64 TiB: more than the arena or the user address space can hold). */
#define LG_MAX_BYTES ((size_t)1 << 46)
#define LG_PURGE_MIN ((size_t)64 << 20)
#define LG_PAGE      ((size_t)4096)

static inline hks_tier *lg_st(void) {
    return &hk_self()->st->tier[HKS_TIER_LARGE];
}

static inline uint32_t segs_for(size_t size) {
    return (uint32_t)((size + HK_SEG_SIZE - 1) >> HK_SEG_SHIFT);
}

/* ---- a page-table move the OS box does not offer ---------------------- */

/* Move the pages of [from, from+len) to `to`, leaving `from` mapped and
 * empty.  0 or -1 (nothing moved). */
static int lg_move(void *from, size_t len, void *to) {
    void *q = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
    return q == to ? 0 : -1;
}

/* ---- registry of mappings outside the arena -------------------------- */

static hak_lock   reg_lock = HAK_LOCK_INIT("large_registry");
static lg_span  **reg_tab;     /* chained through lg_span.next          */
static unsigned   reg_bits;
static _Atomic size_t reg_count;

static inline size_t reg_slot(uintptr_t p, unsigned bits) {
    return (size_t)(((uint64_t)(p >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* Double the table (first call: create it).  Lock held; -1 leaves the
 * old table in place. */
static int reg_grow(void) {
    unsigned bits = reg_tab ? reg_bits + 1 : 9;
    size_t n = (size_t)1 << bits;
    lg_span **t = os_map(n * sizeof *t);
    if (!t) return -1;
    if (reg_tab) {
        size_t old = (size_t)1 << reg_bits;
        for (size_t i = 0; i < old; i++) {
            for (lg_span *r = reg_tab[i], *nx; r; r = nx) {
                nx = r->next;
                size_t s = reg_slot(r->base, bits);
                r->next = t[s];
                t[s] = r;
            }
        }
        os_unmap(reg_tab, old * sizeof *t);
    }
    reg_tab = t;
    reg_bits = bits;
    return 0;
}

static int reg_insert(lg_span *r) {
    hak_lock_acquire(&reg_lock);
    size_t count = atomic_load_explicit(&reg_count, memory_order_relaxed);
    /* A failed growth keeps the old table: chains just get longer. */
    if ((!reg_tab || count >= ((size_t)1 << reg_bits)) && reg_grow() != 0 && !reg_tab) {
        hak_lock_release(&reg_lock);
        return -1;
    }
    size_t s = reg_slot(r->base, reg_bits);
    r->next = reg_tab[s];
    reg_tab[s] = r;
    atomic_store_explicit(&reg_count, count + 1, memory_order_relaxed);
    hak_lock_release(&reg_lock);
    return 0;
}

/* Lock held.  The link that points at p's record, or NULL. */
static lg_span **reg_find(const void *p) {
    if (!reg_tab) return NULL;
    lg_span **l = &reg_tab[reg_slot((uintptr_t)p, reg_bits)];
    for (; *l; l = &(*l)->next)
        if ((*l)->base == (uintptr_t)p) return l;
    return NULL;
}

static lg_span *reg_remove(const void *p) {
    if (!atomic_load_explicit(&reg_count, memory_order_relaxed)) return NULL;
    hak_lock_acquire(&reg_lock);
    lg_span **l = reg_find(p), *r = NULL;
    if (l) {
        r = *l;
        *l = r->next;
        atomic_store_explicit(&reg_count,
                              atomic_load_explicit(&reg_count, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    }
    hak_lock_release(&reg_lock);
    return r;
}

int large_owns_external(const void *p) {
    if (!atomic_load_explicit(&reg_count, memory_order_relaxed)) return 0;
    hak_lock_acquire(&reg_lock);
    int found = reg_find(p) != NULL;
    hak_lock_release(&reg_lock);
    return found;
}

/* ---- acquiring spans ------------------------------------------------ */

/* n fresh arena segments aligned to k segments: over-allocate by k - 1
 * and give the ends back (they were never touched). */
static lg_span *lg_fresh(uint32_t n, uint32_t k) {
    uint32_t want = n + k - 1;
    void *run = arena_seg_alloc(want, HK_SEG_LARGE);
    if (!run) return NULL;
    uintptr_t b = (uintptr_t)run;
    if (k > 1) {
        uintptr_t amask = ((uintptr_t)k << HK_SEG_SHIFT) - 1;
        uintptr_t a = (b + amask) & ~amask;
        uint32_t head = (uint32_t)((a - b) >> HK_SEG_SHIFT), tail = want - head - n;
        if (head) arena_seg_free(run, head);
        if (tail) arena_seg_free((void *)(a + ((uintptr_t)n << HK_SEG_SHIFT)), tail);
        b = a;
    }
    lg_span *r = span_adopt((void *)b, n);
    if (!r) {
        arena_seg_free((void *)b, n);
        errno = ENOMEM;
        return NULL;
    }
    lg_st()->segments += n;
    return r;
}

/* A mapping outside the arena, aligned to `align` (a power of two). */
static lg_span *lg_external(size_t size, size_t align) {
    size_t len = (size + LG_PAGE - 1) & ~(LG_PAGE - 1);
    size_t extra = align > LG_PAGE ? align - LG_PAGE : 0;
    lg_span *r = span_rec_alloc();
    if (!r) { errno = ENOMEM; return NULL; }
    uint8_t *m = os_map(len + extra);
    if (!m) { span_rec_free(r); errno = ENOMEM; return NULL; }
    uintptr_t a = (uintptr_t)m;
    if (extra) {
        a = (a + align - 1) & ~(uintptr_t)(align - 1);
        size_t head = a - (uintptr_t)m, tail = extra - head;
        if (head) os_unmap(m, head);
        if (tail) os_unmap((void *)(a + len), tail);
    }
    r->base = a;
    r->len = len;
    r->nsegs = 0;
    r->dirty = 0;
    r->state = LG_LIVE;
    if (reg_insert(r) != 0) {
        os_unmap((void *)a, len);
        span_rec_free(r);
        errno = ENOMEM;
        return NULL;
    }
    lg_st()->segments++;
    return r;
}

/* Clear what a zeroed block may find dirty in a reused span. */
static void lg_clear(lg_span *r, size_t size) {
    size_t n = r->dirty < size ? r->dirty : size;
    if (!n) return;
    if (n > LG_PURGE_MIN) {
        arena_purge((void *)r->base, (n + LG_PAGE - 1) & ~(LG_PAGE - 1));
    } else {
        memset((void *)r->base, 0, n);
    }
}

static void *lg_alloc(size_t size, size_t align, int zero) {
    if (HK_UNLIKELY(size > LG_MAX_BYTES || align > LG_MAX_BYTES)) { errno = ENOMEM; return NULL; }
    if (size == 0) size = 1;
    hks_tier *st = lg_st();
    lg_span *r = NULL;
    if (hk_arena.size) {
        uint32_t n = segs_for(size);
        uint32_t k = align > HK_SEG_SIZE ? (uint32_t)(align >> HK_SEG_SHIFT) : 1;
        if ((uint64_t)n + k - 1 <= hk_arena.nsegs) {
            r = bigcache_take(n, k);
            if (r) {
                if (zero) lg_clear(r, size);
                st->cache_hits++;
                st->allocs++;
                st->bytes_alloc += r->len;
                HKS_GAUGE_ADD(large_live_bytes, r->len);
                HK_TP(bigcache_hit, (const void *)r->base, size);
                return (void *)r->base;
            }
            r = lg_fresh(n, k);
        }
    }
    st->cache_misses++;
    HK_TP(bigcache_miss, size);
    if (!r) r = lg_external(size, align);
    if (!r) { errno = ENOMEM; return NULL; }
    st->allocs++;
    st->bytes_alloc += r->len;
    HKS_GAUGE_ADD(large_live_bytes, r->len);
    HK_TP(large_map, (const void *)r->base, r->len);
    return (void *)r->base;
}

/* ---- the API ---------------------------------------------------------- */

void large_init(void) {
    bigcache_init();
    hak_lock_register(&reg_lock);
}

void *large_alloc(size_t size, int zero) {
    return lg_alloc(size, 1, zero);
}

void *large_alloc_aligned(size_t size, size_t align) {
    return lg_alloc(size, align ? align : 1, 0);
}

static void lg_count_free(size_t len) {
    hks_tier *st = lg_st();
    st->frees++;
    st->bytes_freed += len;
    HKS_GAUGE_SUB(large_live_bytes, len);
}

int large_free(void *p) {
    size_t len;
    if (arena_owns(p)) {
        len = bigcache_free(p, 0);
        if (!len) return -1;
    } else {
        lg_span *r = reg_remove(p);
        if (!r) return -1;
        len = r->len;
        os_unmap(p, len);
        span_rec_free(r);
        lg_st()->segments_freed++;
        HK_TP(large_unmap, p, len);
    }
    lg_count_free(len);
    return 0;
}

size_t large_usable_size(const void *p) {
    if (arena_owns(p)) {
        lg_span *r = span_live(p);
        return r ? r->len : 0;
    }
    if (!atomic_load_explicit(&reg_count, memory_order_relaxed)) return 0;
    hak_lock_acquire(&reg_lock);
    lg_span **l = reg_find(p);
    size_t len = l ? (*l)->len : 0;
    hak_lock_release(&reg_lock);
    return len;
}

static void *lg_realloc_external(void *p, size_t new_size) {
    lg_span *r = reg_remove(p);
    if (!r) { errno = EINVAL; return NULL; }
    size_t len = (new_size + LG_PAGE - 1) & ~(LG_PAGE - 1), old = r->len;
    void *q = len == old ? p : os_remap(p, old, len);
    if (q) {
        r->base = (uintptr_t)q;
        r->len = len;
    }
    /* Re-inserting cannot fail: the table exists and just lost an entry. */
    reg_insert(r);
    if (!q) { errno = ENOMEM; return NULL; }
    hks_tier *st = lg_st();
    if (len > old) {
        st->bytes_alloc += len - old;
        HKS_GAUGE_ADD(large_live_bytes, len - old);
    } else {
        st->bytes_freed += old - len;
        HKS_GAUGE_SUB(large_live_bytes, old - len);
    }
    return q;
}

void *large_realloc(void *p, size_t new_size) {
    if (HK_UNLIKELY(new_size > LG_MAX_BYTES)) { errno = ENOMEM; return NULL; }
    if (new_size == 0) new_size = 1;
    if (!arena_owns(p)) return lg_realloc_external(p, new_size);
    lg_span *r = span_live(p);
    if (!r) { errno = EINVAL; return NULL; }
    uint32_t n = r->nsegs, m = segs_for(new_size);
    size_t old = r->len;
    if (m == n) return p;
    hks_tier *st = lg_st();
    if (m < n) {
        if (bigcache_shrink(r, m) == 0) {
            st->bytes_freed += old - r->len;
            HKS_GAUGE_SUB(large_live_bytes, old - r->len);
        }
        return p;   /* without a record for the tail the block keeps it */
    }
    if (bigcache_grow(r, m) == 0) {
        st->bytes_alloc += r->len - old;
        HKS_GAUGE_ADD(large_live_bytes, r->len - old);
        return p;
    }
    void *q = lg_alloc(new_size, 1, 0);
    if (!q) return NULL;
    int clean = arena_owns(q) && lg_move(p, old, q) == 0;
    if (!clean) memcpy(q, p, old);
    bigcache_free(p, clean);
    lg_count_free(old);
    return q;
}

size_t large_trim(void) {
    return bigcache_trim();
}
