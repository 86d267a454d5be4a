/* test_enomem.c - every allocation function fails cleanly.
 *
 * For every entry point and every impossible size (SIZE_MAX and the sizes
 * whose rounding to a class, a page or an alignment would overflow,
 * PTRDIFF_MAX + 1, 2^62): NULL and errno ENOMEM (posix_memalign returns
 * ENOMEM and leaves *p alone), with blocks of every tier live around the
 * failures and checked afterwards, and the allocator still serving every
 * tier once the failures are over.  Also errno is left alone by
 * successful calls that follow a failure (glibc does not reset it, and
 * programs that check errno after a NULL rely on it being set by that
 * NULL only).
 */
#include "check.h"

#include <stddef.h>

static const size_t bad[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 15, SIZE_MAX - 16, SIZE_MAX - 4095,
    SIZE_MAX - 4096, SIZE_MAX - 65535, SIZE_MAX - (2u << 20) + 1, SIZE_MAX - (4u << 20),
    (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62, ((size_t)1 << 62) + 1,
};
#define NBAD (sizeof bad / sizeof bad[0])

enum fn { F_MALLOC, F_CALLOC1, F_CALLOCN, F_REALLOC_NULL, F_REALLOC, F_REALLOCARRAY, F_POSIX_MEMALIGN,
          F_ALIGNED_ALLOC, F_MEMALIGN, F_VALLOC, F_PVALLOC, F_COUNT };
static const char *fn_name[F_COUNT] = {
    "malloc", "calloc(1, n)", "calloc(n, 1)", "realloc(NULL, n)", "realloc(p, n)", "reallocarray(p, n, 1)",
    "posix_memalign(64 KiB)", "aligned_alloc(4096)", "memalign(2 MiB)", "valloc", "pvalloc",
};

/* One live block per tier, to see that failures do not disturb them. */
static const size_t live_sizes[] = { 16, 200, 1024, 3000, 30000, 100000, 900000, 3 * 1024 * 1024 };
#define NLIVE (sizeof live_sizes / sizeof live_sizes[0])
static void *live[NLIVE];

static void check_live(const char *when) {
    for (size_t i = 0; i < NLIVE; i++) CHECK_TAG(live[i], live_sizes[i], 100 + i, when);
}

static void one(enum fn f, size_t n) {
    void *sentinel = (void *)0x5a5a5a50, *p = sentinel, *r = sentinel;
    int ret = -1;
    void *old = live[1];
    errno = 0;
    switch (f) {
    case F_MALLOC:        r = malloc(opaque(n)); break;
    case F_CALLOC1:       r = calloc(1, opaque(n)); break;
    case F_CALLOCN:       r = calloc(opaque(n), 1); break;
    case F_REALLOC_NULL:  r = realloc(NULL, opaque(n)); break;
    case F_REALLOC:       r = realloc(old, opaque(n)); break;
    case F_REALLOCARRAY:  r = reallocarray(old, opaque(n), 1); break;
    case F_POSIX_MEMALIGN:
        ret = posix_memalign(&p, 64 * KiB, opaque(n));
        CHECK(ret == ENOMEM, "posix_memalign(64 KiB, %#zx) returned %d, expected ENOMEM", n, ret);
        CHECK(p == sentinel, "posix_memalign(64 KiB, %#zx) failed but wrote *p = %p", n, p);
        return;
    case F_ALIGNED_ALLOC: r = aligned_alloc(4096, opaque(n)); break;
    case F_MEMALIGN:      r = memalign(2 * MiB, opaque(n)); break;
    case F_VALLOC:        r = valloc(opaque(n)); break;
    case F_PVALLOC:       r = pvalloc(opaque(n)); break;
    default: return;
    }
    int e = errno;
    CHECK(r == NULL, "%s with n = %#zx returned %p, expected NULL", fn_name[f], n, r);
    CHECK(e == ENOMEM, "%s with n = %#zx: errno %d (%s), expected ENOMEM", fn_name[f], n, e, strerror(e));
}

int main(void) {
    require_hakmem();
    for (size_t i = 0; i < NLIVE; i++) {
        live[i] = malloc(live_sizes[i]);
        CHECK(live[i], "malloc(%zu) returned NULL", live_sizes[i]);
        tag_fill(live[i], live_sizes[i], 100 + i);
    }
    for (int f = 0; f < F_COUNT; f++) {
        for (size_t i = 0; i < NBAD; i++) one((enum fn)f, bad[i]);
        check_live(fn_name[f]);
    }

    /* errno stays ENOMEM across successful calls after a failure. */
    errno = 0;
    CHECK(malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM, "malloc(SIZE_MAX)");
    for (size_t i = 0; i < NLIVE; i++) {
        void *p = malloc(live_sizes[i]);
        CHECK(p, "malloc(%zu) after failures returned NULL", live_sizes[i]);
        memset(p, 1, live_sizes[i]);
        free(hide(p));
    }
    CHECK(errno == ENOMEM, "errno changed from ENOMEM to %d by successful malloc/free calls", errno);

    /* Every tier still allocates, reallocates and frees. */
    for (size_t i = 0; i < NLIVE; i++) {
        void *q = realloc(live[i], live_sizes[i] * 2);
        CHECK(q, "realloc(%zu -> %zu) after failures returned NULL", live_sizes[i], live_sizes[i] * 2);
        CHECK_TAG(q, live_sizes[i], 100 + i, "realloc after failures");
        free(q);
    }
    printf("test_enomem: ok\n");
    return 0;
}
