/* arena.c - the arena box (see arena.h).
 *
 * Reservation: HAKMEM_ARENA_SIZE bytes of PROT_NONE, MAP_NORESERVE address
 * space, at HAKMEM_ARENA_BASE when given (MAP_FIXED_NOREPLACE, so we never
 * clobber an existing mapping), else wherever the kernel puts it, aligned
 * to 2 MiB.  PROT_NONE costs no commit charge even under strict
 * overcommit; segments are committed with mprotect when handed out and
 * decommitted by mapping PROT_NONE over them when returned.  If the
 * reservation fails (ulimit -v), smaller sizes are tried down to 1 GiB.
 *
 * Determinism: segments are taken lowest-index-first from a bitmap, so
 * with a fixed base the same sequence of requests yields the same
 * addresses run after run.
 */
#include "arena.h"
#include "config.h"
#include "lock.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

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

int arena_init(void) {
    if (hk_arena.size) return 0;
    hak_lock_register(&arena_lock);
    size_t size = hk_cfg.arena_size;
    void *base = NULL;
    while (size >= ((size_t)1 << 30)) {
        base = reserve_aligned(size);
        if (base) break;
        size >>= 1;
    }
    if (!base) {
        os_write_err("hakmem: cannot reserve an arena (address-space limit?); allocations will fail with ENOMEM\n");
        return -1;
    }
    uint32_t nsegs = (uint32_t)(size >> HK_SEG_SHIFT);
    hk_segmeta *segs = map_table((size_t)nsegs * sizeof(hk_segmeta));
    hk_slab *slabs = map_table((size_t)nsegs * HK_SLABS_PER_SEG * sizeof(hk_slab));
    nwords = (nsegs + 63) / 64;
    bitmap = map_table((size_t)nwords * 8);
    if (!segs || !slabs || !bitmap) {
        os_write_err("hakmem: cannot map the arena tables; allocations will fail with ENOMEM\n");
        munmap(base, size);
        return -1;
    }
    /* bits past nsegs are permanently "used" */
    if (nsegs % 64) bitmap[nwords - 1] = ~0ull << (nsegs % 64);
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
    hak_lock_acquire(&arena_lock);
    int64_t idx = find_run(n);
    hak_lock_release(&arena_lock);
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
