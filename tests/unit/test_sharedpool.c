/* test_sharedpool.c - the SharedPool stages and the LRU, seen through the
 * counters, in one thread, with 64 B blocks (C3: 1024 blocks per 64 KiB
 * slab, 32 slabs per 2 MiB SuperSlab).
 *
 *  growth:   4.5 SuperSlabs' worth of blocks: slabs come from UNUSED slots
 *            (box.sp_stage2) and new SuperSlabs (box.sp_stage3, ss_map).
 *  release:  freeing every block of every other slab and flushing the
 *            thread cache makes those slabs empty: cls[3].slabs_released and
 *            box.sp_release grow by their number.
 *  stage 1:  allocating as many blocks again reuses those EMPTY slabs
 *            (box.sp_stage1) without a new SuperSlab.
 *  LRU:      freeing everything and flushing retires every SuperSlab that
 *            held only our slabs (box.lru_push, gauge lru_count); allocating
 *            again takes them back (box.lru_pop) before any new mapping:
 *            ss_map never grows while the LRU is non-empty.
 */
#include "check.h"

#include <stdlib.h>

enum { CLS = 3, BS = 64, PER_SLAB = 65536 / BS, SLABS = 144, N = SLABS * PER_SLAB, BATCH = PER_SLAB };

static void **v;              /* the blocks, in allocation order        */
static uint32_t *gcount;      /* blocks of ours per 64 KiB granule      */
static uintptr_t gmin;        /* lowest granule index seen              */
static size_t gspan;

static void alloc_range(size_t from, size_t to, uint64_t tag) {
    for (size_t i = from; i < to; i++) {
        v[i] = malloc(BS);
        CHECK(v[i], "malloc(%d) #%zu returned NULL", BS, i);
        tag_fill(v[i], BS, tag + i);
    }
}

static void index_granules(void) {
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < N; i++) {
        uintptr_t g = (uintptr_t)v[i] >> 16;
        if (g < lo) lo = g;
        if (g > hi) hi = g;
    }
    gmin = lo;
    gspan = hi - lo + 1;
    gcount = mmap(NULL, gspan * sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gcount != MAP_FAILED, "mmap");
    for (size_t i = 0; i < N; i++) gcount[((uintptr_t)v[i] >> 16) - gmin]++;
}

static uint32_t gcount_of(void *p) { return gcount[((uintptr_t)p >> 16) - gmin]; }

int main(void) {
    require_hakmem();
    CHECK(getenv("HAKMEM_LRU_MAX") == NULL && getenv("HAKMEM_LRU_MAX_BYTES") == NULL,
          "this test expects the default LRU bounds; unset HAKMEM_LRU_MAX and HAKMEM_LRU_MAX_BYTES");
    v = mmap(NULL, N * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(v != MAP_FAILED, "mmap");
    snap s0, s1, s2, s3, s4, s5;

    /* ---- growth ---- */
    snap_take(&s0);
    alloc_range(0, N, 1);
    snap_take(&s1);
    index_granules();
    int64_t acquired = DELTA(&s0, &s1, cls[CLS].slabs_acquired);
    printf("growth: %d blocks: slabs_acquired +%lld, stage1 +%lld, stage2 +%lld, stage3 +%lld, ss_map +%lld\n", N,
           (long long)acquired, (long long)DELTA(&s0, &s1, box.sp_stage1), (long long)DELTA(&s0, &s1, box.sp_stage2),
           (long long)DELTA(&s0, &s1, box.sp_stage3), (long long)DELTA(&s0, &s1, box.ss_map));
    CHECK(acquired >= SLABS - 1, "%d blocks of %d B need %d slabs, cls[%d].slabs_acquired grew by %lld",
          N, BS, SLABS, CLS, (long long)acquired);
    CHECK(DELTA(&s0, &s1, box.sp_stage2) >= SLABS - 8 - 32,
          "growth: box.sp_stage2 (UNUSED claims) grew by only %lld for %d new slabs",
          (long long)DELTA(&s0, &s1, box.sp_stage2), SLABS);
    CHECK(DELTA(&s0, &s1, box.sp_stage3) >= SLABS / 32 - 1,
          "growth: box.sp_stage3 (new SuperSlabs) grew by only %lld for %d slabs",
          (long long)DELTA(&s0, &s1, box.sp_stage3), SLABS);
    CHECK(DELTA(&s0, &s1, box.ss_map) >= SLABS / 32 - 1, "growth: box.ss_map grew by only %lld",
          (long long)DELTA(&s0, &s1, box.ss_map));

    /* ---- release: free every block of every other full granule ---- */
    size_t full = 0;
    for (size_t g = 0; g < gspan; g++) if (gcount[g] == PER_SLAB) full++;
    CHECK(full >= SLABS - 4, "only %zu of the %d slabs hold %d of our blocks", full, SLABS, PER_SLAB);
    size_t released_expect = 0, freed = 0;
    for (size_t g = 0; g < gspan; g++) if (gcount[g] == PER_SLAB && ((g + gmin) & 1)) released_expect++;
    for (size_t i = 0; i < N; i++) {
        uintptr_t g = (uintptr_t)v[i] >> 16;
        if (gcount_of(v[i]) == PER_SLAB && (g & 1)) {
            CHECK_TAG(v[i], BS, 1 + i, "block before free");
            free(v[i]);
            v[i] = NULL;
            freed++;
        }
    }
    hakmem_thread_flush();
    snap_take(&s2);
    int64_t rel = DELTA(&s1, &s2, cls[CLS].slabs_released), sprel = DELTA(&s1, &s2, box.sp_release);
    printf("release: %zu slabs emptied: slabs_released +%lld, sp_release +%lld, slots_empty %llu\n",
           released_expect, (long long)rel, (long long)sprel, (unsigned long long)s2.g.slots_empty);
    CHECK(rel >= (int64_t)released_expect,
          "%zu slabs were emptied and the thread flushed, but cls[%d].slabs_released grew by %lld",
          released_expect, CLS, (long long)rel);
    CHECK(sprel >= (int64_t)released_expect, "%zu slabs emptied, box.sp_release grew by %lld",
          released_expect, (long long)sprel);
    CHECK(s2.g.slots_empty >= released_expect, "gauge slots_empty = %llu with %zu slabs just released",
          (unsigned long long)s2.g.slots_empty, released_expect);

    /* ---- stage 1: the same number of blocks again ---- */
    size_t k = 0;
    for (size_t i = 0; i < N; i++) {
        if (v[i]) continue;
        v[i] = malloc(BS);
        CHECK(v[i], "malloc(%d) returned NULL", BS);
        tag_fill(v[i], BS, 1 + i);
        k++;
    }
    snap_take(&s3);
    printf("stage 1: %zu blocks again: stage1 +%lld, stage2 +%lld, stage3 +%lld, ss_map +%lld\n", k,
           (long long)DELTA(&s2, &s3, box.sp_stage1), (long long)DELTA(&s2, &s3, box.sp_stage2),
           (long long)DELTA(&s2, &s3, box.sp_stage3), (long long)DELTA(&s2, &s3, box.ss_map));
    CHECK(DELTA(&s2, &s3, box.sp_stage1) >= (int64_t)released_expect - 2,
          "%zu EMPTY slabs were available, but box.sp_stage1 grew by %lld",
          released_expect, (long long)DELTA(&s2, &s3, box.sp_stage1));
    CHECK(DELTA(&s2, &s3, box.ss_map) == 0 && DELTA(&s2, &s3, box.sp_stage3) == 0,
          "refilling %zu emptied slabs mapped %lld new SuperSlabs (stage3 +%lld): EMPTY slabs not reused",
          released_expect, (long long)DELTA(&s2, &s3, box.ss_map), (long long)DELTA(&s2, &s3, box.sp_stage3));
    /* Contents of the blocks that stayed live all along. */
    for (size_t i = 0; i < N; i++) CHECK_TAG(v[i], BS, 1 + i, "live block");

    /* ---- LRU push: free everything ---- */
    /* SuperSlabs that held nothing but our blocks: 32 full granules. */
    size_t ours = 0;
    for (size_t g0 = 0; g0 < gspan; g0++) {
        if (((g0 + gmin) & 31) != 0 || g0 + 32 > gspan) continue;
        size_t f = 0;
        for (size_t g = g0; g < g0 + 32; g++) if (gcount[g] == PER_SLAB) f++;
        if (f == 32) ours++;
    }
    for (size_t i = 0; i < N; i++) free(v[i]);
    hakmem_thread_flush();
    snap_take(&s4);
    int64_t pushed = DELTA(&s3, &s4, box.lru_push);
    printf("LRU: %zu SuperSlabs held only our blocks: lru_push +%lld, lru_evict +%lld, lru_count %llu\n", ours,
           (long long)pushed, (long long)DELTA(&s3, &s4, box.lru_evict), (unsigned long long)s4.g.lru_count);
    CHECK(ours >= 3, "our blocks filled only %zu whole SuperSlabs", ours);
    /* Every one of them is empty now; one may stay as the pool's current. */
    CHECK(pushed >= (int64_t)ours - 1, "%zu SuperSlabs became empty, box.lru_push grew by %lld",
          ours, (long long)pushed);
    /* The default bound (16 SuperSlabs, 64 MiB) holds them all. */
    CHECK(s4.g.lru_count >= ours - 1 && DELTA(&s3, &s4, box.lru_evict) == 0,
          "gauge lru_count = %llu, lru_evict +%lld after %lld pushes within the LRU bound",
          (unsigned long long)s4.g.lru_count, (long long)DELTA(&s3, &s4, box.lru_evict), (long long)pushed);
    uint64_t lru_before = s4.g.lru_count;

    /* ---- LRU pop before any new mapping ---- */
    snap prev = s4, cur;
    for (size_t i = 0; i < N; i += BATCH) {
        alloc_range(i, i + BATCH, 1000000);
        snap_take(&cur);
        int64_t mapped = DELTA(&prev, &cur, box.ss_map);
        CHECK(mapped == 0 || cur.g.lru_count == 0,
              "a new SuperSlab was mapped (ss_map +%lld) while %llu SuperSlabs sat in the LRU",
              (long long)mapped, (unsigned long long)cur.g.lru_count);
        prev = cur;
    }
    s5 = cur;
    int64_t popped = DELTA(&s4, &s5, box.lru_pop);
    printf("LRU: allocating again: lru_pop +%lld, ss_map +%lld (LRU held %llu)\n", (long long)popped,
           (long long)DELTA(&s4, &s5, box.ss_map), (unsigned long long)lru_before);
    int64_t want = lru_before < 3 ? (int64_t)lru_before : 3;
    CHECK(popped >= want, "the LRU held %llu SuperSlabs and %d slabs were needed, but box.lru_pop grew by %lld",
          (unsigned long long)lru_before, SLABS, (long long)popped);
    for (size_t i = 0; i < N; i++) { CHECK_TAG(v[i], BS, 1000000 + i, "block from a revived SuperSlab"); free(v[i]); }
    hakmem_thread_flush();
    printf("test_sharedpool: ok\n");
    return 0;
}
