/* floor_alloc - the harness floor: a do-nothing allocator for LD_PRELOAD.
 *
 * Built as build/bench/libfloor.so.  It shows how much of a benchmark
 * figure is the harness itself (PRNG, slot array, the word written, the
 * queues, the call through the PLT): malloc is a thread-local bump pointer,
 * free does nothing.  It is NOT an allocator; blocks get overwritten:
 *
 * - malloc/realloc/memalign bump through a per-thread ring that wraps
 *   (32 KiB for requests up to 1 KiB, 1 MiB up to 64 KiB, 64 MiB above),
 *   so memory stays bounded and cache-resident without ever reusing a
 *   freed block.  A
 *   block can overlap a newer one once its ring wrapped; the benchmarks
 *   only write a word into their blocks and never chase pointers stored in
 *   them, and keep their own data in mmap'ed memory (bench_meta), so that
 *   is harmless there.  Rings are 64 MiB-aligned slots of one reservation,
 *   recycled when a thread exits.
 * - calloc is never recycled (a global bump area): glibc allocates thread
 *   control data (the DTV, TSD blocks) with calloc, and that must survive.
 * - realloc returns a new block and copies nothing: copying (or growing in
 *   place, or mremap) is the allocator's work, not the harness's, and the
 *   floor must not be slower than a real allocator that avoids the copy.
 *   So the floor serves only programs that do not care about their data
 *   (bench/realloc_growth runs on it with check=0).
 * - a 16-byte header before each block holds its size, for
 *   malloc_usable_size; reads of it are clamped to the ring's slot, since
 *   a wrapped ring may have overwritten it.
 * Benchmarks whose live memory is large (bench/large.c) do not run on it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define SLOT_SHIFT 26                     /* 64 MiB per ring slot */
#define SLOT_SIZE ((size_t)1 << SLOT_SHIFT)
#define NSLOTS 1024                       /* 64 GiB of address space */
/* Ring sizes: small enough to stay in L1 / L2 (a bump pointer through a
 * big ring would miss the cache on every malloc and make the floor slower
 * than a real allocator that reuses its hottest block). */
#define TINY_RING ((size_t)32 << 10)      /* requests up to 1 KiB  */
#define TINY_MAX ((size_t)1 << 10)
#define SMALL_RING ((size_t)1 << 20)      /* requests up to 64 KiB */
#define SMALL_MAX ((size_t)64 << 10)
#define HDR 16
#define CALLOC_AREA ((size_t)1 << 32)

struct ring {
    char *cur, *end, *base;
};

static __thread struct ring tiny_r __attribute__((tls_model("initial-exec")));
static __thread struct ring small_r __attribute__((tls_model("initial-exec")));
static __thread struct ring big_r __attribute__((tls_model("initial-exec")));
static __thread int key_set __attribute__((tls_model("initial-exec")));

static char *slots_base;
static size_t slots_next;                 /* under slot_lock */
static char *free_slots[NSLOTS];          /* recycled slot bases, under slot_lock */
static size_t nfree_slots;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;

static char *calloc_base;
static _Atomic size_t calloc_used;

static void fatal(const char *msg)
{
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
    _exit(127);
}

static void ring_release(struct ring *r)
{
    if (!r->base)
        return;
    pthread_mutex_lock(&slot_lock);
    free_slots[nfree_slots++] = r->base;
    pthread_mutex_unlock(&slot_lock);
    r->base = r->cur = r->end = NULL;
}

static void thread_exit(void *unused)
{
    (void)unused;
    ring_release(&tiny_r);
    ring_release(&small_r);
    ring_release(&big_r);
    key_set = 0;
}

/* Runs from the constructor or from the first malloc/calloc, whichever
 * comes first (libc may allocate before our constructor runs); start-up is
 * single-threaded. */
static void floor_init(void)
{
    if (slots_base)
        return;
    char *s = mmap(NULL, SLOT_SIZE * (NSLOTS + 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *c = mmap(NULL, CALLOC_AREA, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED || c == MAP_FAILED)
        fatal("libfloor: cannot reserve its address space\n");
    calloc_base = c;
    slots_base = (char *)(((uintptr_t)s + SLOT_SIZE - 1) & ~(uintptr_t)(SLOT_SIZE - 1));
    if (pthread_key_create(&exit_key, thread_exit))
        fatal("libfloor: pthread_key_create failed\n");
}

__attribute__((constructor)) static void floor_ctor(void)
{
    floor_init();
}

static char *slot_get(void)
{
    char *base = NULL;
    pthread_mutex_lock(&slot_lock);
    if (nfree_slots)
        base = free_slots[--nfree_slots];
    else if (slots_next < NSLOTS)
        base = slots_base + SLOT_SIZE * slots_next++;
    pthread_mutex_unlock(&slot_lock);
    if (!base)
        fatal("libfloor: out of ring slots\n");
    return base;
}

static __attribute__((noinline)) void *ring_refill(struct ring *r, size_t ring_size, size_t need)
{
    if (!r->base) {
        floor_init();
        r->base = slot_get();
        if (!key_set) {
            key_set = 1;
            pthread_setspecific(exit_key, (void *)1);
        }
    }
    if (need > ring_size)
        return NULL;
    r->cur = r->base;
    r->end = r->base + ring_size;
    char *p = r->cur;
    r->cur += need;
    return p;
}

static inline void *ring_alloc(size_t size, size_t align)
{
    if (size > SLOT_SIZE / 2 || align > SLOT_SIZE / 4)
        return NULL;
    struct ring *r;
    size_t ring_size;
    if (size <= TINY_MAX && align <= 64) {
        r = &tiny_r;
        ring_size = TINY_RING;
    } else if (size <= SMALL_MAX && align <= 4096) {
        r = &small_r;
        ring_size = SMALL_RING;
    } else {
        r = &big_r;
        ring_size = SLOT_SIZE;
    }
    size_t need = ((size + 15) & ~(size_t)15) + HDR + (align > 16 ? align : 0);
    char *p = r->cur;
    if (__builtin_expect((size_t)(r->end - p) < need || !p, 0)) {
        p = ring_refill(r, ring_size, need);
        if (!p)
            return NULL;
    } else {
        r->cur = p + need;
    }
    char *u = p + HDR;
    if (align > 16)
        u = (char *)(((uintptr_t)u + align - 1) & ~(uintptr_t)(align - 1));
    ((size_t *)u)[-1] = size;
    return u;
}

/* Usable size of a ring block, clamped to its slot (the header may have
 * been overwritten by a newer block after the ring wrapped). */
static size_t block_size(void *ptr)
{
    uintptr_t u = (uintptr_t)ptr;
    uintptr_t base = (uintptr_t)slots_base;
    size_t hdr = ((size_t *)ptr)[-1];
    if (u >= base && u < base + NSLOTS * SLOT_SIZE) {
        uintptr_t slot_end = (u | (SLOT_SIZE - 1)) + 1;
        if (hdr > slot_end - u)
            hdr = slot_end - u;
    } else if (u >= (uintptr_t)calloc_base && u < (uintptr_t)calloc_base + CALLOC_AREA) {
        uintptr_t area_end = (uintptr_t)calloc_base + CALLOC_AREA;
        if (hdr > area_end - u)
            hdr = area_end - u;
    } else {
        hdr = 0;  /* not ours: nothing known */
    }
    return hdr;
}

EXPORT void *malloc(size_t size)
{
    void *p = ring_alloc(size, 16);
    if (!p)
        errno = ENOMEM;
    return p;
}

EXPORT void free(void *ptr)
{
    (void)ptr;
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total) || total > CALLOC_AREA / 4) {
        errno = ENOMEM;
        return NULL;
    }
    floor_init();
    size_t need = ((total + 15) & ~(size_t)15) + HDR;
    size_t off = atomic_fetch_add(&calloc_used, need);
    if (off + need > CALLOC_AREA) {
        errno = ENOMEM;
        return NULL;
    }
    char *u = calloc_base + off + HDR;
    ((size_t *)u)[-1] = total;
    return u;  /* never handed out before: still zero */
}

EXPORT void *realloc(void *ptr, size_t size)
{
    (void)ptr;  /* no copy: see the header comment */
    return malloc(size);
}

EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = ring_alloc(size, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!align || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    void *p = ring_alloc(size, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

EXPORT void *memalign(size_t align, size_t size)
{
    return aligned_alloc(align, size);
}

EXPORT void *valloc(size_t size)
{
    return aligned_alloc(4096, size);
}

EXPORT void *pvalloc(size_t size)
{
    return aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
}

EXPORT size_t malloc_usable_size(void *ptr)
{
    return ptr ? block_size(ptr) : 0;
}
