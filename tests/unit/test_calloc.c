/* test_calloc.c - calloc zeroes, also when it reuses dirty memory, and
 * refuses overflowing products with NULL + ENOMEM.
 */
#include "check.h"

#include <stddef.h>

static const size_t sizes[] = {
    1, 8, 9, 16, 24, 32, 48, 64, 100, 128, 256, 500, 512, 1000, 1024, 1025, 1500, 2048, 4096, 5000,
    16384, 32 * 1024, 32 * 1024 + 1, 40000, 65536, 100000, 500000, 1024 * 1024, 1024 * 1024 + 1,
    3 * 1024 * 1024, 5 * 1024 * 1024 + 77, 20 * 1024 * 1024,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void check_zero(void *p, size_t n, const char *what, size_t size) {
    long off = zero_find(p, n);
    CHECK(off < 0, "%s(%zu): byte %ld of %p is not zero", what, size, off, p);
}

/* malloc, dirty the whole usable size, free, then calloc the same size:
 * the block handed back (often the same one, from a thread cache, a free
 * list or a cached mapping) must read as zeros, including the words in
 * which free lists keep their links. */
static void dirty_reuse(void) {
    for (size_t i = 0; i < NSIZES; i++) {
        size_t s = sizes[i];
        for (int round = 0; round < 4; round++) {
            void *p = malloc(s);
            CHECK(p, "malloc(%zu) returned NULL", s);
            memset(p, 0xff, malloc_usable_size(p));
            free(p);
            void *q = calloc(1, s);
            CHECK(q, "calloc(1, %zu) returned NULL", s);
            check_zero(q, s, "calloc after free of a dirty block", s);
            memset(q, 0xee, malloc_usable_size(q));
            free(q);
            q = calloc(s, 1);
            CHECK(q, "calloc(%zu, 1) returned NULL", s);
            check_zero(q, s, "calloc (n, 1) after free of a dirty block", s);
            free(q);
        }
    }
}

/* Many dirty blocks of a class freed at once, then as many callocs: the
 * whole free list, the SLL and fresh slabs all hand out zeroed memory. */
static void dirty_many(void) {
    enum { N = 5000 };
    static void *v[N];
    static const size_t s[] = { 16, 32, 64, 200, 1024, 3000, 40000 };
    for (size_t k = 0; k < sizeof s / sizeof s[0]; k++) {
        for (int i = 0; i < N; i++) {
            v[i] = malloc(s[k]);
            CHECK(v[i], "malloc(%zu) returned NULL", s[k]);
            memset(v[i], 0xa5, malloc_usable_size(v[i]));
        }
        for (int i = 0; i < N; i++) free(v[(i * 7919) % N]);
        for (int i = 0; i < N; i++) {
            v[i] = calloc(1, s[k]);
            CHECK(v[i], "calloc(1, %zu) returned NULL", s[k]);
            check_zero(v[i], s[k], "calloc of a reused block", s[k]);
            memset(v[i], 0x5a, s[k]);
        }
        for (int i = 0; i < N; i++) free(v[i]);
    }
}

static void products(void) {
    /* n * size spread over several shapes; zeroed over the product. */
    static const size_t n[] = { 0, 1, 3, 7, 100, 1000, 4096 };
    static const size_t sz[] = { 0, 1, 8, 12, 100, 333, 4096, 10000 };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        for (size_t j = 0; j < sizeof sz / sizeof sz[0]; j++) {
            void *p = calloc(n[i], sz[j]);
            CHECK(p != NULL, "calloc(%zu, %zu) returned NULL", n[i], sz[j]);
            size_t t = n[i] * sz[j];
            CHECK(t == 0 || ((uintptr_t)p & 15) == 0 || t <= 8, "calloc(%zu, %zu) = %p misaligned", n[i], sz[j], p);
            CHECK(malloc_usable_size(p) >= t, "calloc(%zu, %zu): usable %zu", n[i], sz[j], malloc_usable_size(p));
            check_zero(p, t, "calloc", t);
            free(p);
        }
}

static void overflow(void) {
    static const size_t bad[][2] = {
        { SIZE_MAX, 2 }, { 2, SIZE_MAX }, { (size_t)1 << 32, (size_t)1 << 32 },
        { SIZE_MAX / 16 + 1, 16 }, { 16, SIZE_MAX / 16 + 1 }, { SIZE_MAX, SIZE_MAX },
        { 3, SIZE_MAX / 3 + 1 },
        /* no overflow, but impossible */
        { 1, SIZE_MAX }, { (size_t)PTRDIFF_MAX + 1, 1 }, { 1, (size_t)PTRDIFF_MAX + 1 },
        { (size_t)1 << 31, (size_t)1 << 31 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = calloc(opaque(bad[i][0]), opaque(bad[i][1]));
        CHECK(p == NULL, "calloc(%#zx, %#zx) = %p, expected NULL", bad[i][0], bad[i][1], p);
        CHECK(errno == ENOMEM, "calloc(%#zx, %#zx): errno %d (%s), expected ENOMEM",
              bad[i][0], bad[i][1], errno, strerror(errno));
    }
    void *p = hide(calloc(opaque(10), 10));
    CHECK(p, "calloc(10, 10) after failed requests returned NULL");
    check_zero(p, 100, "calloc", 100);
    free(p);
}

int main(void) {
    require_hakmem();
    dirty_reuse();
    dirty_many();
    products();
    overflow();
    printf("test_calloc: ok\n");
    return 0;
}
