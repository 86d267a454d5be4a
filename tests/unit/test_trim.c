/* test_trim.c - malloc_trim really gives memory back, in every tier.
 *
 * For each tier (Tiny 256 B, Mid 4 KiB, L2.5 100 KiB, Large 5 MiB): write
 * 128 MiB of blocks, free them all, call malloc_trim(0): VmRSS must come
 * back to within 16 MiB of where it was before (glibc does this; mimalloc
 * and tcmalloc keep everything, which users notice).
 */
#include "check.h"

#define TOTAL (128 * MiB)

static void tier(const char *name, size_t bs) {
    size_t n = TOTAL / bs;
    void **v = mmap(NULL, n * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(v != MAP_FAILED, "mmap");
    long rss0 = rss_kb();
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(bs);
        CHECK(v[i], "%s: malloc(%zu) returned NULL", name, bs);
        tag_fill(v[i], bs, i);
    }
    long rss1 = rss_kb();
    for (size_t i = 0; i < n; i++) { CHECK_TAG(v[i], bs, i, name); free(v[i]); }
    long rss2 = rss_kb();
    int r = malloc_trim(0);
    long rss3 = rss_kb();
    printf("%-6s %7zu B x %6zu: VmRSS before %ld KiB, live %ld, freed %ld, malloc_trim(0) = %d -> %ld KiB\n",
           name, bs, n, rss0, rss1, rss2, r, rss3);
    CHECK(rss1 - rss0 >= 120 * 1024, "%s: 128 MiB written, VmRSS grew by only %ld KiB", name, rss1 - rss0);
    CHECK(rss3 <= rss0 + 16 * 1024, "%s: after freeing 128 MiB of %zu B blocks and malloc_trim(0), VmRSS is "
          "%ld KiB, it was %ld KiB before the allocations", name, bs, rss3, rss0);
    CHECK(r == 1 || rss2 <= rss0 + 16 * 1024, "%s: malloc_trim(0) returned %d although it released %ld KiB",
          name, r, rss2 - rss3);
    munmap(v, n * sizeof(void *));
}

int main(void) {
    require_hakmem();
    tier("Tiny", 256);
    tier("Mid", 4096);
    tier("L2.5", 100 * 1024);
    tier("Large", 5 * MiB);
    printf("test_trim: ok\n");
    return 0;
}
