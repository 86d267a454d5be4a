/* api.c - the public malloc API (glibc semantics) on top of FrontGate.
 *
 * Each public function is a thin shell: the replay tracepoint (checked
 * with one load and one branch; emitted after a successful allocation and
 * before a free releases the block) around an internal function that never
 * emits API events itself, so realloc's internal malloc+free is recorded
 * as one `realloc` event.
 */
#include "arena.h"
#include "check.h"
#include "config.h"
#include "external.h"
#include "front.h"
#include "hakmem.h"
#include "l25.h"
#include "large.h"
#include "mid.h"
#include "os.h"
#include "stats.h"
#include "slab.h"
#include "tiny.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

#define HK_API __attribute__((visibility("default")))

const uint8_t hk_size_class[HK_TINY_MAX / 8 + 1] = {
    [0 ... 1] = 0, [2] = 1, [3 ... 4] = 2, [5 ... 8] = 3,
    [9 ... 16] = 4, [17 ... 32] = 5, [33 ... 64] = 6, [65 ... 128] = 7,
};

/* ---- internal allocation ------------------------------------------- */

static HK_NOINLINE void *alloc_big(size_t n) {
    thread_ready();
    if (n <= HK_MID_MAX) return mid_alloc(n);
    if (n <= HK_L25_MAX) return l25_alloc(n);
    return large_alloc(n, 0);
}

HK_INLINE void *hk_alloc(size_t n) {
    if (HK_LIKELY(n <= HK_TINY_MAX)) return tiny_alloc_fast(front_tiny_class(n));
    return alloc_big(n);
}

static void *hk_alloc_aligned(size_t align, size_t n) {
    if (align <= HK_MIN_ALIGN) return hk_alloc(n < align ? align : n);
    thread_global_init();
    if (align <= HK_TINY_MAX && n <= HK_TINY_MAX)
        return tiny_alloc_fast(front_tiny_class(n > align ? n : align));
    if (align <= 64 * 1024 && n <= HK_L25_MAX) return l25_alloc_aligned(n, align);
    return large_alloc_aligned(n, align);
}

enum { OWN_NONE = 0, OWN_TINY, OWN_MID, OWN_L25, OWN_LARGE, OWN_INTERIOR };

static int classify(const void *p) {
    if (arena_owns(p)) {
        hk_slab *s = arena_slab(p);
        if (s->block_size) return ((uintptr_t)p & (s->block_size - 1)) ? OWN_INTERIOR : OWN_TINY;
        switch (atomic_load_explicit(&arena_segmeta(p)->kind, memory_order_acquire)) {
        case HK_SEG_MID: return OWN_MID;
        case HK_SEG_L25: return OWN_L25;
        case HK_SEG_LARGE: return OWN_LARGE;
        case HK_SEG_LARGE_TAIL: return OWN_INTERIOR;
        default: return OWN_NONE;
        }
    }
    if (large_owns_external(p)) return OWN_LARGE;
    return OWN_NONE;
}

static size_t usable_size(const void *p, int own) {
    switch (own) {
    case OWN_TINY: return arena_slab(p)->block_size;
    case OWN_MID: return mid_usable_size(p);
    case OWN_L25: return l25_usable_size(p);
    case OWN_LARGE: return large_usable_size(p);
    default: return 0;
    }
}

static HK_NOINLINE void free_slow(void *p, const char *call) {
    int own = classify(p);
    int bad = 0;
    switch (own) {
    case OWN_TINY: tiny_free_fast(p); return;
    case OWN_MID: bad = mid_free(p); break;
    case OWN_L25: bad = l25_free(p); break;
    case OWN_LARGE: bad = large_free(p); break;
    case OWN_INTERIOR:
        external_report(call, p, "invalid pointer (inside a block, not its start)");
        return;
    default:
        external_report(call, p, "invalid pointer (not allocated by hakmem)");
        return;
    }
    if (bad) external_report(call, p, external_why(p));
}

static HK_NOINLINE void mid_free_bad(void *p, const char *call) {
    external_report(call, p, external_why(p));
}

/* Mid blocks are the next most common: straight to the tier.  Out of
 * line, so that free's tiny fast path needs no stack frame. */
static HK_NOINLINE void free_not_tiny(void *p, const char *call) {
    if (arena_owns(p) && !arena_slab(p)->block_size &&
        atomic_load_explicit(&arena_segmeta(p)->kind, memory_order_relaxed) == HK_SEG_MID) {
        if (HK_LIKELY(mid_free(p) == 0)) return;
        mid_free_bad(p, call);
        return;
    }
    free_slow(p, call);
}

HK_INLINE void hk_free(void *p, const char *call) {
    if (HK_LIKELY(tiny_free_fast(p))) return;
    free_not_tiny(p, call);
}

void front_double_free(void *p, unsigned c) {
    (void)c;
    external_report("free", p, "double free (block is already in this thread's cache)");
}

static void *hk_realloc(void *p, size_t n) {
    int own = classify(p);
    if (own == OWN_NONE || own == OWN_INTERIOR) {
        external_report("realloc", p, own == OWN_NONE ? "invalid pointer (not allocated by hakmem)"
                                                      : "invalid pointer (inside a block, not its start)");
        errno = EINVAL;
        return NULL;
    }
    size_t u = usable_size(p, own);
    if (HK_UNLIKELY(u == 0 || (own == OWN_TINY && external_tiny_cached(p, arena_slab(p)->cls)))) {
        external_report("realloc", p, "the block was freed (realloc of a freed block)");
        errno = EINVAL;
        return NULL;
    }
    if (own == OWN_TINY) {
        if (n <= u && (n > u / 2 || u == 8)) return p;
    } else if (own == OWN_LARGE) {
        if (n > HK_L25_MAX) return large_realloc(p, n);
    } else if (n <= u && n > u / 2) {
        return p;
    }
    /* Growing past the block: take 50% headroom (Mid/L2.5 sizes), so a
     * buffer grown step by step is copied O(log n) times, not once per
     * step.  Large blocks grow with mremap instead (large.c). */
    size_t want = n;
    if (n > u && n > HK_TINY_MAX && n <= HK_L25_MAX) {
        size_t g = u + u / 2;
        if (g > want) want = g;
    }
    void *q = hk_alloc(want);
    if (!q && want != n) q = hk_alloc(n);
    if (!q) return NULL;
    memcpy(q, p, u < n ? u : n);
    hk_free(p, "realloc");
    return q;
}

/* ---- for the check box (check.h) ----------------------------------- */

void *api_alloc(size_t n) { return hk_alloc(n); }
void *api_alloc_aligned(size_t align, size_t n) { return hk_alloc_aligned(align, n); }
void api_release(void *p) { hk_free(p, "free"); }

int api_classify(const void *p, size_t *usable) {
    int own = classify(p);
    *usable = usable_size(p, own);
    return own == OWN_NONE ? 0 : own == OWN_INTERIOR ? -1 : 1;
}

/* ---- tracing shells ------------------------------------------------ */

#ifdef HAKMEM_TRACE
#define TRACED(ev) HK_UNLIKELY(HK_TP_ENABLED(ev))
/* malloc/free: "traced or check mode" in one load, one OR and one branch
 * (check mode costs the fast path nothing beyond the tracing test) */
#define TRACED_OR_CHECKED(ev) HK_UNLIKELY(HK_TP_ENABLED(ev) | hk_check_mode)
#else
#define TRACED(ev) 0
#define TRACED_OR_CHECKED(ev) HK_UNLIKELY(hk_check_mode)
#endif

static HK_NOINLINE void *malloc_traced(size_t n, void *ra) {
    if (hk_check_mode) return check_malloc(n, ra);
    void *p = hk_alloc(n);
    if (p) HK_TP(malloc, p, n, n <= HK_TINY_MAX ? front_tiny_class(n) : 0xff, ra);
    return p;
}

static HK_NOINLINE void free_traced(void *p, void *ra) {
    if (hk_check_mode) { check_free(p, ra); return; }
    int own = classify(p);
    size_t u = usable_size(p, own);
    HK_TP(free, p, u, own == OWN_TINY ? arena_slab(p)->cls : 0xff, ra);
    hk_free(p, "free");
}

/* ---- the public API ------------------------------------------------ */

HK_API void *malloc(size_t n) {
    if (TRACED_OR_CHECKED(malloc)) return malloc_traced(n, __builtin_return_address(0));
    return hk_alloc(n);
}

HK_API void free(void *p) {
    if (HK_UNLIKELY(!p)) return;
    if (TRACED_OR_CHECKED(free)) { free_traced(p, __builtin_return_address(0)); return; }
    hk_free(p, "free");
}

HK_API void *calloc(size_t nmemb, size_t size) {
    size_t n;
    if (HK_UNLIKELY(__builtin_mul_overflow(nmemb, size, &n))) { errno = ENOMEM; return NULL; }
    if (HK_UNLIKELY(hk_check_mode)) return check_calloc(nmemb, size, __builtin_return_address(0));
    void *p;
    if (n > HK_L25_MAX) {
        thread_global_init();
        p = large_alloc(n, 1);
    } else {
        p = hk_alloc(n);
        if (p) memset(p, 0, n);
    }
    if (TRACED(calloc) && p) hk_tp_emit_calloc(p, nmemb, size, __builtin_return_address(0));
    return p;
}

HK_API void *realloc(void *p, size_t n) {
    if (HK_UNLIKELY(hk_check_mode)) return check_realloc(p, n, __builtin_return_address(0));
    void *q;
    if (!p) {
        q = hk_alloc(n);
    } else if (n == 0) {
        if (TRACED(realloc)) hk_tp_emit_realloc(p, NULL, 0, __builtin_return_address(0));
        hk_free(p, "realloc");
        return NULL;
    } else {
        q = hk_realloc(p, n);
    }
    if (TRACED(realloc) && q) hk_tp_emit_realloc(p, q, n, __builtin_return_address(0));
    return q;
}

HK_API void *reallocarray(void *p, size_t nmemb, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) { errno = ENOMEM; return NULL; }
    if (HK_UNLIKELY(hk_check_mode)) return check_reallocarray(p, nmemb, size, __builtin_return_address(0));
    void *q;
    if (!p) q = hk_alloc(n);
    else if (n == 0) { hk_free(p, "reallocarray"); q = hk_alloc(0); }
    else q = hk_realloc(p, n);
    if (TRACED(realloc) && q) hk_tp_emit_realloc(p, q, n, __builtin_return_address(0));
    return q;
}

static inline int pow2(size_t a) { return a && !(a & (a - 1)); }

static void *aligned_traced(size_t align, size_t n, void *ra) {
    if (HK_UNLIKELY(hk_check_mode)) return check_memalign(align, n, ra);
    void *p = hk_alloc_aligned(align, n);
    if (TRACED(memalign) && p) hk_tp_emit_memalign(p, align, n, ra);
    return p;
}

HK_API int posix_memalign(void **out, size_t align, size_t n) {
    if (!pow2(align) || align % sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = aligned_traced(align, n, __builtin_return_address(0));
    if (!p) return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

HK_API void *aligned_alloc(size_t align, size_t n) {
    if (!pow2(align)) { errno = EINVAL; return NULL; }
    return aligned_traced(align, n, __builtin_return_address(0));
}

HK_API void *memalign(size_t align, size_t n) {
    if (align > ((size_t)1 << 62)) { errno = EINVAL; return NULL; }
    if (!pow2(align)) {   /* glibc rounds up to the next power of two */
        size_t a = 1;
        while (a < align) a <<= 1;
        align = a;
    }
    return aligned_traced(align, n, __builtin_return_address(0));
}

HK_API void *valloc(size_t n) {
    return aligned_traced(4096, n, __builtin_return_address(0));
}

HK_API void *pvalloc(size_t n) {
    size_t r;
    if (__builtin_add_overflow(n, 4095, &r)) { errno = ENOMEM; return NULL; }
    r &= ~(size_t)4095;
    return aligned_traced(4096, r ? r : 4096, __builtin_return_address(0));
}

HK_API size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    if (HK_UNLIKELY(hk_check_mode)) return check_usable_size(p);
    int own = classify(p);
    if (own == OWN_NONE || own == OWN_INTERIOR) {
        external_report("malloc_usable_size", p, "invalid pointer (not a block allocated by hakmem)");
        return 0;
    }
    return usable_size(p, own);
}

HK_API int malloc_trim(size_t pad) {
    (void)pad;
    thread_global_init();
    check_flush();
    size_t n = tiny_trim();
    n += mid_trim();
    n += l25_trim();
    n += large_trim();
    return n > 0;
}

HK_API int mallopt(int param, int value) {
    (void)param; (void)value;
    return 1;
}

static uint64_t live_bytes(const hks_thread *s) {
    uint64_t b = 0;
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        const hks_class *k = &s->cls[c];
        uint64_t a = k->uh_hits + k->sll_hits + k->sll_misses;
        b += (a > k->frees ? a - k->frees : 0) * hk_class_size_of(c);
    }
    for (unsigned i = 0; i < HKS_TIERS; i++) {
        const hks_tier *t = &s->tier[i];
        b += t->bytes_alloc > t->bytes_freed ? t->bytes_alloc - t->bytes_freed : 0;
    }
    return b;
}

HK_API struct mallinfo2 mallinfo2(void) {
    thread_global_init();
    static hks_thread sum;   /* large: not on the stack */
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    stats_sum(&sum);
    hks_global *g = stats_global();
    uint64_t live = live_bytes(&sum);
    mi.arena = g->committed_bytes;
    mi.uordblks = live;
    mi.fordblks = g->committed_bytes > live ? g->committed_bytes - live : 0;
    mi.hblkhd = g->large_live_bytes;
    mi.keepcost = g->lru_bytes + g->bigcache_bytes;
    return mi;
}

HK_API struct mallinfo mallinfo(void) {
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = (int)m2.arena;
    mi.uordblks = (int)m2.uordblks;
    mi.fordblks = (int)m2.fordblks;
    mi.hblkhd = (int)m2.hblkhd;
    mi.keepcost = (int)m2.keepcost;
    return mi;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) os_write_err(buf);
}

HK_API void malloc_stats(void) {
    thread_global_init();
    static hks_thread s;
    stats_sum(&s);
    hks_global *g = stats_global();
    out("hakmem %s: arena %p + %llu MiB, committed %llu KiB, threads %llu live / %llu total\n",
        HAKMEM_VERSION, (void *)(uintptr_t)g->arena_base, (unsigned long long)(g->arena_size >> 20),
        (unsigned long long)(g->committed_bytes >> 10), (unsigned long long)g->threads_live,
        (unsigned long long)g->threads_total);
    out("%-6s %6s %12s %12s %7s %7s %9s %9s %10s %10s %7s\n", "class", "size", "allocs", "frees",
        "uh-hit%", "sll-hit%", "refills", "drains", "remote-out", "remote-in", "slabs");
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        const hks_class *k = &s.cls[c];
        uint64_t a = k->uh_hits + k->sll_hits + k->sll_misses;
        uint64_t uh = k->uh_hits + k->uh_misses, sll = k->sll_hits + k->sll_misses;
        out("C%-5u %6u %12llu %12llu %7.1f %7.1f %9llu %9llu %10llu %10llu %7lld\n", c,
            hk_class_size_of(c), (unsigned long long)a, (unsigned long long)k->frees,
            uh ? 100.0 * (double)k->uh_hits / (double)uh : 0.0,
            sll ? 100.0 * (double)k->sll_hits / (double)sll : 0.0, (unsigned long long)k->refills,
            (unsigned long long)k->drains, (unsigned long long)k->remote_sent,
            (unsigned long long)k->remote_recv, (long long)(k->slabs_acquired - k->slabs_released));
    }
    static const char *tiers[HKS_TIERS] = { "Mid", "L2.5", "Large" };
    for (unsigned i = 0; i < HKS_TIERS; i++) {
        const hks_tier *t = &s.tier[i];
        out("%-6s allocs %llu frees %llu live %lld KiB refills %llu remote %llu/%llu cache %llu/%llu\n",
            tiers[i], (unsigned long long)t->allocs, (unsigned long long)t->frees,
            (long long)(t->bytes_alloc - t->bytes_freed) / 1024, (unsigned long long)t->refills,
            (unsigned long long)t->remote_sent, (unsigned long long)t->remote_recv,
            (unsigned long long)t->cache_hits, (unsigned long long)t->cache_misses);
    }
    const hks_box *b = &s.box;
    out("SharedPool stage1 %llu stage2 %llu stage3 %llu release %llu; slots unused %llu active %llu empty %llu\n",
        (unsigned long long)b->sp_stage1, (unsigned long long)b->sp_stage2,
        (unsigned long long)b->sp_stage3, (unsigned long long)b->sp_release,
        (unsigned long long)g->slots_unused, (unsigned long long)g->slots_active,
        (unsigned long long)g->slots_empty);
    out("SuperSlab live %llu mapped %llu unmapped %llu; LRU %llu (%llu KiB) push %llu pop %llu evict %llu\n",
        (unsigned long long)g->ss_live, (unsigned long long)b->ss_map, (unsigned long long)b->ss_unmap,
        (unsigned long long)g->lru_count, (unsigned long long)(g->lru_bytes >> 10),
        (unsigned long long)b->lru_push, (unsigned long long)b->lru_pop, (unsigned long long)b->lru_evict);
    out("slabs orphaned %llu adopted %llu; OS maps %llu (%llu KiB) unmaps %llu (%llu KiB)\n",
        (unsigned long long)b->slab_orphan, (unsigned long long)b->slab_adopt,
        (unsigned long long)b->os_map, (unsigned long long)(b->os_map_bytes >> 10),
        (unsigned long long)b->os_unmap, (unsigned long long)(b->os_unmap_bytes >> 10));
}

/* ---- hakmem.h ------------------------------------------------------ */

HK_API const char *hakmem_version(void) { return HAKMEM_VERSION; }

HK_API int hakmem_stats_read(struct hks_thread *sum, struct hks_global *global) {
    thread_global_init();
    if (sum) stats_sum(sum);
    if (global) {   /* word by word: other threads update these atomically */
        const uint64_t *src = (const uint64_t *)stats_global();
        uint64_t *dst = (uint64_t *)global;
        for (size_t w = 0; w < sizeof *global / 8; w++) dst[w] = __atomic_load_n(&src[w], __ATOMIC_RELAXED);
    }
    return 0;
}

HK_API const char *hakmem_stats_path(void) {
    thread_global_init();
    return stats_path();
}

HK_API void hakmem_thread_flush(void) {
    thread_global_init();
    tiny_flush();
}

HK_API void hakmem_arena(uintptr_t *base, size_t *size) {
    thread_global_init();
    if (base) *base = hk_arena.base;
    if (size) *size = hk_arena.size;
}

/* Initialise at load time too, so the stats segment exists (and the
 * configuration is read) even in a program that never allocates. */
__attribute__((constructor)) static void hk_constructor(void) {
    thread_ensure();
}

/* HAKMEM_VERBOSE=2: the malloc_stats() report when the process exits. */
__attribute__((destructor)) static void hk_destructor(void) {
    if (hk_cfg.verbose >= 2) malloc_stats();
}
