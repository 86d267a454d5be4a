/* test_api.c - malloc/free/malloc_usable_size conformance over every size.
 *
 * Every size 0..4 KiB, then a stride up to 64 KiB with the boundaries of
 * every power of two and KiB multiple, then sampled sizes up to 64 MiB:
 * alignment (8 for <= 8 bytes, 16 above), usable size >= request, the whole
 * usable size written, many blocks kept live and checked for overlap and
 * contents.  Then the edges: free(NULL), malloc(SIZE_MAX) and
 * malloc(PTRDIFF_MAX + 1) (NULL + ENOMEM), mallopt, mallinfo2, malloc_trim,
 * malloc_stats.
 */
#include "check.h"

#include <stddef.h>

static live_set ls;

static void one(size_t size) {
    errno = 0;
    void *p = malloc(size);
    CHECK(p != NULL, "malloc(%zu) returned NULL (errno %d)", size, errno);
    size_t align = size <= 8 ? 8 : 16;
    CHECK(((uintptr_t)p & (align - 1)) == 0, "malloc(%zu) = %p is not %zu-byte aligned", size, p, align);
    ls_add(&ls, p, size, "malloc");
    /* Keep the working set bounded: verify, then free every other block so
     * that later blocks land in holes between survivors. */
    if (ls.n == ls.cap || ls.bytes > 96 * MiB) {
        ls_verify(&ls, "live blocks");
        ls_thin(&ls);
        if (ls.bytes > 48 * MiB) {
            ls_verify(&ls, "live blocks after thinning");
            ls_thin(&ls);
        }
    }
}

static void sizes(void) {
    for (size_t s = 0; s <= 4096; s++) one(s);
    ls_verify(&ls, "sizes 0..4096");
    for (size_t s = 4097; s <= 64 * KiB; s += 77) one(s);
    for (int k = 12; k <= 16; k++) {
        size_t b = (size_t)1 << k;
        one(b - 1); one(b); if (k < 16) one(b + 1);
    }
    for (size_t s = 5 * KiB; s <= 64 * KiB; s += KiB) { one(s - 1); one(s); one(s + 1); }
    ls_verify(&ls, "sizes up to 64 KiB");
    /* Sampled larger sizes: every power of two and its neighbours, and
     * pseudo-random sizes in every octave, up to 64 MiB. */
    uint64_t rng = 42;
    for (int k = 16; k <= 25; k++) {
        size_t b = (size_t)1 << k;
        one(b - 1); one(b); one(b + 1); one(b + 4096); one(b + b / 2);
        for (int i = 0; i < 6; i++) one(b + rng_next(&rng) % b);
    }
    one(64 * MiB - 1); one(64 * MiB);
    ls_verify(&ls, "sampled sizes up to 64 MiB");
    ls_free_all(&ls);
}

static void edges(void) {
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu", malloc_usable_size(NULL));

    static const size_t bad[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, SIZE_MAX - (2u << 20),
                                  (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = malloc(opaque(bad[i]));
        CHECK(p == NULL, "malloc(%#zx) = %p, expected NULL", bad[i], p);
        CHECK(errno == ENOMEM, "malloc(%#zx): errno = %d (%s), expected ENOMEM", bad[i], errno, strerror(errno));
    }
    /* Allocation still works after the failures. */
    void *p = hide(malloc(opaque(100)));
    CHECK(p != NULL, "malloc(100) after failed huge requests returned NULL");
    free(p);

    /* malloc(0) gives a unique pointer that can be freed. */
    void *a = hide(malloc(opaque(0))), *b = hide(malloc(opaque(0)));
    CHECK(a && b && a != b, "malloc(0) twice gave %p and %p", a, b);
    free(a); free(b);
}

static void glibc_extras(void) {
    CHECK(mallopt(M_TRIM_THRESHOLD, 1 << 20) == 1, "mallopt(M_TRIM_THRESHOLD) not accepted");
    CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1, "mallopt(M_MMAP_THRESHOLD) not accepted");
    CHECK(mallopt(M_ARENA_MAX, 2) == 1, "mallopt(M_ARENA_MAX) not accepted");

    /* mallinfo2 must reflect the memory in use: hold 16 MiB in 1000-byte
     * blocks, then free them. */
    struct mallinfo2 m0 = mallinfo2();
    enum { N = 16 * 1024 };
    void **v = mmap(NULL, N * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(v != MAP_FAILED, "mmap");
    for (int i = 0; i < N; i++) {
        v[i] = malloc(1000);
        CHECK(v[i], "malloc(1000) returned NULL");
        memset(v[i], i, 1000);
    }
    struct mallinfo2 m1 = mallinfo2();
    CHECK(m1.uordblks >= m0.uordblks + (size_t)N * 1000,
          "mallinfo2().uordblks = %zu with %zu bytes more in use than when it was %zu",
          m1.uordblks, (size_t)N * 1000, m0.uordblks);
    CHECK(m1.arena + m1.hblkhd >= m1.uordblks,
          "mallinfo2(): in use (uordblks %zu) exceeds memory obtained (arena %zu + hblkhd %zu)",
          m1.uordblks, m1.arena, m1.hblkhd);
    for (int i = 0; i < N; i++) free(v[i]);
    munmap(v, N * sizeof(void *));
    struct mallinfo2 m2 = mallinfo2();
    CHECK(m2.uordblks + (size_t)N * 1000 / 2 <= m1.uordblks,
          "mallinfo2().uordblks = %zu after freeing %zu bytes (was %zu)",
          m2.uordblks, (size_t)N * 1000, m1.uordblks);

    int r = malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) returned %d", r);

    /* malloc_stats prints to stderr. */
    char path[] = "/tmp/hakmem-test-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0 && dup2(fd, 2) == 2, "dup2");
    malloc_stats();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    CHECK(len > 0, "malloc_stats() printed nothing on stderr");
    char *text = calloc(1, (size_t)len + 1);
    CHECK(text && pread(fd, text, (size_t)len, 0) == len, "reading the malloc_stats output");
    close(fd);
#ifndef CHECK_AGAINST_GLIBC
    /* hakmem's report names its tiny classes (8..1024 B). */
    CHECK(strcasestr(text, "class") != NULL, "malloc_stats output does not mention classes:\n%s", text);
    CHECK(strstr(text, "1024") != NULL, "malloc_stats output does not show the 1024 B class:\n%s", text);
#else
    CHECK(strstr(text, "bytes") != NULL, "glibc malloc_stats output unexpected:\n%s", text);
#endif
    free(text);
}

int main(void) {
    require_hakmem();
    ls_init(&ls, 6000);
    sizes();
    edges();
    glibc_extras();
    ls_destroy(&ls);
    printf("test_api: ok\n");
    return 0;
}
