/* test_ultrahot.c - the UltraHot magazine and the TLS SLL, seen through the
 * counters.
 *
 * By default no class has a magazine: a churn of 16, 32 and 64 B blocks is
 * served by the SLL (sll_hits grows, uh_hits does not).  The test then
 * re-executes itself with HAKMEM_ULTRAHOT_MASK=0x06: a churn of 16 and 32 B
 * blocks (C1, C2) is served by the magazine (cls[1].uh_hits and
 * cls[2].uh_hits grow by about one per malloc), one of 64 B blocks (C3, not
 * in the mask) by the SLL.
 * Every malloc is counted once: allocs = uh_hits + sll_hits + sll_misses,
 * every free once in cls[].frees.
 */
#include "check.h"

enum { N = 200000 };

static uint64_t allocs(const snap *a, const snap *b, int c) {
    return (uint64_t)(DELTA(a, b, cls[c].uh_hits) + DELTA(a, b, cls[c].sll_hits) + DELTA(a, b, cls[c].sll_misses));
}

static void churn(size_t size, int c, int ultrahot) {
    snap a, b;
    /* Warm up, so that a first refill does not count. */
    for (int i = 0; i < 100; i++) free(hide(malloc(opaque(size))));
    snap_take(&a);
    for (int i = 0; i < N; i++) {
        void *p = hide(malloc(opaque(size)));
        CHECK(p, "malloc(%zu) returned NULL", size);
        *(volatile char *)p = (char)i;
        free(p);
    }
    snap_take(&b);
    uint64_t n = allocs(&a, &b, c);
    CHECK(n >= N && n <= N + 64, "%d mallocs of %zu B counted as %llu (uh_hits + sll_hits + sll_misses of C%d)",
          N, size, (unsigned long long)n, c);
    int64_t frees = DELTA(&a, &b, cls[c].frees);
    CHECK(frees >= N && frees <= N + 64, "%d frees of %zu B counted as %lld in cls[%d].frees",
          N, size, (long long)frees, c);
    int64_t uh = DELTA(&a, &b, cls[c].uh_hits), sll = DELTA(&a, &b, cls[c].sll_hits);
    printf("C%d (%zu B): %d malloc/free pairs: uh_hits +%lld, sll_hits +%lld, sll_misses +%lld\n", c, size, N,
           (long long)uh, (long long)sll, (long long)DELTA(&a, &b, cls[c].sll_misses));
    if (ultrahot) {
        CHECK(uh >= N * 95 / 100, "C%d (%zu B) churn: only %lld of %d mallocs were UltraHot hits (cls[%d].uh_hits)",
              c, size, (long long)uh, N, c);
    } else {
        CHECK(uh == 0, "C%d (%zu B) has no magazine by default, but cls[%d].uh_hits grew by %lld", c, size, c, (long long)uh);
        CHECK(sll >= N * 95 / 100, "C%d (%zu B) churn: only %lld of %d mallocs were SLL hits (cls[%d].sll_hits)",
              c, size, (long long)sll, N, c);
    }
}

/* Magazine of 4: a burst of 4 frees then 4 mallocs is all hits; the 5th
 * block of a burst goes through the SLL. */
static void burst(void) {
    snap a, b;
    void *p[8];
    for (int i = 0; i < 8; i++) p[i] = malloc(16);
    for (int i = 0; i < 8; i++) free(p[i]);
    for (int i = 0; i < 8; i++) p[i] = malloc(16);
    snap_take(&a);
    for (int r = 0; r < 1000; r++) {
        for (int i = 0; i < 8; i++) free(p[i]);
        for (int i = 0; i < 8; i++) { p[i] = malloc(16); CHECK(p[i], "malloc(16)"); }
    }
    snap_take(&b);
    int64_t uh = DELTA(&a, &b, cls[1].uh_hits), sll = DELTA(&a, &b, cls[1].sll_hits);
    CHECK(uh >= 4000 && uh <= 4000 + 8, "bursts of 8 (magazine of 4): uh_hits +%lld, expected 4000", (long long)uh);
    CHECK(sll >= 4000 - 8, "bursts of 8: sll_hits +%lld, expected about 4000", (long long)sll);
    for (int i = 0; i < 8; i++) free(p[i]);
}

int main(int argc, char **argv) {
    (void)argc;
    require_hakmem();
    const char *mask = getenv("HAKMEM_ULTRAHOT_MASK");
    if (!mask) {                      /* the default: no magazine */
        churn(16, 1, 0);
        churn(32, 2, 0);
        churn(64, 3, 0);
        printf("default mask: every class served by the SLL\n");
        fflush(stdout);
        setenv("HAKMEM_ULTRAHOT_MASK", "0x06", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "cannot re-execute /proc/self/exe: %s", strerror(errno));
    }
    CHECK(strcmp(mask, "0x06") == 0, "run this test without HAKMEM_ULTRAHOT_MASK (it sets 0x06 itself)");
    printf("HAKMEM_ULTRAHOT_MASK=0x06:\n");
    churn(16, 1, 1);
    churn(32, 2, 1);
    churn(64, 3, 0);
    churn(1000, 7, 0);
    burst();
    printf("test_ultrahot: ok\n");
    return 0;
}
