/* test_align.c - every aligned allocation function.
 *
 * posix_memalign (EINVAL for a non-power-of-two or < sizeof(void *)
 * alignment, ENOMEM for an impossible size, *p untouched on any error),
 * aligned_alloc, memalign, valloc, pvalloc (rounds up to a page), for
 * alignments 8..2 MiB (and a few beyond) and sizes in every tier; blocks
 * kept live, checked for overlap and contents, freed with free().
 */
#include "check.h"

#include <stddef.h>

static live_set ls;
static size_t page;

static const size_t sizes[] = {
    0, 1, 8, 15, 16, 17, 100, 512, 1000, 1024, 1025, 4096, 5000, 32 * 1024, 40000,
    100000, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 5,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void keep(void *p, size_t size, size_t align, const char *fn) {
    char what[96];
    snprintf(what, sizeof what, "%s(align %zu, size %zu)", fn, align, size);
    CHECK(((uintptr_t)p & (align - 1)) == 0, "%s = %p is misaligned", what, p);
    ls_add(&ls, p, size, what);
    if (ls.n == ls.cap || ls.bytes > 64 * MiB) {
        ls_verify(&ls, "aligned blocks");
        ls_thin(&ls);
    }
}

static void posix_memalign_ok(void) {
    for (size_t a = sizeof(void *); a <= 2 * MiB; a <<= 1) {
        for (size_t i = 0; i < NSIZES; i++) {
            void *p = (void *)0x1;
            int r = posix_memalign(&p, a, sizes[i]);
            CHECK(r == 0, "posix_memalign(align %zu, size %zu) returned %d", a, sizes[i], r);
            CHECK(p != NULL && p != (void *)0x1, "posix_memalign(align %zu, size %zu) gave %p", a, sizes[i], p);
            keep(p, sizes[i], a, "posix_memalign");
        }
    }
    /* Alignments beyond 2 MiB, small and large sizes. */
    for (size_t a = 4 * MiB; a <= 32 * MiB; a <<= 2) {
        static const size_t big[] = { 1, 4096, 5 * 1024 * 1024 };
        for (size_t i = 0; i < 3; i++) {
            void *p = NULL;
            int r = posix_memalign(&p, a, big[i]);
            CHECK(r == 0, "posix_memalign(align %zu, size %zu) returned %d", a, big[i], r);
            keep(p, big[i], a, "posix_memalign");
        }
    }
    ls_verify(&ls, "posix_memalign blocks");
}

static void posix_memalign_errors(void) {
    static const size_t bad_align[] = { 0, 1, 2, 4, 3, 12, 24, 48, 96, sizeof(void *) + 1,
                                        4096 + 8, (size_t)1 << 63 | 8, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        void *sentinel = (void *)0x5a5a5a5a, *p = sentinel;
        int r = posix_memalign(&p, bad_align[i], 64);
        CHECK(r == EINVAL, "posix_memalign(align %#zx) returned %d, expected EINVAL", bad_align[i], r);
        CHECK(p == sentinel, "posix_memalign(align %#zx) failed but wrote *p = %p", bad_align[i], p);
    }
    static const size_t bad_size[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
    static const size_t aligns[] = { 16, 64, 4096, 64 * 1024, 2 * 1024 * 1024 };
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++)
        for (size_t j = 0; j < sizeof aligns / sizeof aligns[0]; j++) {
            void *sentinel = (void *)0x5a5a5a5a, *p = sentinel;
            int r = posix_memalign(&p, aligns[j], bad_size[i]);
            CHECK(r == ENOMEM, "posix_memalign(align %zu, size %#zx) returned %d, expected ENOMEM",
                  aligns[j], bad_size[i], r);
            CHECK(p == sentinel, "posix_memalign(align %zu, size %#zx) failed but wrote *p = %p",
                  aligns[j], bad_size[i], p);
        }
}

static void aligned_alloc_memalign(void) {
    for (size_t a = 16; a <= 2 * MiB; a <<= 1) {
        for (size_t i = 0; i < NSIZES; i++) {
            errno = 0;
            void *p = aligned_alloc(a, sizes[i]);
            CHECK(p != NULL, "aligned_alloc(%zu, %zu) returned NULL (errno %d)", a, sizes[i], errno);
            keep(p, sizes[i], a, "aligned_alloc");
            /* The C11 form: size a multiple of the alignment. */
            size_t m = sizes[i] ? (sizes[i] + a - 1) / a * a : a;
            if (m <= 4 * MiB) {
                p = aligned_alloc(a, m);
                CHECK(p != NULL, "aligned_alloc(%zu, %zu) returned NULL", a, m);
                keep(p, m, a, "aligned_alloc");
            }
            p = memalign(a, sizes[i]);
            CHECK(p != NULL, "memalign(%zu, %zu) returned NULL (errno %d)", a, sizes[i], errno);
            keep(p, sizes[i], a, "memalign");
        }
    }
    ls_verify(&ls, "aligned_alloc/memalign blocks");

    /* memalign: an alignment below the minimum is raised to it; a
     * non-power of two is rounded up to the next one (glibc). */
    void *p = memalign(1, 10);
    CHECK(p && ((uintptr_t)p & 7) == 0, "memalign(1, 10) = %p", p);
    keep(p, 10, 8, "memalign");
    p = memalign(24, 100);
    CHECK(p && ((uintptr_t)p & 31) == 0, "memalign(24, 100) = %p, expected 32-byte alignment", p);
    keep(p, 100, 32, "memalign");
    p = memalign(3000, 100);
    CHECK(p && ((uintptr_t)p & 4095) == 0, "memalign(3000, 100) = %p, expected 4096-byte alignment", p);
    keep(p, 100, 4096, "memalign");

    /* aligned_alloc with a non-power-of-two alignment: glibc >= 2.38
     * rejects it (NULL, EINVAL); older glibc rounds it up like memalign.
     * Either is accepted, nothing else. */
    errno = 0;
    p = aligned_alloc(24, 100);
    if (p == NULL) CHECK(errno == EINVAL, "aligned_alloc(24, 100) = NULL with errno %d", errno);
    else { CHECK(((uintptr_t)p & 31) == 0, "aligned_alloc(24, 100) = %p is not 32-byte aligned", p); keep(p, 100, 32, "aligned_alloc"); }

    /* Impossible requests: NULL with ENOMEM (or EINVAL for an absurd
     * alignment). */
    static const size_t bad_size[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++) {
        errno = 0;
        p = memalign(64, bad_size[i]);
        CHECK(p == NULL && errno == ENOMEM, "memalign(64, %#zx) = %p, errno %d", bad_size[i], p, errno);
        errno = 0;
        p = aligned_alloc(4096, bad_size[i]);
        CHECK(p == NULL && errno == ENOMEM, "aligned_alloc(4096, %#zx) = %p, errno %d", bad_size[i], p, errno);
        errno = 0;
        p = memalign(2 * MiB, bad_size[i]);
        CHECK(p == NULL && errno == ENOMEM, "memalign(2 MiB, %#zx) = %p, errno %d", bad_size[i], p, errno);
    }
    errno = 0;
    p = memalign((size_t)1 << 62, 16);
    CHECK(p == NULL && (errno == ENOMEM || errno == EINVAL), "memalign(1 << 62, 16) = %p, errno %d", p, errno);
    errno = 0;
    p = memalign(SIZE_MAX, 16);
    CHECK(p == NULL && (errno == ENOMEM || errno == EINVAL), "memalign(SIZE_MAX, 16) = %p, errno %d", p, errno);
}

static void valloc_pvalloc(void) {
    for (size_t i = 0; i < NSIZES; i++) {
        size_t s = sizes[i];
        void *p = valloc(s);
        CHECK(p != NULL, "valloc(%zu) returned NULL", s);
        keep(p, s, page, "valloc");
        p = pvalloc(s);
        CHECK(p != NULL, "pvalloc(%zu) returned NULL", s);
        /* pvalloc rounds the size up to a whole page. */
        size_t r = (s + page - 1) / page * page;
        keep(p, r, page, "pvalloc");
    }
    ls_verify(&ls, "valloc/pvalloc blocks");
    static const size_t bad_size[] = { SIZE_MAX, SIZE_MAX - 100, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++) {
        errno = 0;
        void *p = valloc(bad_size[i]);
        CHECK(p == NULL && errno == ENOMEM, "valloc(%#zx) = %p, errno %d", bad_size[i], p, errno);
        errno = 0;
        p = pvalloc(bad_size[i]);
        CHECK(p == NULL && errno == ENOMEM, "pvalloc(%#zx) = %p, errno %d", bad_size[i], p, errno);
    }
}

/* Aligned blocks of every tier are ordinary blocks: realloc keeps their
 * contents, malloc_usable_size works, and freeing them in any order works. */
static void aligned_then_realloc(void) {
    static const size_t aligns[] = { 32, 256, 4096, 65536, 2 * 1024 * 1024 };
    for (size_t j = 0; j < sizeof aligns / sizeof aligns[0]; j++)
        for (size_t i = 0; i < NSIZES; i++) {
            void *p = memalign(aligns[j], sizes[i]);
            CHECK(p, "memalign(%zu, %zu) returned NULL", aligns[j], sizes[i]);
            size_t u = malloc_usable_size(p);
            tag_fill(p, u, j * 100 + i);
            size_t n = sizes[i] * 2 + 100;
            void *q = realloc(p, n);
            CHECK(q, "realloc(memalign(%zu, %zu), %zu) returned NULL", aligns[j], sizes[i], n);
            CHECK_TAG(q, u < n ? u : n, j * 100 + i, "realloc of an aligned block");
            free(q);
        }
}

int main(void) {
    require_hakmem();
    page = (size_t)sysconf(_SC_PAGESIZE);
    ls_init(&ls, 4096);
    posix_memalign_ok();
    posix_memalign_errors();
    aligned_alloc_memalign();
    valloc_pvalloc();
    ls_verify(&ls, "all aligned blocks");
    ls_free_all(&ls);
    aligned_then_realloc();
    ls_destroy(&ls);
    printf("test_align: ok\n");
    return 0;
}
