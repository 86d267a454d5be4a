/* replay_workload - malloc workloads recorded by the hakmem-replay tests
 * (tests/replay/) and docs/howto-replay.md.  A plain program: run it under
 * any allocator, traced with hakmem-trace or LTTng's libc wrapper.
 *
 *   replay_workload churn [OPS [THREADS [small]]]
 *       every thread runs OPS operations (default 20000) drawn from a
 *       fixed-seed generator over 256 slots: malloc/calloc/realloc/
 *       memalign/posix_memalign/aligned_alloc/free with sizes across the
 *       tiers (mostly tiny); each thread hands some blocks to the next
 *       thread, which frees them (cross-thread frees); realloc(p, 0) and
 *       free(NULL) appear too; `small` keeps every size under 1 KiB (the
 *       replay speed benchmark).  With THREADS > 1 a bystander thread
 *       calls only free(NULL) (a thread whose recorded events are all
 *       dropped by convert).  Prints "ok ops=N threads=T pid=PID".
 *   replay_workload doublefree [NOISE]
 *       a worker thread allocates NOISE (default 200) blocks plus one
 *       24-byte block D, frees D and most of the noise, and exits; then
 *       the main thread (the second thread) frees D again and leaves with
 *       _exit(0) (so no allocator clean-up runs after the bug).  Prints
 *       "victim=0xADDR pid=PID" before the second free.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 256

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

static int small_only;

static size_t pick_size(uint64_t r)
{
    if (small_only) return (r >> 8) % 4 ? 8 + (r >> 12) % 120 : (r >> 12) % 1024;
    switch (r % 16) {
    case 0: return 0;
    case 1: case 2: case 3: case 4: case 5: case 6: return 1 + (r >> 8) % 64;
    case 7: case 8: case 9: return 64 + (r >> 8) % 960;
    case 10: case 11: return 1024 + (r >> 8) % 31744;       /* Mid */
    case 12: return 32768 + (r >> 8) % 100000;                /* L2.5 */
    case 13: return (r >> 8) % 4 == 0 ? (1u << 20) + (r >> 12) % 500000 : 200;  /* Large */
    default: return 16 + (r >> 8) % 16;
    }
}

/* Hand-off ring to the next thread (cross-thread frees). */
struct handoff {
    pthread_mutex_t mu;
    void *ring[64];
    unsigned n;
};

struct churn_arg {
    int id, nthreads;
    long ops;
    struct handoff *mine, *next;
};

static void give(struct handoff *h, void *p)
{
    pthread_mutex_lock(&h->mu);
    if (h->n < 64) { h->ring[h->n++] = p; p = NULL; }
    pthread_mutex_unlock(&h->mu);
    free(p);   /* full: free it ourselves */
}

static void drain(struct handoff *h)
{
    void *tmp[64];
    unsigned n;
    pthread_mutex_lock(&h->mu);
    n = h->n;
    memcpy(tmp, h->ring, n * sizeof *tmp);
    h->n = 0;
    pthread_mutex_unlock(&h->mu);
    for (unsigned i = 0; i < n; i++) free(tmp[i]);
}

static void *churn(void *argp)
{
    struct churn_arg *a = argp;
    uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(a->id + 1);
    void *slot[SLOTS] = { 0 };
    for (long i = 0; i < a->ops; i++) {
        uint64_t r = rng_next(&s);
        unsigned k = (unsigned)(r >> 40) % SLOTS;
        size_t sz = pick_size(r >> 3);   /* bytes we may write to the new block */
        void *p = slot[k];
        switch (r % 12) {
        case 0: case 1: case 2: case 3:
            free(p);
            p = malloc(sz);
            break;
        case 4:
            free(p);
            p = calloc(1 + sz % 7, sz / 8 + 1);
            sz = (1 + sz % 7) * (sz / 8 + 1);
            break;
        case 5: case 6:
            p = realloc(p, sz);            /* sz == 0 frees (glibc, hakmem) */
            break;
        case 7: {
            free(p);
            size_t al = (size_t)16 << ((r >> 20) % 6);
            if (r & 1) { if (posix_memalign(&p, al, sz)) p = NULL; }
            else if (r & 2) p = aligned_alloc(al, (sz + al - 1) / al * al);
            else p = memalign(al, sz);
            break;
        }
        case 8:
            if (p && a->nthreads > 1) give(a->next, p);
            else free(p);
            p = NULL;
            sz = 0;
            break;
        case 9:
            free(NULL);
            sz = 0;                        /* p unchanged: write nothing */
            break;
        default:
            free(p);
            p = NULL;
            break;
        }
        if (p && sz) memset(p, (int)k, sz < 64 ? sz : 64);
        slot[k] = p;
        if ((i & 255) == 0) drain(a->mine);
    }
    for (unsigned k = 0; k < SLOTS; k++) free(slot[k]);
    drain(a->mine);
    return NULL;
}

static void *bystander(void *unused)
{
    (void)unused;
    for (int i = 0; i < 3; i++) free(NULL);
    return NULL;
}

static int run_churn(long ops, int nthreads)
{
    if (nthreads < 1 || nthreads > 64 || ops < 1) {
        fprintf(stderr, "replay_workload: churn: bad OPS or THREADS\n");
        return 2;
    }
    struct handoff h[64];
    struct churn_arg a[64];
    pthread_t th[64];
    for (int i = 0; i < nthreads; i++) {
        pthread_mutex_init(&h[i].mu, NULL);
        h[i].n = 0;
    }
    for (int i = 0; i < nthreads; i++)
        a[i] = (struct churn_arg){ i, nthreads, ops, &h[i], &h[(i + 1) % nthreads] };
    pthread_t by;
    if (nthreads > 1) {
        pthread_create(&by, NULL, bystander, NULL);
        pthread_join(by, NULL);
    }
    for (int i = 1; i < nthreads; i++) pthread_create(&th[i], NULL, churn, &a[i]);
    churn(&a[0]);
    for (int i = 1; i < nthreads; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < nthreads; i++) drain(&h[i]);
    printf("ok ops=%ld threads=%d pid=%ld\n", ops, nthreads, (long)getpid());
    return 0;
}

/* ---- doublefree ------------------------------------------------------ */

static void *volatile victim;
static long noise_n;

static void *df_worker(void *unused)
{
    (void)unused;
    void **noise = malloc((size_t)noise_n * sizeof *noise);
    for (long i = 0; i < noise_n; i++) noise[i] = malloc(16 + (size_t)(i % 200));
    victim = malloc(24);
    memset(victim, 1, 24);
    for (long i = 0; i < noise_n; i += 2) free(noise[i]);
    free(victim);                         /* the first free */
    for (long i = 1; i < noise_n; i += 4) free(noise[i]);
    free(noise);
    return NULL;
}

static int run_doublefree(long noise)
{
    noise_n = noise;
    void *mine[32];
    for (int i = 0; i < 32; i++) mine[i] = malloc(48 + (size_t)i);
    pthread_t t;
    pthread_create(&t, NULL, df_worker, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < 32; i += 3) free(mine[i]);
    printf("victim=%p pid=%ld\n", victim, (long)getpid());
    fflush(stdout);
    free(victim);                         /* the bug: a second free, another thread */
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "churn")) {
        small_only = argc > 4 && !strcmp(argv[4], "small");
        return run_churn(argc > 2 ? atol(argv[2]) : 20000, argc > 3 ? atoi(argv[3]) : 1);
    }
    if (argc >= 2 && !strcmp(argv[1], "doublefree"))
        return run_doublefree(argc > 2 ? atol(argv[2]) : 200);
    fprintf(stderr, "usage: replay_workload churn [OPS [THREADS [small]]] | doublefree [NOISE]\n");
    return 2;
}
