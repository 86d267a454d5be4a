/* test_large.c - the Large tier and BigCache, observed through the
 * counters (hks_tier[HKS_TIER_LARGE], gauges large_live_bytes and
 * bigcache_bytes), contents, addresses and VmRSS.
 *
 * Checked: a freed span is reused by the next request of that size (a
 * cache hit, no fresh segment); a larger cached span is split and its rest
 * still serves; calloc on a reused, dirty span reads as zeros; the usable
 * size is honest (written entirely, no overlap); realloc grows in place
 * into a cached neighbour, moves (keeping every usable byte) otherwise,
 * shrinks in place, and fails with ENOMEM keeping the old block;
 * alignments up to 256 MiB, and aligned reuse of a cached span; the budget
 * bounds the cache; malloc_trim empties it and RSS falls; impossible sizes
 * fail with ENOMEM; the 5..25 MiB zeroed-buffer workload is served from the
 * cache; 4 threads trading blocks; mappings outside the arena (arena
 * too small) with mremap realloc; HAKMEM_BIGCACHE_BYTES=0; double and
 * interior frees (HAKMEM_EXTERNAL=warn) change nothing; and every OS
 * mapping failure in a fixed sequence (HAKMEM_FAULT_MMAP) leaves a
 * consistent allocator.  Sub-modes run in a re-executed copy of this
 * program with their environment.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#define SEG (2 * MiB)

/* Called through volatile pointers: the test compares the addresses of
 * freed blocks and reads blocks after a failed realloc on purpose, which
 * GCC's use-after-free analysis would reject. */
static void *(*volatile xrealloc)(void *, size_t) = realloc;
static void (*volatile xfree)(void *) = free;
#define LT(s) ((s)->t.tier[HKS_TIER_LARGE])
#define LDELTA(a, b, f) ((int64_t)(LT(b).f - LT(a).f))

static size_t round_seg(size_t n) { return (n + SEG - 1) / SEG * SEG; }

static void trim(void) {
    malloc_trim(0);
    snap s;
    snap_take(&s);
    CHECK(s.g.bigcache_bytes == 0, "after malloc_trim the BigCache still holds %llu bytes",
          (unsigned long long)s.g.bigcache_bytes);
}

/* Touch every page of [p, p+n) with a word derived from tag. */
static void dirty_pages(void *p, size_t n, uint64_t tag) {
    for (size_t o = 0; o + 8 <= n; o += 4096) *(uint64_t *)((char *)p + o) = tag ^ o ^ 1;
}

/* ---- reuse ------------------------------------------------------------ */

static void reuse(void) {
    trim();
    snap a, b;
    snap_take(&a);
    void *p = malloc(8 * MiB);
    CHECK(p && hk_owns(p), "malloc(8 MiB) = %p is not an arena block", p);
    CHECK(((uintptr_t)p & (SEG - 1)) == 0, "a Large block %p is not 2 MiB aligned", p);
    tag_fill(p, 8 * MiB, 11);
    xfree(p);
    snap_take(&b);
    CHECK(b.g.bigcache_bytes >= 8 * MiB, "a freed 8 MiB block is not cached (bigcache_bytes %llu)",
          (unsigned long long)b.g.bigcache_bytes);
    void *q = malloc(8 * MiB);
    snap_take(&b);
    CHECK(q == p, "malloc(8 MiB) after free = %p, expected the cached span %p", q, p);
    CHECK(LDELTA(&a, &b, allocs) == 2 && LDELTA(&a, &b, frees) == 1,
          "allocs +%lld frees +%lld, expected +2 +1", (long long)LDELTA(&a, &b, allocs),
          (long long)LDELTA(&a, &b, frees));
    CHECK(LDELTA(&a, &b, cache_hits) == 1 && LDELTA(&a, &b, cache_misses) == 1,
          "cache hits +%lld misses +%lld, expected +1 +1", (long long)LDELTA(&a, &b, cache_hits),
          (long long)LDELTA(&a, &b, cache_misses));
    CHECK(LDELTA(&a, &b, segments) == 4, "8 MiB took %lld fresh segments, expected 4",
          (long long)LDELTA(&a, &b, segments));
    CHECK(b.g.large_live_bytes >= 8 * MiB, "large_live_bytes %llu with an 8 MiB block live",
          (unsigned long long)b.g.large_live_bytes);

    /* Repeated same-size buffers: all hits, no fresh segment, no syscall
     * visible as os_map. */
    snap_take(&a);
    for (int i = 0; i < 200; i++) {
        xfree(q);
        q = malloc(8 * MiB);
        CHECK(q == p, "round %d: malloc(8 MiB) = %p, expected %p", i, q, p);
        ((volatile char *)q)[i * 4096] = 1;
    }
    snap_take(&b);
    CHECK(LDELTA(&a, &b, cache_hits) == 200, "200 same-size rounds gave %lld hits",
          (long long)LDELTA(&a, &b, cache_hits));
    CHECK(LDELTA(&a, &b, segments) == 0 && LDELTA(&a, &b, segments_freed) == 0,
          "same-size rounds took %lld and gave back %lld segments",
          (long long)LDELTA(&a, &b, segments), (long long)LDELTA(&a, &b, segments_freed));
    CHECK(b.t.box.os_map == a.t.box.os_map, "same-size rounds made %llu OS mappings",
          (unsigned long long)(b.t.box.os_map - a.t.box.os_map));

    /* A larger cached span is split: the rest is cached and serves too. */
    xfree(q);
    snap_take(&a);
    void *x = malloc(3 * MiB), *y = malloc(4 * MiB);
    snap_take(&b);
    CHECK(x == p, "malloc(3 MiB) = %p, expected the start of the cached 8 MiB span %p", x, p);
    CHECK((char *)y == (char *)p + 4 * MiB, "malloc(4 MiB) = %p, expected the rest of the span %p",
          y, (void *)((char *)p + 4 * MiB));
    CHECK(LDELTA(&a, &b, cache_hits) == 2 && LDELTA(&a, &b, segments) == 0,
          "split reuse: hits +%lld segments +%lld", (long long)LDELTA(&a, &b, cache_hits),
          (long long)LDELTA(&a, &b, segments));
    /* Freed in either order they coalesce back into one span. */
    xfree(y);
    xfree(x);
    void *z = malloc(8 * MiB);
    CHECK(z == p, "malloc(8 MiB) after freeing both halves = %p, expected the merged span %p", z, p);
    xfree(z);
}

/* ---- usable size -------------------------------------------------------- */

static void usable(void) {
    static const size_t sizes[] = { 1 * MiB + 1, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 5 * MiB + 3,
                                    7 * MiB, 33 * MiB + 17, 100 * MiB };
    live_set ls;
    ls_init(&ls, 64);
    for (int round = 0; round < 2; round++) {   /* fresh spans, then cached ones */
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = malloc(sizes[i]);
            CHECK(p, "malloc(%zu) failed", sizes[i]);
            size_t u = malloc_usable_size(p);
            CHECK(u == round_seg(sizes[i]), "malloc_usable_size(malloc(%zu)) = %zu, expected %zu",
                  sizes[i], u, round_seg(sizes[i]));
            ls_add(&ls, p, sizes[i], "large block");   /* tags all u bytes */
        }
        ls_verify(&ls, "large blocks written over their usable size");
        ls_free_all(&ls);
    }
    ls_destroy(&ls);
}

/* ---- calloc on reuse ------------------------------------------------------ */

static void calloc_reuse(void) {
    trim();
    snap a, b;
    void *p = malloc(10 * MiB);
    CHECK(p, "malloc(10 MiB) failed");
    memset(p, 0xab, malloc_usable_size(p));
    xfree(p);
    snap_take(&a);
    char *q = calloc(1, 10 * MiB);
    snap_take(&b);
    CHECK(q == p, "calloc(10 MiB) = %p, expected the cached dirty span %p", (void *)q, p);
    CHECK(LDELTA(&a, &b, cache_hits) == 1, "calloc(10 MiB) was not a cache hit");
    long off = zero_find(q, 10 * MiB);
    CHECK(off < 0, "calloc on a reused span: byte %ld is not zero", off);
    memset(q, 0xcd, malloc_usable_size(q));
    xfree(q);
    /* Split pieces of a dirty span are cleared too. */
    char *r = calloc(3 * MiB, 1), *s = calloc(1, 5 * MiB + 100);
    CHECK(r == p && s == (char *)p + 4 * MiB, "calloc pieces at %p %p, expected %p and %p",
          (void *)r, (void *)s, p, (void *)((char *)p + 4 * MiB));
    CHECK((off = zero_find(r, 3 * MiB)) < 0, "calloc(3 MiB) from a dirty span: byte %ld not zero", off);
    CHECK((off = zero_find(s, 5 * MiB + 100)) < 0, "calloc(5 MiB) from a dirty span: byte %ld not zero", off);
    xfree(r);
    xfree(s);
    /* A huge dirty span is purged rather than cleared. */
    char *h = malloc(100 * MiB);
    CHECK(h, "malloc(100 MiB) failed");
    dirty_pages(h, 100 * MiB, 5);
    uintptr_t ha = (uintptr_t)h;
    xfree(h);
    snap_take(&a);
    h = calloc(1, 90 * MiB);
    snap_take(&b);
    /* (the freed span merged with the cached 10 MiB one in front of it) */
    CHECK(h && LDELTA(&a, &b, cache_hits) == 1 && LDELTA(&a, &b, segments) == 0,
          "calloc(90 MiB) = %p was not served by the cached 100 MiB span %#lx", (void *)h, (unsigned long)ha);
    CHECK((off = zero_find(h, 90 * MiB)) < 0, "calloc(90 MiB) from a dirty span: byte %ld not zero", off);
    xfree(h);
    /* A calloc larger than anything cached gets fresh (zero) memory. */
    char *t = calloc(1, 30 * MiB);
    CHECK(t && (off = zero_find(t, 30 * MiB)) < 0, "calloc(30 MiB): byte %ld not zero", off);
    xfree(t);
}

/* ---- realloc ------------------------------------------------------------- */

static void realloc_large(void) {
    trim();
    snap a, b;
    /* Growth through sizes: every usable byte of the old block survives. */
    char *p = malloc(3 * MiB);
    size_t u = malloc_usable_size(p);
    uint64_t tag = 100;
    tag_fill(p, u, tag);
    static const size_t grow[] = { 5 * MiB, 9 * MiB, 17 * MiB + 5, 40 * MiB, 100 * MiB, 130 * MiB };
    for (size_t i = 0; i < sizeof grow / sizeof grow[0]; i++) {
        char *q = xrealloc(p, grow[i]);
        CHECK(q, "xrealloc(%p, %zu) failed", (void *)p, grow[i]);
        CHECK_TAG(q, u, tag, "realloc growth");
        p = q;
        u = malloc_usable_size(p);
        CHECK(u >= grow[i], "usable %zu < %zu after realloc", u, grow[i]);
        tag_fill(p, u, ++tag);
    }
    /* Shrink: in place, the prefix kept, the tail released. */
    snap_take(&a);
    char *q = xrealloc(p, 2 * MiB + 1);
    snap_take(&b);
    CHECK(q == p, "realloc shrink moved the block (%p -> %p)", (void *)p, (void *)q);
    CHECK(malloc_usable_size(q) == 4 * MiB, "usable %zu after shrinking to 2 MiB + 1", malloc_usable_size(q));
    CHECK_TAG(q, 2 * MiB + 1, tag, "realloc shrink");
    CHECK(a.g.large_live_bytes - b.g.large_live_bytes == u - 4 * MiB,
          "large_live_bytes fell by %lld on shrink, expected %zu",
          (long long)(a.g.large_live_bytes - b.g.large_live_bytes), u - 4 * MiB);
    xfree(q);

    /* In place growth into the cached span that follows. */
    trim();
    char *c = malloc(16 * MiB);
    xfree(c);
    char *x = malloc(4 * MiB);
    CHECK(x == c, "malloc(4 MiB) = %p, expected the cached span start %p", (void *)x, (void *)c);
    tag_fill(x, 4 * MiB, 7);
    snap_take(&a);
    char *y = xrealloc(x, 11 * MiB);
    snap_take(&b);
    CHECK(y == x, "realloc into the cached neighbour moved the block (%p -> %p)", (void *)x, (void *)y);
    CHECK(malloc_usable_size(y) == 12 * MiB, "usable %zu after growing in place to 11 MiB",
          malloc_usable_size(y));
    CHECK(LDELTA(&a, &b, allocs) == 0 && LDELTA(&a, &b, segments) == 0,
          "in-place growth allocated (%lld allocs, %lld segments)", (long long)LDELTA(&a, &b, allocs),
          (long long)LDELTA(&a, &b, segments));
    CHECK_TAG(y, 4 * MiB, 7, "in-place growth");
    /* The neighbour is live now: growing further must move, keeping all. */
    char *blocker = malloc(4 * MiB);
    CHECK(blocker == y + 12 * MiB, "malloc(4 MiB) = %p, expected the rest of the span %p",
          (void *)blocker, (void *)(y + 12 * MiB));
    tag_fill(blocker, 4 * MiB, 8);
    tag_fill(y, 12 * MiB, 9);
    char *z = xrealloc(y, 30 * MiB);
    CHECK(z && z != y, "realloc past a live neighbour = %p", (void *)z);
    CHECK_TAG(z, 12 * MiB, 9, "moving growth");
    CHECK_TAG(blocker, 4 * MiB, 8, "the neighbour of a moved block");
    xfree(blocker);

    /* Failure keeps the block. */
    static const size_t bad[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)1 << 62, (size_t)1 << 47 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        char *w = xrealloc(z, bad[i]);
        CHECK(w == NULL && errno == ENOMEM, "xrealloc(%p, %#zx) = %p errno %d", (void *)z, bad[i],
              (void *)w, errno);
        CHECK_TAG(z, 12 * MiB, 9, "failed realloc");
    }
    CHECK(malloc_usable_size(z) >= 30 * MiB, "usable size changed by a failed realloc");
    xfree(z);

    /* Across tiers: L2.5 -> Large -> L2.5. */
    char *s = malloc(100 * KiB);
    CHECK(s, "malloc(100 KiB) failed");
    tag_fill(s, 100 * KiB, 21);
    s = xrealloc(s, 3 * MiB);
    CHECK(s, "xrealloc(100 KiB -> 3 MiB) failed");
    CHECK_TAG(s, 100 * KiB, 21, "realloc L2.5 -> Large");
    tag_fill(s, 3 * MiB, 22);
    s = xrealloc(s, 200 * KiB);
    CHECK(s, "xrealloc(3 MiB -> 200 KiB) failed");
    CHECK_TAG(s, 200 * KiB, 22, "realloc Large -> L2.5");
    xfree(s);
}

/* ---- alignment ------------------------------------------------------------ */

static void alignment(void) {
    static const size_t aligns[] = { 4 * KiB, 64 * KiB, 128 * KiB, 1 * MiB, 2 * MiB, 4 * MiB,
                                     16 * MiB, 64 * MiB, 256 * MiB };
    static const size_t sizes[] = { 1, 100 * KiB, 1 * MiB + 512 * KiB, 5 * MiB, 40 * MiB };
    live_set ls;
    ls_init(&ls, 256);
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            void *p = (void *)1;
            int r = posix_memalign(&p, aligns[i], sizes[j]);
            CHECK(r == 0 && p, "posix_memalign(%zu, %zu) = %d", aligns[i], sizes[j], r);
            CHECK(((uintptr_t)p & (aligns[i] - 1)) == 0, "posix_memalign(%zu, %zu) = %p misaligned",
                  aligns[i], sizes[j], p);
            ls_add(&ls, p, sizes[j], "aligned block");
        }
    ls_verify(&ls, "aligned Large blocks");
    ls_free_all(&ls);
    ls_destroy(&ls);
    void *g = aligned_alloc(1024 * MiB, 3 * MiB);
    CHECK(g && ((uintptr_t)g & (1024 * MiB - 1)) == 0, "aligned_alloc(1 GiB, 3 MiB) = %p", g);
    memset(g, 1, 3 * MiB);
    xfree(g);

    /* An aligned run inside a cached span is reused. */
    trim();
    char *p = malloc(64 * MiB);
    xfree(p);
    snap a, b;
    snap_take(&a);
    char *q = memalign(16 * MiB, 16 * MiB);
    snap_take(&b);
    CHECK(q && ((uintptr_t)q & (16 * MiB - 1)) == 0, "memalign(16 MiB, 16 MiB) = %p", (void *)q);
    CHECK(q >= p && q + 16 * MiB <= p + 64 * MiB,
          "memalign(16 MiB) = %p, expected an aligned run of the cached span %p", (void *)q, (void *)p);
    CHECK(LDELTA(&a, &b, cache_hits) == 1 && LDELTA(&a, &b, segments) == 0,
          "aligned reuse: hits +%lld segments +%lld", (long long)LDELTA(&a, &b, cache_hits),
          (long long)LDELTA(&a, &b, segments));
    xfree(q);
    void *whole = malloc(64 * MiB);
    CHECK(whole == p, "the pieces around an aligned run did not merge back (%p, expected %p)",
          whole, (void *)p);
    xfree(whole);
}

/* ---- budget, trim, RSS ---------------------------------------------------- */

static void budget_trim_rss(void) {
    trim();
    enum { N = 40 };
    void *blk[N];
    long rss0 = rss_kb();
    snap a, b;
    snap_take(&a);
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(8 * MiB);
        CHECK(blk[i], "malloc(8 MiB) #%d failed", i);
        dirty_pages(blk[i], 8 * MiB, (uint64_t)i);
    }
    for (int i = 0; i < N; i++) xfree(blk[i]);
    snap_take(&b);
    /* Budget 256 MiB (main sets it); 320 MiB were freed. */
    CHECK(b.g.bigcache_bytes <= 256 * MiB && b.g.bigcache_bytes >= 200 * MiB,
          "bigcache_bytes = %llu after freeing 320 MiB (budget 256 MiB)",
          (unsigned long long)b.g.bigcache_bytes);
    CHECK(LDELTA(&a, &b, segments_freed) * (int64_t)SEG >= (int64_t)(N * 8 * MiB - 256 * MiB),
          "only %lld segments given back over budget", (long long)LDELTA(&a, &b, segments_freed));
    long rss1 = rss_kb();
    CHECK(rss1 - rss0 >= 150 * 1024, "the cache holds %llu bytes but RSS only grew by %ld KiB",
          (unsigned long long)b.g.bigcache_bytes, rss1 - rss0);
    CHECK(malloc_trim(0) == 1, "malloc_trim with a full BigCache reported nothing released");
    snap_take(&b);
    CHECK(b.g.bigcache_bytes == 0, "bigcache_bytes = %llu after malloc_trim",
          (unsigned long long)b.g.bigcache_bytes);
    long rss2 = rss_kb();
    CHECK(rss1 - rss2 >= 150 * 1024, "malloc_trim released the cache but RSS fell only %ld KiB (%ld -> %ld)",
          rss1 - rss2, rss1, rss2);
}

/* ---- impossible sizes ----------------------------------------------------- */

static void enomem(void) {
    static const size_t bad[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 2 * MiB, SIZE_MAX / 2 + 1,
                                  (size_t)1 << 62, (size_t)1 << 47 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = malloc(bad[i]);
        CHECK(p == NULL && errno == ENOMEM, "malloc(%#zx) = %p errno %d", bad[i], p, errno);
        errno = 0;
        p = calloc(1, bad[i]);
        CHECK(p == NULL && errno == ENOMEM, "calloc(1, %#zx) = %p errno %d", bad[i], p, errno);
        void *s = (void *)0x5a;
        int r = posix_memalign(&s, 16 * MiB, bad[i]);
        CHECK(r == ENOMEM && s == (void *)0x5a, "posix_memalign(16 MiB, %#zx) = %d, *p %p", bad[i], r, s);
    }
    void *s = (void *)0x5a;
    int r = posix_memalign(&s, (size_t)1 << 50, 4096);
    CHECK(r == ENOMEM && s == (void *)0x5a, "posix_memalign(1 << 50, 4096) = %d, *p %p", r, s);
    /* Nothing leaked into the cache or the live bytes. */
    void *p = malloc(3 * MiB);
    CHECK(p, "malloc(3 MiB) after failures");
    xfree(p);
}

/* ---- the zeroed large-buffer workload -------------------------------------- */

static void workload(void) {
    trim();
    enum { SLOTS = 20, ROUNDS = 300 };
    char *slot[SLOTS] = { 0 };
    uint64_t rng = 42;
    snap a, b;
    snap_take(&a);
    for (int i = 0; i < ROUNDS; i++) {
        unsigned k = (unsigned)(rng_next(&rng) % SLOTS);
        xfree(slot[k]);
        size_t n = 5 * MiB + (size_t)(rng_next(&rng) % (20 * MiB));
        char *p = calloc(1, n);
        CHECK(p, "calloc(%zu) failed in round %d", n, i);
        /* Zero where earlier owners wrote (every page) and at the ends. */
        for (size_t o = 0; o + 8 <= n; o += 4096)
            CHECK(*(uint64_t *)(p + o) == 0, "round %d: calloc(%zu) = %p not zero at %zu", i, n, (void *)p, o);
        CHECK(p[n - 1] == 0, "round %d: last byte not zero", i);
        dirty_pages(p, malloc_usable_size(p), (uint64_t)i);
        slot[k] = p;
    }
    snap_take(&b);
    for (int k = 0; k < SLOTS; k++) xfree(slot[k]);
    int64_t hits = LDELTA(&a, &b, cache_hits), misses = LDELTA(&a, &b, cache_misses);
    printf("workload: %d calloc of 5..25 MiB, %lld cache hits, %lld misses, %lld fresh segments\n",
           ROUNDS, (long long)hits, (long long)misses, (long long)LDELTA(&a, &b, segments));
    CHECK(hits + misses == ROUNDS, "hits %lld + misses %lld != %d allocations", (long long)hits,
          (long long)misses, ROUNDS);
    /* The first 20 (slots filling) are necessarily fresh. */
    CHECK(hits >= (ROUNDS - SLOTS) * 3 / 4, "only %lld of %d reallocations were cache hits",
          (long long)hits, ROUNDS - SLOTS);
}

/* ---- threads ---------------------------------------------------------------- */

enum { TSLOTS = 16, TROUNDS = 200, NTHREADS = 4 };
static struct { char *p; size_t n; uint64_t tag; } shared_slot[TSLOTS];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;

static void *trader(void *arg) {
    uint64_t rng = (uintptr_t)arg * 7919 + 1;
    for (int i = 0; i < TROUNDS; i++) {
        size_t n = 1 * MiB + 1 + (size_t)(rng_next(&rng) % (12 * MiB));
        uint64_t tag = ((uint64_t)(uintptr_t)arg << 32) | (uint64_t)i;
        char *p;
        switch (rng_next(&rng) % 3) {
        case 0: p = malloc(n); break;
        case 1: p = calloc(1, n); CHECK(!p || zero_find(p, n) < 0, "calloc not zero"); break;
        default: p = malloc(n / 2 + 1); if (p) p = xrealloc(p, n); break;
        }
        CHECK(p, "thread allocation of %zu failed", n);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n, "usable %zu < %zu", u, n);
        tag_fill(p, 64 * KiB, tag);
        tag_fill(p + n - 64 * KiB, 64 * KiB, tag + 1);
        unsigned k = (unsigned)(rng_next(&rng) % TSLOTS);
        pthread_mutex_lock(&shared_mu);
        char *old = shared_slot[k].p;
        size_t on = shared_slot[k].n;
        uint64_t ot = shared_slot[k].tag;
        shared_slot[k].p = p; shared_slot[k].n = n; shared_slot[k].tag = tag;
        pthread_mutex_unlock(&shared_mu);
        if (old) {
            CHECK_TAG(old, 64 * KiB, ot, "traded block head");
            CHECK_TAG(old + on - 64 * KiB, 64 * KiB, ot + 1, "traded block tail");
            xfree(old);
        }
    }
    return NULL;
}

static void threads(void) {
    pthread_t t[NTHREADS];
    snap s0;
    snap_take(&s0);
    for (uintptr_t i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, trader, (void *)(i + 1)) == 0, "pthread_create");
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    for (int k = 0; k < TSLOTS; k++) {
        if (!shared_slot[k].p) continue;
        CHECK_TAG(shared_slot[k].p, 64 * KiB, shared_slot[k].tag, "traded block head");
        xfree(shared_slot[k].p);
        shared_slot[k].p = NULL;
    }
    snap s;
    snap_take(&s);
    CHECK(s.g.large_live_bytes == s0.g.large_live_bytes,
          "large_live_bytes = %llu after the threads freed everything, %llu before",
          (unsigned long long)s.g.large_live_bytes, (unsigned long long)s0.g.large_live_bytes);
}

/* ---- sub-modes in a re-executed copy ------------------------------------------ */

static char *self_path;

static int run_self(const char *mode, const char *env) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = { self_path, (char *)mode, NULL };
        char *envp[] = { (char *)env, NULL };
        execve(self_path, argv, envp);
        _exit(126);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* HAKMEM_ARENA_SIZE=1G: requests beyond it live in OS mappings. */
static int mode_external(void) {
    require_hakmem();
    snap a, b;
    snap_take(&a);
    size_t n = 1536 * MiB;
    char *p = malloc(n);
    CHECK(p && !hk_owns(p), "malloc(1.5 GiB) with a 1 GiB arena = %p, expected an OS mapping", (void *)p);
    size_t u = malloc_usable_size(p);
    CHECK(u >= n && u < n + 4096, "malloc_usable_size of an OS-mapped block = %zu", u);
    tag_fill(p, 1 * MiB, 1);
    tag_fill(p + u - 1 * MiB, 1 * MiB, 2);
    char *q = xrealloc(p, 2048 * MiB);
    CHECK(q, "realloc of an OS-mapped block to 2 GiB failed");
    CHECK_TAG(q, 1 * MiB, 1, "mremap growth head");
    CHECK_TAG(q + u - 1 * MiB, 1 * MiB, 2, "mremap growth tail");
    char *r = xrealloc(q, 1100 * MiB);
    CHECK(r == q, "shrinking an OS-mapped block moved it");
    CHECK(malloc_usable_size(r) == 1100 * MiB, "usable %zu after shrinking to 1100 MiB", malloc_usable_size(r));
    CHECK_TAG(r, 1 * MiB, 1, "mremap shrink head");
    void *al = NULL;
    CHECK(posix_memalign(&al, 64 * MiB, 1200 * MiB) == 0 && ((uintptr_t)al & (64 * MiB - 1)) == 0,
          "posix_memalign(64 MiB, 1200 MiB) outside the arena = %p", al);
    memset(al, 3, 4096);
    snap_take(&b);
    CHECK(LDELTA(&a, &b, segments) >= 2, "OS mappings not counted as segments");
    xfree(r);
    xfree(al);
    /* Fill the arena with Large blocks: the overflow goes to OS mappings. */
    void *blk[80];
    int outside = 0;
    for (int i = 0; i < 80; i++) {
        blk[i] = malloc(20 * MiB);
        CHECK(blk[i], "malloc(20 MiB) #%d failed", i);
        ((char *)blk[i])[0] = (char)i;
        outside += !hk_owns(blk[i]);
    }
    CHECK(outside > 0, "80 x 20 MiB all fit in a 1 GiB arena?");
    for (int i = 0; i < 80; i++) {
        CHECK(((char *)blk[i])[0] == (char)i, "block %d lost its first byte", i);
        xfree(blk[i]);
    }
    snap_take(&b);
    CHECK(b.g.large_live_bytes == a.g.large_live_bytes,
          "large_live_bytes = %llu after freeing everything, %llu before",
          (unsigned long long)b.g.large_live_bytes, (unsigned long long)a.g.large_live_bytes);
    return 0;
}

/* HAKMEM_BIGCACHE_BYTES=0: nothing is cached, every free gives back. */
static int mode_nocache(void) {
    require_hakmem();
    snap a, b;
    snap_take(&a);
    for (int i = 0; i < 20; i++) {
        char *p = calloc(1, 6 * MiB);
        CHECK(p && zero_find(p, 6 * MiB) < 0, "calloc(6 MiB) without cache");
        memset(p, 0xee, 6 * MiB);
        xfree(p);
    }
    snap_take(&b);
    CHECK(LDELTA(&a, &b, cache_hits) == 0 && LDELTA(&a, &b, cache_misses) == 20,
          "no cache: hits +%lld misses +%lld", (long long)LDELTA(&a, &b, cache_hits),
          (long long)LDELTA(&a, &b, cache_misses));
    CHECK(LDELTA(&a, &b, segments_freed) == 60, "no cache: %lld segments given back, expected 60",
          (long long)LDELTA(&a, &b, segments_freed));
    CHECK(b.g.bigcache_bytes == 0, "no cache: bigcache_bytes = %llu", (unsigned long long)b.g.bigcache_bytes);
    return 0;
}

/* HAKMEM_EXTERNAL=warn: a double free and interior pointers are reported
 * and change nothing. */
static int mode_badfree(void) {
    require_hakmem();
    char *p = malloc(6 * MiB);
    CHECK(p, "malloc(6 MiB) failed");
    xfree(p + 2 * MiB);   /* inside the span: a tail segment */
    xfree(p + 4096);      /* inside the head segment */
    CHECK(malloc_usable_size(p) == 6 * MiB, "the block changed after bad frees");
    uintptr_t pa = (uintptr_t)p;
    xfree(p);
    xfree(p);             /* double free: the span is cached, not live */
    char *a = malloc(6 * MiB), *b = malloc(6 * MiB);
    CHECK(a && b && a != b, "after a double free malloc gave %p twice", (void *)a);
    CHECK((uintptr_t)a == pa || (uintptr_t)b == pa, "the freed span %#lx was not reused", (unsigned long)pa);
    tag_fill(a, 6 * MiB, 1);
    tag_fill(b, 6 * MiB, 2);
    CHECK_TAG(a, 6 * MiB, 1, "block after a double free");
    xfree(a);
    xfree(b);
    return 0;
}

/* One fixed sequence of Large operations; with HAKMEM_FAULT_MMAP one OS
 * mapping or commit along the way fails.  A failed arena commit must fall
 * back to an OS mapping, any other failure must be a clean ENOMEM, and
 * everything that succeeded must stay intact. */
static int mode_fault(void) {
    char *keep[8] = { 0 };
    int failures = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            size_t n = (size_t)(i + 2) * MiB + 12345;
            errno = 0;
            char *p = (i & 1) ? calloc(1, n) : memalign(i == 4 ? 8 * MiB : 64, n);
            if (!p) { CHECK(errno == ENOMEM, "failed allocation with errno %d", errno); failures++; continue; }
            if (i & 1) CHECK(zero_find(p, n) < 0, "calloc not zero");
            failures += !hk_owns(p);   /* the arena commit failed: an OS mapping served */
            tag_fill(p, 4096, (uint64_t)i);
            if (keep[i]) {
                CHECK_TAG(keep[i], 4096, (uint64_t)i, "kept block");
                errno = 0;
                char *q = xrealloc(keep[i], n * 3);
                if (q) { CHECK_TAG(q, 4096, (uint64_t)i, "realloc'd block"); keep[i] = q; failures += !hk_owns(q); }
                else { CHECK(errno == ENOMEM, "failed realloc with errno %d", errno); failures++; }
                xfree(keep[i]);
            }
            keep[i] = p;
        }
        if (round == 1) malloc_trim(0);
    }
    for (int i = 0; i < 8; i++) {
        if (!keep[i]) continue;
        CHECK_TAG(keep[i], 4096, (uint64_t)i, "kept block at the end");
        xfree(keep[i]);
    }
    return failures ? 3 : 0;   /* 3: a failure was met and handled */
}

/* Run one part and log how long it took (information only). */
static void part(const char *name, void (*fn)(void)) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%-16s ok  %6.3f s\n", name, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    fflush(stdout);
}

static void sub_modes(void) {
    CHECK(run_self("external", "HAKMEM_ARENA_SIZE=1G") == 0, "external mode failed");
    CHECK(run_self("nocache", "HAKMEM_BIGCACHE_BYTES=0") == 0, "nocache mode failed");
    CHECK(run_self("badfree", "HAKMEM_EXTERNAL=warn") == 0, "badfree mode failed");
}

static void fault_runs(void) {
    char env[64];
    int failed_runs = 0;
    /* The sequence makes about 20 mappings after the 3 of start-up. */
    for (int n = 1; n <= 30; n++) {
        snprintf(env, sizeof env, "HAKMEM_FAULT_MMAP=%d", n);
        int rc = run_self("fault", env);
        CHECK(rc == 0 || rc == 3, "fault mode with %s exited %d", env, rc);
        failed_runs += rc == 3;
    }
    /* The injected failures must have reached Large operations. */
    CHECK(failed_runs > 0, "no injected mapping failure reached a Large operation");
    printf("fault injection: in %d of 30 runs a Large operation met the failure\n", failed_runs);
}

int main(int argc, char **argv) {
    self_path = realpath("/proc/self/exe", NULL);
    CHECK(self_path, "realpath(/proc/self/exe)");
    if (argc > 1) {
        if (!strcmp(argv[1], "external")) return mode_external();
        if (!strcmp(argv[1], "nocache")) return mode_nocache();
        if (!strcmp(argv[1], "fault")) return mode_fault();
        if (!strcmp(argv[1], "badfree")) return mode_badfree();
        fprintf(stderr, "usage: %s [external|nocache|fault|badfree]\n", argv[0]);
        return 2;
    }
    /* The budget checks assume a 256 MiB BigCache, whatever the default. */
    const char *bc = getenv("HAKMEM_BIGCACHE_BYTES");
    if (!bc || strcmp(bc, "256M") != 0) {
        extern char **environ;
        static char *envp[512];
        size_t k = 0;
        for (char **e = environ; *e && k < 510; e++)
            if (strncmp(*e, "HAKMEM_BIGCACHE_BYTES=", 22) != 0) envp[k++] = *e;
        envp[k++] = "HAKMEM_BIGCACHE_BYTES=256M";
        envp[k] = NULL;
        execve(self_path, argv, envp);
        CHECK(0, "re-exec with HAKMEM_BIGCACHE_BYTES=256M: %s", strerror(errno));
    }
    require_hakmem();
    part("reuse", reuse);
    part("usable", usable);
    part("calloc_reuse", calloc_reuse);
    part("realloc", realloc_large);
    part("alignment", alignment);
    part("budget_trim_rss", budget_trim_rss);
    part("enomem", enomem);
    part("workload", workload);
    part("threads", threads);
    part("sub-modes", sub_modes);
    part("fault_runs", fault_runs);
    printf("test_large: ok\n");
    return 0;
}
