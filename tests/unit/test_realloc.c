/* test_realloc.c - realloc and reallocarray semantics.
 *
 * realloc(NULL, n) is malloc; realloc(p, 0) frees (NULL or a unique
 * pointer, as glibc); growing within the usable size stays in place;
 * shrinking and growing across every tier keep the contents, including
 * the slack malloc_usable_size reported (programs write into it); a failed
 * realloc returns NULL with ENOMEM and leaves the old block intact;
 * reallocarray refuses overflowing products.
 */
#include "check.h"

#include <stddef.h>

static void basics(void) {
    void *p = realloc(NULL, 100);
    CHECK(p != NULL, "realloc(NULL, 100) returned NULL");
    CHECK(((uintptr_t)p & 15) == 0, "realloc(NULL, 100) = %p misaligned", p);
    CHECK(malloc_usable_size(p) >= 100, "realloc(NULL, 100): usable %zu", malloc_usable_size(p));
    tag_fill(p, 100, 1);

    /* realloc(p, 0): glibc frees p and returns NULL; a unique pointer
     * that can be freed is also allowed. */
#ifndef CHECK_AGAINST_GLIBC
    snap a, b;
    snap_take(&a);
#endif
    void *z = realloc(p, 0);
#ifndef CHECK_AGAINST_GLIBC
    snap_take(&b);
    /* The 100-byte block (class C4, 128 B) was freed, whatever came back. */
    CHECK(DELTA(&a, &b, cls[4].frees) == 1, "realloc(p, 0) of a 100-byte block: cls[4].frees grew by %lld, "
          "expected 1 (the block must be freed)", (long long)DELTA(&a, &b, cls[4].frees));
#endif
    if (z) {
        void *other = malloc(1);
        CHECK(other != z, "realloc(p, 0) returned %p, which malloc handed out again while live", z);
        free(other);
        free(z);
    }
    z = realloc(NULL, 0);
    if (z) free(z);

    /* Growing within the usable size stays in place, shrinking keeps the
     * prefix. */
    static const size_t s[] = { 1, 10, 24, 100, 1000, 3000, 20000, 40000, 300000, 2 * 1024 * 1024 + 3 };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        p = malloc(s[i]);
        CHECK(p, "malloc(%zu) returned NULL", s[i]);
        size_t u = malloc_usable_size(p);
        tag_fill(p, u, 2 + i);
        uintptr_t old = (uintptr_t)p;
        void *q = realloc(p, u);
        CHECK(q != NULL, "realloc(p, usable size %zu) returned NULL", u);
#ifndef CHECK_AGAINST_GLIBC
        /* hakmem grows in place when the block already fits (glibc may
         * move an mmapped chunk). */
        CHECK((uintptr_t)q == old, "realloc(p, usable size %zu) of a %zu-byte block moved it (%#lx -> %p)",
              u, s[i], (unsigned long)old, q);
#else
        (void)old;
#endif
        p = q;
        CHECK_TAG(q, u, 2 + i, "realloc to the usable size");
        size_t half = (s[i] + 1) / 2;
        q = realloc(p, half);
        CHECK(q != NULL, "realloc(p, %zu) shrink returned NULL", half);
        CHECK(malloc_usable_size(q) >= half, "shrink to %zu: usable %zu", half, malloc_usable_size(q));
        CHECK_TAG(q, half, 2 + i, "shrink");
        free(q);
    }
}

/* Walk a chain of sizes up through every tier and back down: each step
 * keeps min(old usable, new size) bytes, then the whole new usable size
 * gets a fresh tag. */
static void across_tiers(void) {
    static const size_t chain[] = {
        1, 8, 9, 16, 17, 100, 1000, 1024, 1025, 4000, 32 * 1024, 32 * 1024 + 1, 200000,
        1024 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024, 64 * 1024 * 1024, 6 * 1024 * 1024,
        1024 * 1024 + 1, 1024 * 1024, 300000, 32 * 1024 + 1, 32 * 1024, 5000, 1025, 1024, 200,
        16, 8, 1,
    };
    size_t n = sizeof chain / sizeof chain[0];
    for (int pass = 0; pass < 3; pass++) {
        void *p = malloc(chain[0]);
        CHECK(p, "malloc(%zu)", chain[0]);
        size_t u = malloc_usable_size(p);
        uint64_t tag = 1000 + (uint64_t)pass * 100;
        tag_fill(p, u, tag);
        /* A block allocated between steps, so that in-place growth is not
         * always possible. */
        void *fence = NULL;
        for (size_t i = 1; i < n; i++) {
            void *q = realloc(p, chain[i]);
            CHECK(q != NULL, "realloc(%zu -> %zu) returned NULL", chain[i - 1], chain[i]);
            size_t keep = u < chain[i] ? u : chain[i];
            char what[80];
            snprintf(what, sizeof what, "realloc %zu -> %zu (pass %d)", chain[i - 1], chain[i], pass);
            CHECK_TAG(q, keep, tag, what);
            CHECK(((uintptr_t)q & (chain[i] <= 8 ? 7 : 15)) == 0, "%s: %p misaligned", what, q);
            p = q;
            u = malloc_usable_size(p);
            CHECK(u >= chain[i], "%s: usable %zu", what, u);
            tag++;
            tag_fill(p, u, tag);
            if (pass == 1) { free(fence); fence = malloc(chain[i]); CHECK(fence, "malloc(%zu)", chain[i]); }
        }
        free(fence);
        free(p);
    }
}

/* Large blocks grow by mremap: check the contents survive several
 * doublings and shrinks. */
static void large_growth(void) {
    size_t s = 2 * MiB;
    void *p = malloc(s);
    CHECK(p, "malloc(2 MiB)");
    tag_fill(p, s, 77);
    for (int i = 0; i < 4; i++) {
        size_t ns = s * 2 + 12345;
        void *q = realloc(p, ns);
        CHECK(q, "realloc(%zu -> %zu) returned NULL", s, ns);
        CHECK_TAG(q, s, 77, "large realloc growth");
        tag_fill((char *)q + s, ns - s, 78 + i);
        tag_fill(q, ns, 77);
        p = q; s = ns;
    }
    void *q = realloc(p, 3 * MiB);
    CHECK(q, "realloc shrink to 3 MiB returned NULL");
    CHECK_TAG(q, 3 * MiB, 77, "large realloc shrink");
    free(q);
}

/* A failed realloc returns NULL, sets ENOMEM and leaves the block as it was. */
static void failure(void) {
    static const size_t s[] = { 8, 100, 1024, 5000, 40000, 500000, 3 * 1024 * 1024 };
    static const size_t bad[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        void *p = malloc(s[i]);
        CHECK(p, "malloc(%zu)", s[i]);
        size_t u = malloc_usable_size(p);
        tag_fill(p, u, 500 + i);
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            errno = 0;
            void *q = realloc(p, opaque(bad[j]));
            CHECK(q == NULL, "realloc(%zu-byte block, %#zx) = %p, expected NULL", s[i], bad[j], q);
            CHECK(errno == ENOMEM, "realloc(%zu-byte block, %#zx): errno %d, expected ENOMEM", s[i], bad[j], errno);
            CHECK(malloc_usable_size(p) == u, "failed realloc changed the usable size of the old block");
            CHECK_TAG(p, u, 500 + i, "old block after a failed realloc");
        }
        errno = 0;
        void *q = reallocarray(p, opaque(SIZE_MAX / 2), 3);
        CHECK(q == NULL && errno == ENOMEM, "reallocarray(p, SIZE_MAX/2, 3) = %p, errno %d", q, errno);
        errno = 0;
        q = reallocarray(p, opaque((size_t)1 << 33), (size_t)1 << 33);
        CHECK(q == NULL && errno == ENOMEM, "reallocarray(p, 2^33, 2^33) = %p, errno %d", q, errno);
        CHECK_TAG(p, u, 500 + i, "old block after a failed reallocarray");
        /* The old block still works normally. */
        q = realloc(p, s[i] + 1);
        CHECK(q, "realloc after failures returned NULL");
        CHECK_TAG(q, u < s[i] + 1 ? u : s[i] + 1, 500 + i, "realloc after failures");
        free(q);
    }
    errno = 0;
    void *q = reallocarray(NULL, opaque(SIZE_MAX), 2);
    CHECK(q == NULL && errno == ENOMEM, "reallocarray(NULL, opaque(SIZE_MAX), 2) = %p, errno %d", q, errno);
    q = reallocarray(NULL, 10, 10);
    CHECK(q && malloc_usable_size(q) >= 100, "reallocarray(NULL, 10, 10) = %p", q);
    tag_fill(q, 100, 9);
    void *r = reallocarray(q, 1000, 10);
    CHECK(r && malloc_usable_size(r) >= 10000, "reallocarray(p, 1000, 10) = %p", r);
    CHECK_TAG(r, 100, 9, "reallocarray growth");
    free(r);
}

/* Random reallocs on 64 slots, every block checked at every step. */
static void random_walk(void) {
    enum { SLOTS = 64, STEPS = 20000 };
    void *p[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    uint64_t tag[SLOTS] = {0};
    uint64_t rng = 7, next = 1;
    for (int step = 0; step < STEPS; step++) {
        int i = (int)(rng_next(&rng) % SLOTS);
        uint64_t r = rng_next(&rng);
        int bits = (int)(r % 21);                 /* up to 1 MiB, log-uniform */
        size_t ns = (size_t)(rng_next(&rng) & (((uint64_t)1 << bits) - 1));
        if ((r >> 8) % 50 == 0) ns = 1 * MiB + (size_t)(r >> 20) % (3 * MiB);
        if (p[i]) CHECK_TAG(p[i], sz[i], tag[i], "random walk (before realloc)");
        void *q = realloc(p[i], ns);
        if (ns == 0 && q == NULL) { p[i] = NULL; sz[i] = 0; continue; }
        CHECK(q, "realloc(%zu -> %zu) returned NULL", sz[i], ns);
        size_t keep = sz[i] < ns ? sz[i] : ns;
        if (p[i]) CHECK_TAG(q, keep, tag[i], "random walk (after realloc)");
        p[i] = q; sz[i] = ns; tag[i] = next++;
        tag_fill(q, ns, tag[i]);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (p[i]) CHECK_TAG(p[i], sz[i], tag[i], "random walk (end)");
        free(p[i]);
    }
}

int main(void) {
    require_hakmem();
    basics();
    across_tiers();
    large_growth();
    failure();
    random_walk();
    printf("test_realloc: ok\n");
    return 0;
}
