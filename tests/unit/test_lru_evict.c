/* test_lru_evict.c - empty SuperSlabs beyond the LRU bound go back to the
 * OS, and malloc_trim empties the LRU: RSS really falls.
 *
 * 200 MiB of 64 B blocks (about 100 SuperSlabs), chained through the blocks
 * themselves (no side array to blur RSS), every block tagged.  Free all and
 * flush: the LRU keeps at most HAKMEM_LRU_MAX SuperSlabs / HAKMEM_LRU_MAX_BYTES
 * (defaults 16 / 64 MiB) and evicts the rest (box.lru_evict, ss_unmap),
 * so VmRSS drops by well over 100 MiB.  malloc_trim(0) then evicts the
 * rest: lru_count 0 and VmRSS back near where it started.
 */
#include "check.h"

enum { BS = 64 };
#define TOTAL (200 * MiB)

int main(void) {
    require_hakmem();
    CHECK(getenv("HAKMEM_LRU_MAX") == NULL && getenv("HAKMEM_LRU_MAX_BYTES") == NULL,
          "this test expects the default LRU bounds; unset HAKMEM_LRU_MAX and HAKMEM_LRU_MAX_BYTES");
    long rss0 = rss_kb();
    snap a, b, c;
    snap_take(&a);
    void *head = NULL;
    size_t n = TOTAL / BS;
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = malloc(BS);
        CHECK(p, "malloc(%d) #%zu returned NULL", BS, i);
        p[0] = (uint64_t)(uintptr_t)head;
        tag_fill(p + 1, BS - 8, i);
        head = p;
    }
    long rss1 = rss_kb();
    size_t i = n;
    while (head) {
        uint64_t *p = head;
        i--;
        CHECK_TAG(p + 1, BS - 8, i, "64 B block");
        head = (void *)(uintptr_t)p[0];
        free(p);
    }
    CHECK(i == 0, "the chain of blocks lost %zu links", i);
    hakmem_thread_flush();
    long rss2 = rss_kb();
    snap_take(&b);
    CHECK(malloc_trim(0) == 1, "malloc_trim(0) did not report that it released memory");
    long rss3 = rss_kb();
    snap_take(&c);
    printf("VmRSS: start %ld KiB, 200 MiB live %ld KiB, freed+flushed %ld KiB, malloc_trim %ld KiB\n",
           rss0, rss1, rss2, rss3);
    printf("lru_push +%lld, lru_evict +%lld (after trim +%lld), ss_unmap +%lld, lru_count %llu -> %llu\n",
           (long long)DELTA(&a, &b, box.lru_push), (long long)DELTA(&a, &b, box.lru_evict),
           (long long)DELTA(&a, &c, box.lru_evict), (long long)DELTA(&a, &c, box.ss_unmap),
           (unsigned long long)b.g.lru_count, (unsigned long long)c.g.lru_count);
    CHECK(rss1 - rss0 >= 190 * 1024, "200 MiB of blocks written but VmRSS grew by only %ld KiB", rss1 - rss0);
    CHECK(DELTA(&a, &b, box.lru_push) >= 90, "about 100 SuperSlabs became empty, box.lru_push grew by %lld",
          (long long)DELTA(&a, &b, box.lru_push));
    CHECK(DELTA(&a, &b, box.lru_evict) >= 70, "the LRU is bounded (16 SuperSlabs / 64 MiB) but box.lru_evict "
          "grew by only %lld", (long long)DELTA(&a, &b, box.lru_evict));
    CHECK(b.g.lru_count <= 16 && b.g.lru_bytes <= 64 * MiB, "LRU over its bounds: %llu SuperSlabs, %llu bytes",
          (unsigned long long)b.g.lru_count, (unsigned long long)b.g.lru_bytes);
    CHECK(rss2 <= rss0 + 64 * 1024 + 16 * 1024, "after freeing 200 MiB and flushing, VmRSS is %ld KiB "
          "(start %ld KiB): more than the LRU bound (64 MiB) is still resident", rss2, rss0);
    CHECK(c.g.lru_count == 0, "malloc_trim(0) left %llu SuperSlabs in the LRU", (unsigned long long)c.g.lru_count);
    CHECK(rss3 <= rss0 + 16 * 1024, "after malloc_trim(0) VmRSS is %ld KiB, start was %ld KiB", rss3, rss0);
    printf("test_lru_evict: ok\n");
    return 0;
}
