/* test_remote.c - frees from another thread reach the owner and are
 * drained by it.
 *
 * Thread A (the owner, alive throughout) allocates tagged blocks of each
 * tier; thread B checks and frees all of them, then flushes its caches.
 * Counters: B's frees are remote (cls[3].remote_sent, tier[].remote_sent
 * for Mid and L2.5).  Then A allocates as many blocks again: it must take
 * back the remotely freed blocks (cls[3].remote_recv, tier[].remote_recv)
 * instead of mapping new memory (box.ss_map does not grow for the tiny
 * blocks).
 */
#include "check.h"

#include <pthread.h>

enum { NT = 20 * 1024, NM = 2000, NL = 300 };
static const size_t TINY = 64, MID = 4096, L25 = 64 * 1024;

static void **vt, **vm, **vl;
static pthread_barrier_t bar;

static void alloc_all(uint64_t tag) {
    for (size_t i = 0; i < NT; i++) { vt[i] = malloc(TINY); CHECK(vt[i], "malloc(%zu)", TINY); tag_fill(vt[i], TINY, tag + i); }
    for (size_t i = 0; i < NM; i++) { vm[i] = malloc(MID); CHECK(vm[i], "malloc(%zu)", MID); tag_fill(vm[i], MID, tag + i); }
    for (size_t i = 0; i < NL; i++) { vl[i] = malloc(L25); CHECK(vl[i], "malloc(%zu)", L25); tag_fill(vl[i], L25, tag + i); }
}

static void free_all(uint64_t tag, const char *who) {
    for (size_t i = 0; i < NT; i++) { CHECK_TAG(vt[i], TINY, tag + i, who); free(vt[i]); }
    for (size_t i = 0; i < NM; i++) { CHECK_TAG(vm[i], MID, tag + i, who); free(vm[i]); }
    for (size_t i = 0; i < NL; i++) { CHECK_TAG(vl[i], L25, tag + i, who); free(vl[i]); }
}

static snap s0, s1, s2;

static void *owner(void *arg) {
    (void)arg;
    snap_take(&s0);
    alloc_all(1);
    pthread_barrier_wait(&bar);   /* B frees them */
    pthread_barrier_wait(&bar);
    snap_take(&s1);
    alloc_all(100000);            /* must reuse what B gave back */
    snap_take(&s2);
    free_all(100000, "owner's own block");
    hakmem_thread_flush();
    return NULL;
}

static void *freer(void *arg) {
    (void)arg;
    pthread_barrier_wait(&bar);
    free_all(1, "block freed by another thread");
    hakmem_thread_flush();
    pthread_barrier_wait(&bar);
    return NULL;
}

int main(void) {
    require_hakmem();
    vt = mmap(NULL, (NT + NM + NL) * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(vt != MAP_FAILED, "mmap");
    vm = vt + NT; vl = vm + NM;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, owner, NULL) == 0, "pthread_create");
    CHECK(pthread_create(&b, NULL, freer, NULL) == 0, "pthread_create");
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    const hks_tier *m0 = &s0.t.tier[HKS_TIER_MID], *m1 = &s1.t.tier[HKS_TIER_MID], *m2 = &s2.t.tier[HKS_TIER_MID];
    const hks_tier *l0 = &s0.t.tier[HKS_TIER_L25], *l1 = &s1.t.tier[HKS_TIER_L25], *l2 = &s2.t.tier[HKS_TIER_L25];
    printf("tiny: remote_sent +%lld, remote_recv +%lld (after reallocation), ss_map on reallocation +%lld\n",
           (long long)DELTA(&s0, &s1, cls[3].remote_sent), (long long)DELTA(&s1, &s2, cls[3].remote_recv),
           (long long)DELTA(&s1, &s2, box.ss_map));
    printf("mid:  remote_sent +%llu, remote_recv +%llu; l2.5: remote_sent +%llu, remote_recv +%llu\n",
           (unsigned long long)(m1->remote_sent - m0->remote_sent), (unsigned long long)(m2->remote_recv - m0->remote_recv),
           (unsigned long long)(l1->remote_sent - l0->remote_sent), (unsigned long long)(l2->remote_recv - l0->remote_recv));
    CHECK(DELTA(&s0, &s1, cls[3].remote_sent) >= NT,
          "B freed %d of A's 64 B blocks and flushed, but cls[3].remote_sent grew by %lld",
          NT, (long long)DELTA(&s0, &s1, cls[3].remote_sent));
    CHECK(DELTA(&s0, &s2, cls[3].remote_recv) >= NT / 2,
          "A allocated %d blocks of 64 B again after B freed %d, but cls[3].remote_recv grew by only %lld",
          NT, NT, (long long)DELTA(&s0, &s2, cls[3].remote_recv));
    CHECK(DELTA(&s1, &s2, box.ss_map) == 0, "A mapped %lld new SuperSlabs instead of reusing %d remotely freed blocks",
          (long long)DELTA(&s1, &s2, box.ss_map), NT);
    CHECK(m1->remote_sent - m0->remote_sent >= NM, "B freed %d Mid blocks of A, tier[MID].remote_sent grew by %llu",
          NM, (unsigned long long)(m1->remote_sent - m0->remote_sent));
    CHECK(m2->remote_recv - m0->remote_recv >= NM / 2,
          "A allocated %d Mid blocks again, tier[MID].remote_recv grew by only %llu",
          NM, (unsigned long long)(m2->remote_recv - m0->remote_recv));
    CHECK(l1->remote_sent - l0->remote_sent >= NL, "B freed %d L2.5 blocks of A, tier[L25].remote_sent grew by %llu",
          NL, (unsigned long long)(l1->remote_sent - l0->remote_sent));
    CHECK(l2->remote_recv - l0->remote_recv >= NL / 2,
          "A allocated %d L2.5 blocks again, tier[L25].remote_recv grew by only %llu",
          NL, (unsigned long long)(l2->remote_recv - l0->remote_recv));
    printf("test_remote: ok\n");
    return 0;
}
