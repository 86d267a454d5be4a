/* buggy_alloc.c - a deliberately broken malloc for tests/replay/
 * replay_anomalies.sh (compiled by that script into an LD_PRELOAD .so).
 *
 * A bump allocator over one static arena (frees do nothing) that, on every
 * BUGGY_EVERY-th malloc, hands out memory that is still live: the block
 * returned by the previous malloc again (a "pointer returned while live"),
 * or, every other time, a block starting 16 bytes inside it (an overlap).
 * Only malloc misbehaves; calloc, realloc and the aligned functions are
 * correct, so the program and the replayer keep working.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARENA (256u << 20)
#define BUGGY_EVERY 40

static _Alignas(64) unsigned char arena[ARENA];
static size_t top;
static unsigned long calls;
static unsigned char *last;

struct hdr { size_t size, pad; };   /* 16 bytes in front of each block */

static void *bump(size_t size, size_t align)
{
    if (align < 16) align = 16;
    const uintptr_t base = (uintptr_t)arena;
    size_t p = __atomic_load_n(&top, __ATOMIC_RELAXED), start, end;
    do {   /* align the address, not the offset */
        start = ((base + p + sizeof(struct hdr) + align - 1) & ~(uintptr_t)(align - 1)) - base;
        end = start + (size ? size : 1);
        if (end > ARENA || end < start) { errno = ENOMEM; return NULL; }
    } while (!__atomic_compare_exchange_n(&top, &p, end, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    ((struct hdr *)(arena + start))[-1].size = size;
    return arena + start;
}

void *malloc(size_t size)
{
    unsigned long n = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    unsigned char *prev = last;
    if (prev && n % BUGGY_EVERY == 0 && ((struct hdr *)prev)[-1].size >= 64 + size) {
        if ((n / BUGGY_EVERY) % 2) return prev;          /* the same live block */
        return prev + 16;                                /* inside a live block */
    }
    void *p = bump(size, 16);
    last = p;
    return p;
}

void free(void *p) { (void)p; }

void *calloc(size_t n, size_t size)
{
    size_t b;
    if (__builtin_mul_overflow(n, size, &b)) { errno = ENOMEM; return NULL; }
    return bump(b, 16);   /* the arena is zero and never reused */
}

void *realloc(void *p, size_t size)
{
    if (!p) return bump(size, 16);
    if (!size) return NULL;
    void *q = bump(size, 16);
    if (!q) return NULL;
    size_t old = ((struct hdr *)p)[-1].size;
    /* An overlapping block has no header of its own: never copy more than
     * the arena holds. */
    if (old > size) old = size;
    if ((unsigned char *)p + old > arena + ARENA) old = 0;
    memcpy(q, p, old);
    return q;
}

void *memalign(size_t align, size_t size) { return bump(size, align); }
void *aligned_alloc(size_t align, size_t size) { return bump(size, align); }
int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = bump(size, align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *valloc(size_t size) { return bump(size, 4096); }
void *pvalloc(size_t size) { return bump((size + 4095) & ~(size_t)4095, 4096); }
size_t malloc_usable_size(void *p) { return p ? ((struct hdr *)p)[-1].size : 0; }
