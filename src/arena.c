/* arena.c - the arena box (see arena.h).
 *
 * Reservation: HAKMEM_ARENA_SIZE bytes of PROT_NONE, MAP_NORESERVE address
 * space, at HAKMEM_ARENA_BASE when given (MAP_FIXED_NOREPLACE, so we never
 * clobber an existing mapping), else wherever the kernel puts it, aligned
 * to 2 MiB.  PROT_NONE costs no commit charge even under strict
 * overcommit; segments are committed with mprotect when handed out and
 * decommitted by mapping PROT_NONE over them when returned.
 *
 * Growable fallback: if the reservation fails (ulimit -v: PROT_NONE
 * address space counts toward RLIMIT_AS), the arena starts small (32 MiB,
 * down to one segment) and grows *in place*: arena_seg_alloc reserves the
 * range right after its end (MAP_FIXED_NOREPLACE) when the bitmap has no
 * room.  It is placed low in the largest hole of /proc/self/maps (or at
 * HAKMEM_ARENA_BASE), away from where the kernel puts new mappings, so the
 * range above it stays free.  The arena stays one range, so ownership is
 * still one compare and the free path makes no syscall; the side tables
 * are sized for the most it can grow to (16 times RLIMIT_AS, at least
 * 4 GiB, at most HAKMEM_ARENA_SIZE), which is hk_arena.nsegs.  Segments not yet reserved
 * are marked used in the bitmap.
 *
 * Determinism: segments are taken lowest-index-first from a bitmap, so
 * with a fixed base the same sequence of requests yields the same
 * addresses run after run.
 */
#include "arena.h"
#include "check.h"
#include "config.h"
#include "large.h"
#include "lock.h"
#include "lru.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

hk_arena_t hk_arena;

static hak_lock arena_lock = HAK_LOCK_INIT("arena");
static uint64_t *bitmap;        /* bit set = segment handed out */
static uint32_t  nwords;
static uint32_t  hint;          /* lowest word that may have a free bit */

static void *map_table(size_t size) {
    size = (size + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void *reserve_aligned(size_t size) {
    if (hk_cfg.arena_base) {
        void *p = os_reserve((void *)(uintptr_t)hk_cfg.arena_base, size, 1);
        if (p) return p;
        os_write_err("hakmem: HAKMEM_ARENA_BASE: the range is not free; using a kernel-chosen base\n");
    }
    void *p = os_reserve(NULL, size + HK_SEG_SIZE, 0);
    if (!p) return NULL;
    uintptr_t a = ((uintptr_t)p + HK_SEG_SIZE - 1) & ~(HK_SEG_SIZE - 1);
    size_t head = a - (uintptr_t)p, tail = HK_SEG_SIZE - head;
    if (head) munmap(p, head);
    if (tail) munmap((void *)(a + size), tail);
    return (void *)a;
}

/* The largest hole of the address space, from /proc/self/maps (raw
 * reads: no stdio, no malloc).  0 if it cannot be read. */
static size_t largest_hole(uintptr_t *lo) {
    /* open and read are cancellation points; start-up must not stop half-way */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { pthread_setcancelstate(cs, NULL); return 0; }
    char buf[4096];
    size_t have = 0, best = 0;
    /* the top of the user address space (47 bits) closes the last hole */
    const uintptr_t top = (uintptr_t)0x7ffffffff000ull;
    uintptr_t prev_end = 0x10000, start = 0, end = 0;
    int field = 0, skip = 0;          /* 0 = start, 1 = end; skip to '\n' */
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; i++) {
            char c = buf[i];
            if (c == '\n') {
                if (start >= top) have = 0;   /* [vsyscall] */
                if (have && start > prev_end && start - prev_end > best) {
                    best = start - prev_end;
                    *lo = prev_end;
                }
                if (have && end > prev_end) prev_end = end;
                start = end = 0; field = 0; skip = 0; have = 0;
                continue;
            }
            if (skip) continue;
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d >= 0) {
                if (field == 0) start = start * 16 + (uintptr_t)d; else end = end * 16 + (uintptr_t)d;
                have = 1;
            } else if (c == '-' && field == 0) {
                field = 1;
            } else {
                skip = 1;
            }
        }
    }
    close(fd);
    pthread_setcancelstate(cs, NULL);
    if (top > prev_end && top - prev_end > best) { best = top - prev_end; *lo = prev_end; }
    return best;
}

/* A growable arena (see the header comment): reserve its first `*size`
 * bytes (halved down to one segment if needed) where it has room to grow
 * to `cap` bytes.  NULL if nothing can be reserved. */
static void *reserve_growable(size_t *size, size_t cap) {
    uintptr_t at = (uintptr_t)hk_cfg.arena_base;
    if (!at) {
        uintptr_t lo = 0;
        size_t hole = largest_hole(&lo);
        /* low in the hole: the kernel fills holes from the top down, and a
         * brk heap below grows up; 1/8 of the hole is a wide margin */
        if (hole >= 4 * HK_SEG_SIZE) at = (lo + hole / 8 + HK_SEG_SIZE - 1) & ~(HK_SEG_SIZE - 1);
        if (at && hole - (at - lo) < cap) cap = hole - (at - lo);
    }
    for (size_t s = *size; s >= HK_SEG_SIZE; s >>= 1) {
        void *p = at ? os_reserve((void *)at, s, 1) : NULL;
        if (!p && !at) {
            uintptr_t q = (uintptr_t)os_reserve(NULL, s + HK_SEG_SIZE, 0);
            if (q) {   /* anywhere, aligned; it may not be able to grow */
                uintptr_t a = (q + HK_SEG_SIZE - 1) & ~(HK_SEG_SIZE - 1);
                if (a > q) munmap((void *)q, a - q);
                if (a + s < q + s + HK_SEG_SIZE) munmap((void *)(a + s), q + s + HK_SEG_SIZE - (a + s));
                p = (void *)a;
            }
        }
        if (p) { *size = s; return p; }
    }
    return NULL;
}

#define ARENA_GROW_FIRST ((size_t)32 << 20)

int arena_init(void) {
    if (hk_arena.size) return 0;
    hak_lock_register(&arena_lock);
    size_t size = hk_cfg.arena_size, cap = size;
    void *base = reserve_aligned(size);
    if (!base) {
        /* Address-space limit: size the tables for 16 times it (at least
         * 4 GiB: they cost 1/1000 of that), so the arena can still grow
         * if the limit is raised later. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            size_t room = rl.rlim_cur < ((size_t)1 << 40) ? (size_t)rl.rlim_cur * 16 : (size_t)1 << 44;
            if (room < ((size_t)4 << 30)) room = (size_t)4 << 30;
            if (room < cap) cap = room;
        }
        cap &= ~(HK_SEG_SIZE - 1);
        size = cap < ARENA_GROW_FIRST ? cap : ARENA_GROW_FIRST;
        if (size) base = reserve_growable(&size, cap);
        if (base && hk_cfg.verbose) {
            char msg[160];
            snprintf(msg, sizeof msg, "hakmem: arena reservation failed; growable arena at %p "
                     "(%zu MiB, up to %zu MiB)\n", base, size >> 20, cap >> 20);
            os_write_err(msg);
        }
    }
    if (!base) {
        os_write_err("hakmem: cannot reserve an arena (address-space limit?); allocations will fail with ENOMEM\n");
        return -1;
    }
    if (cap < size) cap = size;
    /* side tables for the whole capacity; halve it if they do not fit */
    hk_segmeta *segs = NULL;
    hk_slab *slabs = NULL;
    uint32_t nsegs = 0;
    for (;;) {
        nsegs = (uint32_t)(cap >> HK_SEG_SHIFT);
        nwords = (nsegs + 63) / 64;
        segs = map_table((size_t)nsegs * sizeof(hk_segmeta));
        slabs = map_table((size_t)nsegs * HK_SLABS_PER_SEG * sizeof(hk_slab));
        bitmap = map_table((size_t)nwords * 8);
        if (segs && slabs && bitmap) break;
        if (segs) munmap(segs, ((size_t)nsegs * sizeof(hk_segmeta) + 4095) & ~(size_t)4095);
        if (slabs) munmap(slabs, ((size_t)nsegs * HK_SLABS_PER_SEG * sizeof(hk_slab) + 4095) & ~(size_t)4095);
        if (bitmap) munmap(bitmap, ((size_t)nwords * 8 + 4095) & ~(size_t)4095);
        segs = NULL; slabs = NULL; bitmap = NULL;
        if (cap / 2 < size) {
            os_write_err("hakmem: cannot map the arena tables; allocations will fail with ENOMEM\n");
            munmap(base, size);
            return -1;
        }
        cap /= 2;
    }
    /* bits past the reserved part are "used" until the arena grows there */
    uint32_t have = (uint32_t)(size >> HK_SEG_SHIFT);
    for (uint32_t k = have; k < nwords * 64; k++) bitmap[k / 64] |= 1ull << (k % 64);
    hk_arena.segs = segs;
    hk_arena.slabs = slabs;
    hk_arena.nsegs = nsegs;
    hk_arena.base = (uintptr_t)base;
    __atomic_store_n(&hk_arena.size, size, __ATOMIC_RELEASE);
    hks_global *g = stats_global();
    g->arena_base = (uint64_t)(uintptr_t)base;
    g->arena_size = size;
    return 0;
}

/* Grow a growable arena in place by at least n segments (doubling when it
 * can).  Caller holds arena_lock.  0 or -1. */
static int arena_grow(uint32_t n) {
    size_t size = hk_arena.size;
    uint32_t have = (uint32_t)(size >> HK_SEG_SHIFT);
    if (have >= hk_arena.nsegs || n > hk_arena.nsegs - have) return -1;
    uint32_t add = have > n ? have : n;
    if (add > hk_arena.nsegs - have) add = hk_arena.nsegs - have;
    for (;;) {
        void *at = (void *)(hk_arena.base + size);
        if (os_reserve(at, (size_t)add << HK_SEG_SHIFT, 1)) break;
        if (add == n) return -1;
        add = add / 2 > n ? add / 2 : n;
    }
    for (uint32_t k = have; k < have + add; k++) bitmap[k / 64] &= ~(1ull << (k % 64));
    if (have / 64 < hint) hint = have / 64;
    size += (size_t)add << HK_SEG_SHIFT;
    __atomic_store_n(&hk_arena.size, size, __ATOMIC_RELEASE);
    stats_global()->arena_size = size;
    return 0;
}

/* Lowest run of n clear bits; sets them.  Caller holds arena_lock. */
static int64_t find_run(uint32_t n) {
    uint64_t total = (uint64_t)nwords * 64;
    uint64_t i = (uint64_t)hint * 64;
    while (i + n <= total) {
        uint64_t w = bitmap[i / 64];
        if (w == ~0ull) { i = (i / 64 + 1) * 64; continue; }
        if (w & (1ull << (i % 64))) { i++; continue; }
        uint64_t j = i;
        while (j < i + n && !(bitmap[j / 64] & (1ull << (j % 64)))) j++;
        if (j == i + n) {
            for (uint64_t k = i; k < i + n; k++) bitmap[k / 64] |= 1ull << (k % 64);
            while (hint < nwords && bitmap[hint] == ~0ull) hint++;
            return (int64_t)i;
        }
        i = j + 1;
    }
    return -1;
}

static void clear_run(uint32_t first, uint32_t n) {
    for (uint32_t k = first; k < first + n; k++) bitmap[k / 64] &= ~(1ull << (k % 64));
    if (first / 64 < hint) hint = first / 64;
}

void *arena_seg_alloc(uint32_t n, uint8_t kind) {
    if (HK_UNLIKELY(n == 0 || !hk_arena.size || n > hk_arena.nsegs)) { errno = ENOMEM; return NULL; }
    int64_t idx = -1;
    for (int pass = 0; pass < 2 && idx < 0; pass++) {
        /* Full (and cannot grow): give back what the caches keep, BigCache
         * spans and LRU SuperSlabs, and look once more.  Callers hold at
         * most the shared_pool lock, which both trims may nest in. */
        if (pass && large_trim() + lru_trim() == 0) break;
        hak_lock_acquire(&arena_lock);
        idx = find_run(n);
        while (idx < 0 && hk_arena.size < ((size_t)hk_arena.nsegs << HK_SEG_SHIFT) && arena_grow(n) == 0)
            idx = find_run(n);
        hak_lock_release(&arena_lock);
    }
    if (idx < 0) { errno = ENOMEM; return NULL; }
    void *p = arena_seg_addr((uint32_t)idx);
    if (os_commit(p, (size_t)n << HK_SEG_SHIFT) != 0) {
        hak_lock_acquire(&arena_lock);
        clear_run((uint32_t)idx, n);
        hak_lock_release(&arena_lock);
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t k = 0; k < n; k++) {
        hk_segmeta *m = &hk_arena.segs[idx + k];
        m->committed = 1;
        m->span = k == 0 ? n : k;
        m->owner_data = NULL;
        atomic_store_explicit(&m->refs, 0, memory_order_relaxed);
        atomic_store_explicit(&m->kind, k == 0 ? kind : (uint8_t)HK_SEG_LARGE_TAIL,
                              memory_order_release);
    }
    HKS_GAUGE_ADD(segs_used, n);
    HKS_GAUGE_ADD(committed_bytes, (uint64_t)n << HK_SEG_SHIFT);
    return p;
}

void arena_seg_free(void *seg, uint32_t n) {
    uint32_t idx = arena_seg_index(seg);
    os_decommit(seg, (size_t)n << HK_SEG_SHIFT);
    if (HK_UNLIKELY(hk_check_mode)) check_seg_released(seg, (size_t)n << HK_SEG_SHIFT);
    for (uint32_t k = 0; k < n; k++) {
        hk_segmeta *m = &hk_arena.segs[idx + k];
        m->committed = 0;
        m->span = 0;
        m->owner_data = NULL;
        atomic_store_explicit(&m->kind, (uint8_t)HK_SEG_FREE, memory_order_release);
    }
    hak_lock_acquire(&arena_lock);
    clear_run(idx, n);
    hak_lock_release(&arena_lock);
    HKS_GAUGE_SUB(segs_used, n);
    HKS_GAUGE_SUB(committed_bytes, (uint64_t)n << HK_SEG_SHIFT);
}

void arena_purge(void *p, size_t len) {
    os_purge(p, len);
}
