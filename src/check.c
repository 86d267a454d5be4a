/* check.c - the check box (see check.h).
 *
 * Shadow word of a block start (8-byte granules, so every tiny class has
 * its own word): 0 while the block is live (or was never handed out: a
 * block returned before check mode was set up is simply "live"), else
 *   bit 0        1 = freed
 *   bits 1..16   hakmem thread slot of the freeing thread
 *   bits 17..63  call site of that free (a user-space address, < 2^47)
 * A free swings the word 0 -> record with one CAS, so of two concurrent
 * frees of one block exactly one wins and the other is reported; every
 * allocation entry point stores 0 for the block it returns.  The record
 * stays while the block sits in the quarantine and afterwards in the
 * allocator's free lists, so a double free is caught until the block is
 * handed out again.
 *
 * Quarantine: a global FIFO ring (one lock: check mode trades speed for
 * simplicity; no per-thread state to flush at thread exit or fork).  A
 * freed block's first 64 bytes are filled with 0xdf; when the block leaves
 * the quarantine the fill is verified, which catches writes through a
 * dangling pointer.  Blocks leave when the ring holds more than
 * HAKMEM_CHECK_QUARANTINE bytes (or 256 Ki blocks) and are then freed for
 * real, outside the lock.
 *
 * Re-entry: hk_tls.busy holds the call this thread is inside (1..7); a
 * call that finds it set aborts with a line naming both calls.  The
 * thread is made live before the flag is set, so the allocations that
 * thread start-up makes (pthread_setspecific...) are not re-entries, and
 * allocations made inside a tracepoint (tp_guard) are let through.
 *
 * realloc always moves in check mode (new block, copy, checked free of
 * the old one), so a stale pointer to the old block is caught too.
 */
#include "check.h"
#include "arena.h"
#include "config.h"
#include "external.h"
#include "large.h"
#include "lock.h"
#include "os.h"
#include "thread.h"
#include "tp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int hk_check_mode;

enum { CK_MALLOC = 1, CK_FREE, CK_CALLOC, CK_REALLOC, CK_MEMALIGN, CK_USABLE };
static const char *const ck_name[] = {
    "?", "malloc", "free", "calloc", "realloc", "memalign", "malloc_usable_size",
};

#define CK_FILL      0xdf
#define CK_FILL_MAX  64u      /* bytes filled and verified per block */
#define CK_RING      (1u << 18)
#define CK_SITE_MASK ((1ull << 47) - 1)

typedef struct qent { void *p; size_t usable; } qent;

static _Atomic uint64_t *shadow;     /* NULL: no shadow (could not be mapped) */
static size_t shadow_len;
static hak_lock q_lock = HAK_LOCK_INIT("check_quarantine");
static qent *ring;
static uint32_t ring_head, ring_n;
static size_t ring_bytes;

void check_init(void) {
    if (!hk_cfg.check || hk_check_mode) return;
    shadow_len = (size_t)hk_arena.nsegs << HK_SEG_SHIFT;
    if (shadow_len) {
        void *s = mmap(NULL, shadow_len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (s != MAP_FAILED) shadow = s;
    }
    if (!shadow)
        os_write_err("hakmem: HAKMEM_CHECK=1: no address space for the shadow map; "
                     "double frees are caught only as in the default mode\n");
    void *r = mmap(NULL, CK_RING * sizeof(qent), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ring = r == MAP_FAILED ? NULL : r;
    hak_lock_register(&q_lock);
    __atomic_store_n(&hk_check_mode, 1, __ATOMIC_RELEASE);
}

/* ---- re-entry --------------------------------------------------------- */

static HK_COLD __attribute__((noreturn)) void reentry(unsigned call, unsigned inside) {
    char line[256];
    snprintf(line, sizeof line,
             "hakmem: %s() called while this thread is inside %s() (from a signal handler that "
             "interrupted it?); the allocator is not async-signal-safe; aborting\n",
             ck_name[call], ck_name[inside < 7 ? inside : 0]);
    external_fatal(line);
}

static inline hk_tls_t *enter(unsigned call) {
    hk_tls_t *t = hk_self();
    if (HK_UNLIKELY(t->busy) && !t->tp_guard) reentry(call, t->busy);
    t->busy = (uint8_t)call;
    /* the flag is for a signal handler on this thread: keep the compiler
     * from moving the allocator's own TLS updates across it */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return t;
}

static inline void leave(hk_tls_t *t) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->busy = 0;
}

/* ---- shadow ----------------------------------------------------------- */

static inline _Atomic uint64_t *shadow_of(const void *p) {
    uintptr_t off = (uintptr_t)p - hk_arena.base;
    if (!shadow || off >= shadow_len || !arena_owns(p)) return NULL;
    return &shadow[off >> 3];
}

static inline void mark_live(const void *p) {
    _Atomic uint64_t *e = shadow_of(p);
    /* a load first: storing 0 into an untouched shadow page would make it
     * resident for nothing */
    if (e && atomic_load_explicit(e, memory_order_relaxed)) atomic_store_explicit(e, 0, memory_order_relaxed);
}

void check_seg_released(const void *seg, size_t len) {
    _Atomic uint64_t *e = shadow_of(seg);
    if (e) madvise((void *)e, len, MADV_DONTNEED);
}

static void describe_free(char *buf, size_t n, uint64_t rec) {
    char where[256];
    external_describe_pc(where, sizeof where, (const void *)(uintptr_t)((rec >> 17) & CK_SITE_MASK));
    snprintf(buf, n, "it was freed before at %s by hakmem thread #%u", where,
             (unsigned)((rec >> 1) & 0xffff));
}

static void report_freed(const char *call, const void *p, const char *what, uint64_t rec) {
    char detail[320];
    if (rec) describe_free(detail, sizeof detail, rec);
    external_report_ex(call, p, what, rec ? detail : NULL);
}

/* The shadow record of p, 0 if live or unknown. */
static inline uint64_t freed_rec(const void *p) {
    _Atomic uint64_t *e = shadow_of(p);
    return e ? atomic_load_explicit(e, memory_order_relaxed) : 0;
}

/* Validate p for a call that needs a live block.  1 = live, *usable set;
 * 0 = reported (the call must do nothing). */
static int validate(const char *call, void *p, size_t *usable, int freeing) {
    int own = api_classify(p, usable);
    if (own == 0) {
        external_report(call, p, "invalid pointer (not allocated by hakmem)");
        return 0;
    }
    if (own < 0) {
        external_report(call, p, "invalid pointer (inside a block, not its start)");
        return 0;
    }
    uint64_t rec = freed_rec(p);
    if (rec || *usable == 0) {
        const char *why = external_why(p);
        if (rec || strncmp(why, "double free", 11) == 0)
            why = freeing ? "double free (the block is already free)" : "the block was freed (use after free)";
        report_freed(call, p, why, rec);
        return 0;
    }
    return 1;
}

/* ---- quarantine -------------------------------------------------------- */

static void verify_fill(const qent *q) {
    size_t n = q->usable < CK_FILL_MAX ? q->usable : CK_FILL_MAX;
    const uint8_t *b = q->p;
    /* blocks are at least 8-byte aligned and sized: compare words first */
    uint64_t diff = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) diff |= *(const uint64_t *)(b + i) ^ 0xdfdfdfdfdfdfdfdfull;
    if (HK_LIKELY(!diff && (n & 7) == 0)) return;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == CK_FILL) continue;
        char detail[400], rec[320];
        uint64_t r = freed_rec(q->p);
        if (r) describe_free(rec, sizeof rec, r);
        snprintf(detail, sizeof detail, "byte %zu is 0x%02x, not the 0x%02x written at free%s%s", i,
                 b[i], CK_FILL, r ? "; " : "", r ? rec : "");
        external_report_ex("free", q->p, "a freed block was written to (use after free)", detail);
        return;
    }
}

/* Freed block p (validated, shadow record written): keep it, release
 * what leaves the quarantine. */
static void quarantine(void *p, size_t usable) {
    memset(p, CK_FILL, usable < CK_FILL_MAX ? usable : CK_FILL_MAX);
    qent out[8];
    unsigned nout = 0;
    if (!ring || hk_cfg.check_quarantine == 0) {
        out[nout++] = (qent){ p, usable };
    } else {
        hak_lock_acquire(&q_lock);
        ring[(ring_head + ring_n) % CK_RING] = (qent){ p, usable };
        ring_n++;
        ring_bytes += usable;
        while (nout < 8 && ring_n && (ring_n == CK_RING || ring_bytes > hk_cfg.check_quarantine)) {
            out[nout++] = ring[ring_head];
            ring_bytes -= ring[ring_head].usable;
            ring_head = (ring_head + 1) % CK_RING;
            ring_n--;
        }
        hak_lock_release(&q_lock);
    }
    for (unsigned i = 0; i < nout; i++) {
        verify_fill(&out[i]);
        api_release(out[i].p);
    }
}

void check_flush(void) {
    if (!hk_check_mode || !ring) return;
    for (;;) {
        qent out[64];
        unsigned nout = 0;
        hak_lock_acquire(&q_lock);
        while (nout < 64 && ring_n) {
            out[nout++] = ring[ring_head];
            ring_bytes -= ring[ring_head].usable;
            ring_head = (ring_head + 1) % CK_RING;
            ring_n--;
        }
        hak_lock_release(&q_lock);
        if (!nout) return;
        for (unsigned i = 0; i < nout; i++) {
            verify_fill(&out[i]);
            api_release(out[i].p);
        }
    }
}

/* The free half of free/realloc: p is validated and live. */
static void release_checked(const char *call, hk_tls_t *t, void *p, size_t usable, const void *ra) {
    _Atomic uint64_t *e = shadow_of(p);
    if (e) {
        uint64_t rec = 1 | ((uint64_t)(t->id & 0xffff) << 1) |
                       (((uint64_t)(uintptr_t)ra & CK_SITE_MASK) << 17);
        uint64_t old = 0;
        if (!atomic_compare_exchange_strong_explicit(e, &old, rec, memory_order_acq_rel,
                                                     memory_order_relaxed)) {
            /* another thread freed it between the validation and here */
            report_freed(call, p, "double free (the block is already free)", old);
            return;
        }
    }
    quarantine(p, usable);
}

static inline unsigned tiny_cls(const void *p, size_t usable) {
    if (usable > HK_TINY_MAX || !arena_owns(p)) return 0xff;
    hk_slab *s = arena_slab(p);
    return s->block_size ? s->cls : 0xff;
}

/* ---- the checked API ---------------------------------------------------- */

void *check_malloc(size_t n, const void *ra) {
    hk_tls_t *t = enter(CK_MALLOC);
    void *p = api_alloc(n);
    if (p) {
        mark_live(p);
        HK_TP(malloc, p, n, 0xff, ra);
    }
    leave(t);
    return p;
}

void check_free(void *p, const void *ra) {
    if (!p) return;
    hk_tls_t *t = enter(CK_FREE);
    size_t u;
    if (validate("free", p, &u, 1)) {
        HK_TP(free, p, u, tiny_cls(p, u), ra);
        release_checked("free", t, p, u, ra);
    }
    leave(t);
}

void *check_calloc(size_t nmemb, size_t size, const void *ra) {
    size_t n;
    if (HK_UNLIKELY(__builtin_mul_overflow(nmemb, size, &n))) { errno = ENOMEM; return NULL; }
    hk_tls_t *t = enter(CK_CALLOC);
    void *p;
    if (n > HK_L25_MAX) {
        p = large_alloc(n, 1);
    } else {
        p = api_alloc(n);
        if (p) memset(p, 0, n);
    }
    if (p) {
        mark_live(p);
        HK_TP(calloc, p, nmemb, size, ra);
    }
    leave(t);
    return p;
}

static void *realloc_checked(hk_tls_t *t, void *p, size_t n, const void *ra) {
    if (!p) {
        void *q = api_alloc(n);
        if (q) mark_live(q);
        return q;
    }
    size_t u;
    if (!validate("realloc", p, &u, 0)) { errno = EINVAL; return NULL; }
    if (n == 0) {
        release_checked("realloc", t, p, u, ra);
        return NULL;
    }
    void *q = api_alloc(n);
    if (!q) return NULL;           /* errno ENOMEM, p untouched */
    mark_live(q);
    memcpy(q, p, u < n ? u : n);
    release_checked("realloc", t, p, u, ra);
    return q;
}

void *check_realloc(void *p, size_t n, const void *ra) {
    hk_tls_t *t = enter(CK_REALLOC);
    void *q = realloc_checked(t, p, n, ra);
    if (q || (p && n == 0)) HK_TP(realloc, p, q, n, ra);
    leave(t);
    return q;
}

void *check_reallocarray(void *p, size_t nmemb, size_t size, const void *ra) {
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) { errno = ENOMEM; return NULL; }
    hk_tls_t *t = enter(CK_REALLOC);
    void *q;
    if (p && n == 0) {             /* glibc: free the block, return malloc(0) */
        realloc_checked(t, p, 0, ra);
        q = realloc_checked(t, NULL, 0, ra);
    } else {
        q = realloc_checked(t, p, n, ra);
    }
    if (q) HK_TP(realloc, p, q, n, ra);
    leave(t);
    return q;
}

void *check_memalign(size_t align, size_t n, const void *ra) {
    hk_tls_t *t = enter(CK_MEMALIGN);
    void *p = api_alloc_aligned(align, n);
    if (p) {
        mark_live(p);
        HK_TP(memalign, p, align, n, ra);
    }
    leave(t);
    return p;
}

size_t check_usable_size(void *p) {
    if (!p) return 0;
    hk_tls_t *t = enter(CK_USABLE);
    size_t u;
    if (!validate("malloc_usable_size", p, &u, 0)) u = 0;
    leave(t);
    return u;
}
