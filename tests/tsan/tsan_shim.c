/* tsan_shim.c - the malloc entry points of the ThreadSanitizer build of
 * hakmem (tests/tsan/run.sh).  Compiled WITHOUT -fsanitize=thread.
 *
 * src/api.c is compiled with its entry points renamed (objcopy: malloc ->
 * hkt_malloc, ...); these definitions route each call to hakmem, or to a
 * small side allocator in static memory for the calls hakmem must not
 * see under TSan:
 *   - before the constructors run: the TSan runtime initialises from
 *     .preinit_array and calls malloc (through dlsym) before instrumented
 *     code can run at all;
 *   - while TSan registers a new thread: it calls pthread_getattr_np,
 *     whose allocations (its cpuset, the attribute extension) happen
 *     while TSan ignores the thread's synchronisation.  Were they served by
 *     hakmem, the thread's first allocation (heap and stats block claim,
 *     under a lock) would lose its happens-before edges and everything the
 *     thread later did with inherited state would look racy.  A call made
 *     from pthread_getattr_np (found by its return address) starts such a
 *     window; the free of its cpuset ends it;
 *   - after TSan destroyed a thread's state (a pthread key destructor on
 *     the last round): glibc frees cached stacks' TLS later, and
 *     instrumented code then crashes.  Our own key, re-armed as many
 *     rounds, marks the thread as gone: its frees of hakmem blocks are
 *     dropped (a leak at thread exit, in a test build).
 * Side blocks are recognised by address, so they may be freed anywhere.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *hkt_malloc(size_t n);
void  hkt_free(void *p);
void *hkt_calloc(size_t nmemb, size_t size);
void *hkt_realloc(void *p, size_t n);
void *hkt_reallocarray(void *p, size_t nmemb, size_t size);
int   hkt_posix_memalign(void **out, size_t align, size_t n);
void *hkt_aligned_alloc(size_t align, size_t n);
void *hkt_memalign(size_t align, size_t n);
void *hkt_valloc(size_t n);
void *hkt_pvalloc(size_t n);
size_t hkt_malloc_usable_size(void *p);

#define API __attribute__((visibility("default")))

/* ---- side allocator: 64-byte header, power-of-two classes ------------- */
enum { SIDE_BYTES = 32 << 20, HDR = 64, MIN_SHIFT = 6, CLASSES = 12 };  /* 64 B .. 128 KiB */
static _Alignas(4096) unsigned char side[SIDE_BYTES];
static size_t side_used;
static void *side_free_list[CLASSES];
static int side_lock;

static int is_side(const void *p) {
    return (const unsigned char *)p >= side && (const unsigned char *)p < side + SIDE_BYTES;
}

static void lock(void) { while (__atomic_exchange_n(&side_lock, 1, __ATOMIC_ACQUIRE)) {} }
static void unlock(void) { __atomic_store_n(&side_lock, 0, __ATOMIC_RELEASE); }

static void *side_alloc(size_t n) {
    unsigned k = 0;
    while (k < CLASSES && ((size_t)1 << (k + MIN_SHIFT)) - HDR < n) k++;
    if (k == CLASSES) { errno = ENOMEM; return NULL; }
    size_t bytes = (size_t)1 << (k + MIN_SHIFT);
    lock();
    unsigned char *b = side_free_list[k];
    if (b) side_free_list[k] = *(void **)b;
    else if (side_used + bytes <= SIDE_BYTES) { b = side + side_used; side_used += bytes; }
    unlock();
    if (!b) { errno = ENOMEM; return NULL; }
    memcpy(b, &n, sizeof n);
    b[sizeof n] = (unsigned char)k;
    memset(b + HDR, 0, bytes - HDR);
    return b + HDR;
}

static size_t side_size(const void *p) {
    size_t n;
    memcpy(&n, (const unsigned char *)p - HDR, sizeof n);
    return n;
}

static void side_release(void *p) {
    unsigned char *b = (unsigned char *)p - HDR;
    unsigned k = b[sizeof(size_t)];
    lock();
    *(void **)b = side_free_list[k];
    side_free_list[k] = b;
    unlock();
}

static void *side_realloc(void *p, size_t n, void *(*alloc)(size_t)) {
    void *q = alloc(n ? n : 1);
    if (q && p) {
        size_t old = is_side(p) ? side_size(p) : hkt_malloc_usable_size(p);
        memcpy(q, p, old < n ? old : n);
    }
    if (q && p) {
        if (is_side(p)) side_release(p);
        else hkt_free(p);
    }
    return q;
}

/* ---- routing ------------------------------------------------------- */
static int ready;                        /* constructors have run        */
static uintptr_t getattr_lo, getattr_hi; /* pthread_getattr_np's code    */
static __thread int in_getattr;          /* inside a TSan-ignored window */
static __thread int gone;                /* TSan's thread state is gone  */
static pthread_key_t gone_key;

static void gone_round(void *v) {
    uintptr_t round = (uintptr_t)v;
    if (round > 1 && pthread_setspecific(gone_key, (void *)(round - 1)) == 0) return;
    gone = 1;
}

static void arm(void) {
    static __thread int armed;
    if (!armed) {
        armed = 1;
        pthread_setspecific(gone_key, (void *)(uintptr_t)PTHREAD_DESTRUCTOR_ITERATIONS);
    }
}

__attribute__((constructor(101))) static void shim_ready(void) {
    if (pthread_key_create(&gone_key, gone_round) != 0) abort();
    void *f = dlsym(RTLD_DEFAULT, "pthread_getattr_np");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!f || !dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size) abort();
    getattr_lo = (uintptr_t)f;
    getattr_hi = getattr_lo + sym->st_size;
    ready = 1;
}

static int from_getattr(const void *ra) {
    return (uintptr_t)ra >= getattr_lo && (uintptr_t)ra < getattr_hi;
}

/* Serve this call from hakmem?  ra: the caller's return address. */
static int to_hakmem(const void *ra) {
    if (!ready || gone) return 0;
    if (from_getattr(ra)) in_getattr = 1;
    if (in_getattr) return 0;
    arm();
    return 1;
}

API void *malloc(size_t n) {
    return to_hakmem(__builtin_return_address(0)) ? hkt_malloc(n) : side_alloc(n);
}

API void *calloc(size_t nmemb, size_t size) {
    if (to_hakmem(__builtin_return_address(0))) return hkt_calloc(nmemb, size);
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) { errno = ENOMEM; return NULL; }
    return side_alloc(n);
}

API void free(void *p) {
    const void *ra = __builtin_return_address(0);
    if (ready && from_getattr(ra)) in_getattr = 0;   /* its cpuset: the window ends */
    if (!p) return;
    if (is_side(p)) { side_release(p); return; }
    if (!ready || gone) return;
    arm();
    hkt_free(p);
}

API void *realloc(void *p, size_t n) {
    if (to_hakmem(__builtin_return_address(0)))
        return p && is_side(p) ? side_realloc(p, n, hkt_malloc) : hkt_realloc(p, n);
    return side_realloc(p, n, side_alloc);
}

API void *reallocarray(void *p, size_t nmemb, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) { errno = ENOMEM; return NULL; }
    if (to_hakmem(__builtin_return_address(0)))
        return p && is_side(p) ? side_realloc(p, n, hkt_malloc) : hkt_reallocarray(p, nmemb, size);
    return side_realloc(p, n, side_alloc);
}

API int posix_memalign(void **out, size_t align, size_t n) {
    if (to_hakmem(__builtin_return_address(0)) || align > HDR) return hkt_posix_memalign(out, align, n);
    void *p = side_alloc(n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

API void *aligned_alloc(size_t align, size_t n) { return hkt_aligned_alloc(align, n); }
API void *memalign(size_t align, size_t n) { return hkt_memalign(align, n); }
API void *valloc(size_t n) { return hkt_valloc(n); }
API void *pvalloc(size_t n) { return hkt_pvalloc(n); }

API size_t malloc_usable_size(void *p) {
    if (p && is_side(p)) return side_size(p);
    return ready && !gone ? hkt_malloc_usable_size(p) : 0;
}
