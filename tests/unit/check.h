/* check.h - the tiny harness shared by hakmem's C tests.
 *
 * CHECK(cond, fmt, ...) prints "FAIL file:line: cond: message" and exits 1.
 * Helpers: tag_fill/tag_find (a pattern derived from a tag and the offset,
 * so a block that moved, overlapped another or lost bytes is caught),
 * a "live set" that keeps many blocks alive and checks them for overlap and
 * contents, VmRSS, and hakmem's counters.
 *
 * Built with -DCHECK_AGAINST_GLIBC (no -lhakmem) the conformance tests run
 * against glibc's malloc, which validates the tests themselves; the
 * hakmem-specific checks then compile to nothing.
 */
#ifndef HAKMEM_TEST_CHECK_H
#define HAKMEM_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CHECK_AGAINST_GLIBC
#include "hakmem.h"
#include "hakmem_stats.h"
#endif

#define UNUSED_FN __attribute__((unused))

#define CHECK(cond, ...) do {                                               \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            fflush(stderr);                                                 \
            _exit(1);                                                       \
        }                                                                   \
    } while (0)

/* Hide a value from the optimiser, so that it can neither fold a call with
 * an impossible constant size nor elide a malloc/free pair. */
static inline size_t opaque(size_t x) { __asm__ volatile("" : "+r"(x)); return x; }
static inline void *hide(void *p) { __asm__ volatile("" : "+r"(p) :: "memory"); return p; }

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* A deterministic PRNG (xorshift64*), one state per thread. */
static UNUSED_FN uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- tagged contents ------------------------------------------------- */

static inline uint64_t tag_word(uint64_t tag, size_t i) {
    return (tag * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)i * 0xD6E8FEB86659FD93ULL) ^ 0xA5A5A5A5A5A5A5A5ULL;
}
static inline uint8_t tag_byte(uint64_t tag, size_t i) {
    return (uint8_t)(tag_word(tag, i >> 3) >> ((i & 7) * 8));
}

/* Fill n bytes at p with the pattern of `tag` (byte i = tag_byte(tag, i)
 * whatever p's alignment). */
static UNUSED_FN void tag_fill(void *p, size_t n, uint64_t tag) {
    uint8_t *b = p;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(b + i) & 7); i++) b[i] = tag_byte(tag, i);
    if ((i & 7) == 0) {
        for (; i + 8 <= n; i += 8) *(uint64_t *)(b + i) = tag_word(tag, i >> 3);
    }
    for (; i < n; i++) b[i] = tag_byte(tag, i);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static UNUSED_FN long tag_find(const void *p, size_t n, uint64_t tag) {
    const uint8_t *b = p;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(b + i) & 7); i++)
        if (b[i] != tag_byte(tag, i)) return (long)i;
    if ((i & 7) == 0) {
        for (; i + 8 <= n; i += 8)
            if (*(const uint64_t *)(b + i) != tag_word(tag, i >> 3)) break;
    }
    for (; i < n; i++)
        if (b[i] != tag_byte(tag, i)) return (long)i;
    return -1;
}

#define CHECK_TAG(p, n, tag, what) do {                                         \
        long off_ = tag_find((p), (n), (tag));                                  \
        CHECK(off_ < 0, "%s: block %p (%zu bytes, tag %llu) corrupted at offset %ld", \
              (what), (void *)(p), (size_t)(n), (unsigned long long)(tag), off_); \
    } while (0)

/* Offset of the first non-zero byte, or -1. */
static UNUSED_FN long zero_find(const void *p, size_t n) {
    const uint8_t *b = p;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(b + i) & 7); i++) if (b[i]) return (long)i;
    for (; i + 8 <= n; i += 8) if (*(const uint64_t *)(b + i)) break;
    for (; i < n; i++) if (b[i]) return (long)i;
    return -1;
}

/* ---- a set of live blocks ---------------------------------------------
 * Blocks are kept alive, tagged over their whole usable size; ls_verify
 * sorts them by address and checks that no two overlap and that every
 * block still holds its pattern.  The arrays are OS memory so that the
 * bookkeeping does not disturb the allocator under test. */
typedef struct live_blk { uint8_t *p; size_t size, usable; uint64_t tag; } live_blk;
typedef struct live_set { live_blk *b; size_t n, cap, bytes; uint64_t next_tag; } live_set;

static UNUSED_FN void ls_init(live_set *s, size_t cap) {
    s->b = mmap(NULL, cap * sizeof(live_blk), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(s->b != MAP_FAILED, "mmap of the live-set array failed");
    s->n = 0; s->cap = cap; s->bytes = 0; s->next_tag = 1;
}

static UNUSED_FN void ls_destroy(live_set *s) {
    munmap(s->b, s->cap * sizeof(live_blk));
    s->b = NULL;
}

/* Add a block that was just allocated with `size` bytes requested: check
 * usable >= size, tag all of it. */
static UNUSED_FN void ls_add(live_set *s, void *p, size_t size, const char *what) {
    CHECK(s->n < s->cap, "live set full");
    size_t u = malloc_usable_size(p);
    CHECK(u >= size, "%s: malloc_usable_size(%p) = %zu < requested %zu", what, p, u, size);
    live_blk *b = &s->b[s->n++];
    b->p = p; b->size = size; b->usable = u; b->tag = s->next_tag++;
    tag_fill(p, u, b->tag);
    s->bytes += u;
}

static int ls_cmp(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const live_blk *)a)->p, y = (uintptr_t)((const live_blk *)b)->p;
    return x < y ? -1 : x > y;
}

static UNUSED_FN void ls_verify(live_set *s, const char *what) {
    qsort(s->b, s->n, sizeof(live_blk), ls_cmp);
    for (size_t i = 0; i < s->n; i++) {
        live_blk *b = &s->b[i];
        if (i + 1 < s->n) {
            live_blk *c = &s->b[i + 1];
            CHECK(b->p + b->usable <= c->p,
                  "%s: blocks overlap: %p (usable %zu, asked %zu) and %p (usable %zu, asked %zu)",
                  what, (void *)b->p, b->usable, b->size, (void *)c->p, c->usable, c->size);
        }
        CHECK(malloc_usable_size(b->p) == b->usable,
              "%s: malloc_usable_size(%p) changed from %zu to %zu while live",
              what, (void *)b->p, b->usable, malloc_usable_size(b->p));
        CHECK_TAG(b->p, b->usable, b->tag, what);
    }
}

/* Free every other block (by address), keeping the rest. */
static UNUSED_FN void ls_thin(live_set *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (i & 1) { s->b[k++] = s->b[i]; continue; }
        s->bytes -= s->b[i].usable;
        free(s->b[i].p);
    }
    s->n = k;
}

static UNUSED_FN void ls_free_all(live_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->b[i].p);
    s->n = 0; s->bytes = 0;
}

/* ---- process ---------------------------------------------------------- */

/* A field of /proc/self/status in KiB (e.g. "VmRSS"), read without stdio. */
static UNUSED_FN long proc_status_kb(const char *field) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    CHECK(fd >= 0, "open /proc/self/status: %s", strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0, "read /proc/self/status");
    buf[n] = 0;
    size_t fl = strlen(field);
    for (char *l = buf; l && *l; ) {
        if (strncmp(l, field, fl) == 0 && l[fl] == ':') return strtol(l + fl + 1, NULL, 10);
        l = strchr(l, '\n');
        if (l) l++;
    }
    CHECK(0, "no %s in /proc/self/status", field);
    return -1;
}
static UNUSED_FN long rss_kb(void) { return proc_status_kb("VmRSS"); }

/* ---- hakmem ----------------------------------------------------------- */

#ifndef CHECK_AGAINST_GLIBC
static UNUSED_FN int hk_owns(const void *p) {
    uintptr_t base; size_t size;
    hakmem_arena(&base, &size);
    return size > 0 && (uintptr_t)p - base < size;
}

/* Make sure malloc really is hakmem's: a test linked against another
 * malloc (or a sanitizer's) must not pass vacuously. */
static UNUSED_FN void require_hakmem(void) {
    uintptr_t base; size_t size;
    void *p = malloc(24);
    CHECK(p != NULL, "malloc(24) returned NULL");
    hakmem_arena(&base, &size);
    CHECK(size > 0, "hakmem_arena() reports no arena");
    CHECK((uintptr_t)p - base < size,
          "malloc is not hakmem's: malloc(24) = %p lies outside the arena [%#lx, +%zu)",
          p, (unsigned long)base, size);
    free(p);
}

typedef struct snap { hks_thread t; hks_global g; } snap;

static UNUSED_FN void snap_take(snap *s) {
    memset(s, 0, sizeof *s);
    CHECK(hakmem_stats_read(&s->t, &s->g) == 0, "hakmem_stats_read failed");
}

/* b - a for a counter given by its offset in hks_thread. */
#define DELTA(a, b, field) ((int64_t)((b)->t.field - (a)->t.field))
#else
#define require_hakmem() ((void)0)
#endif

#endif
