/* test_fault_threads.c - threads that die in the middle, and fork while
 * other threads hold allocator locks.
 *
 *  cancel:  rounds of 4 threads that allocate blocks of every tier, swap
 *           them through a shared slot table (so most frees are of blocks
 *           another thread allocated) and pass cancellation points; the
 *           main thread cancels them at random moments (deferred
 *           cancellation: the points are in the program, never inside
 *           malloc).  Every block in the table keeps its contents, the
 *           heap keeps working, thread count returns to 1, and memory does
 *           not grow round after round.
 *  exit:    producers allocate blocks of every tier and exit at once while
 *           consumers are still freeing them (frees into the slabs and
 *           pools of a thread that is exiting or gone); contents checked,
 *           memory reused across rounds.
 *  fork:    two threads hammer malloc/free over every tier (taking the
 *           SharedPool, arena, pool and bigcache locks) while the main
 *           thread and a third thread fork 150 times; each child allocates
 *           in every tier, checks the blocks, starts a thread and exits 0
 *           within a 10 s alarm (a lock left held across fork would hang
 *           it).
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static const size_t sizes[] = { 16, 48, 200, 1000, 3000, 20000, 100000, 700000, 3 * MiB };
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* A block with its tag in the first word and the tag's pattern over its
 * first 256 bytes. */
static void *tagged(uint64_t tag, size_t n) {
    uint64_t *p = malloc(n);
    CHECK(p, "malloc(%zu) failed", n);
    p[0] = tag;
    p[1] = n;
    if (n > 16) tag_fill(p + 2, (n < 256 ? n : 256) - 16, tag);
    return p;
}

static void check_tagged(const void *q, const char *what) {
    const uint64_t *p = q;
    size_t n = p[1];
    CHECK(n >= 16 && n <= 3 * MiB, "%s: block %p has a bad size word %zu", what, q, n);
    if (n > 16) CHECK_TAG(p + 2, (n < 256 ? n : 256) - 16, p[0], what);
}

/* ---- cancel --------------------------------------------------------- */

#define SLOTS 512
static _Atomic(void *) slot[SLOTS];

static void *cancel_worker(void *arg) {
    uint64_t r = (uintptr_t)arg * 7919 + 1;
    for (uint64_t i = 0;; i++) {
        uint64_t x = rng_next(&r);
        void *b = tagged(x, sizes[x % NSIZES]);
        void *old = atomic_exchange(&slot[(x >> 8) % SLOTS], b);
        if (old) { check_tagged(old, "cancel: swapped block"); free(old); }
        if ((i & 15) == 0) pthread_testcancel();
        if ((i & 255) == 0) { struct timespec ts = { 0, 1000 }; nanosleep(&ts, NULL); }
    }
    return NULL;
}

static void cancel_part(void) {
    uint64_t r = 42;
    long rss_mid = 0;
    for (int round = 0; round < 30; round++) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            CHECK(pthread_create(&t[i], NULL, cancel_worker, (void *)(uintptr_t)(round * 4 + i + 1)) == 0, "create");
        struct timespec ts = { 0, (long)(1000000 + rng_next(&r) % 4000000) };
        nanosleep(&ts, NULL);
        for (int i = 0; i < 4; i++) {
            CHECK(pthread_cancel(t[i]) == 0, "pthread_cancel");
            void *res;
            CHECK(pthread_join(t[i], &res) == 0 && res == PTHREAD_CANCELED, "join of a cancelled thread");
        }
        for (int s = 0; s < SLOTS; s++) {
            void *b = atomic_load(&slot[s]);
            if (b) check_tagged(b, "cancel: block left by cancelled threads");
        }
        if (round == 10) rss_mid = rss_kb();
    }
    long rss_end = rss_kb();
    for (int s = 0; s < SLOTS; s++) free(atomic_exchange(&slot[s], NULL));
    snap sn;
    snap_take(&sn);
    CHECK(sn.g.threads_live == 1, "%llu threads live after cancelling all", (unsigned long long)sn.g.threads_live);
    CHECK(rss_end < rss_mid * 2 + 8192, "RSS grew from %ld KiB (round 10) to %ld KiB (round 30)", rss_mid, rss_end);
    printf("cancel: 120 threads cancelled mid-run; RSS %ld KiB at round 10, %ld KiB at round 30\n", rss_mid, rss_end);
}

/* ---- exit while others free ------------------------------------------ */

#define PER_PRODUCER 600
typedef struct handoff { void *b[PER_PRODUCER]; _Atomic int n; } handoff;
static handoff hand[2];

static void *producer(void *arg) {
    handoff *h = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        h->b[i] = tagged((uint64_t)(uintptr_t)h ^ (uint64_t)i, sizes[i % (NSIZES - 1)]);
        atomic_store_explicit(&h->n, i + 1, memory_order_release);
    }
    return NULL;   /* exits while the consumer may still be freeing */
}

static void *consumer(void *arg) {
    handoff *h = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        while (atomic_load_explicit(&h->n, memory_order_acquire) <= i) sched_yield();
        check_tagged(h->b[i], "exit: handed-off block");
        free(h->b[i]);
    }
    return NULL;
}

static void exit_part(void) {
    long rss10 = 0;
    for (int round = 0; round < 60; round++) {
        pthread_t p[2], c[2];
        for (int i = 0; i < 2; i++) {
            atomic_store(&hand[i].n, 0);
            CHECK(pthread_create(&c[i], NULL, consumer, &hand[i]) == 0, "create");
            CHECK(pthread_create(&p[i], NULL, producer, &hand[i]) == 0, "create");
        }
        for (int i = 0; i < 2; i++) { pthread_join(p[i], NULL); pthread_join(c[i], NULL); }
        if (round == 10) rss10 = rss_kb();
    }
    long rss = rss_kb();
    CHECK(rss < rss10 * 2 + 8192, "RSS grew from %ld KiB (round 10) to %ld KiB (round 60)", rss10, rss);
    printf("exit: 240 threads exited while others freed their blocks; RSS %ld -> %ld KiB\n", rss10, rss);
}

/* ---- fork storm --------------------------------------------------------- */

static volatile int hammer_stop;

static void *hammer(void *arg) {
    uint64_t r = (uintptr_t)arg;
    void *keep[64] = { 0 };
    while (!hammer_stop) {
        uint64_t x = rng_next(&r);
        unsigned k = x % 64;
        if (keep[k]) { check_tagged(keep[k], "fork: hammer block"); free(keep[k]); }
        keep[k] = tagged(x, sizes[(x >> 8) % NSIZES]);
        if ((x & 1023) == 0) malloc_trim(0);
    }
    for (int k = 0; k < 64; k++) free(keep[k]);
    return NULL;
}

static void *child_thread(void *arg) {
    void *b = tagged(7, 5000);
    check_tagged(b, "fork child thread");
    free(b);
    return arg;
}

static int forks_done;

static void fork_some(int n) {
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(10);
            void *b[NSIZES];
            for (size_t k = 0; k < NSIZES; k++) b[k] = tagged(k + 100, sizes[k]);
            pthread_t t;
            if (pthread_create(&t, NULL, child_thread, NULL) != 0) _exit(3);
            pthread_join(t, NULL);
            for (size_t k = 0; k < NSIZES; k++) { check_tagged(b[k], "fork child"); free(b[k]); }
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child %d: %s %d (SIGALRM = 14: hung on a lock)", i,
              WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        __atomic_add_fetch(&forks_done, 1, __ATOMIC_RELAXED);
    }
}

static void *forker(void *arg) { fork_some((int)(uintptr_t)arg); return NULL; }

static void fork_part(void) {
    pthread_t h[2], f;
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&h[i], NULL, hammer, (void *)(uintptr_t)(i + 3)) == 0, "create");
    CHECK(pthread_create(&f, NULL, forker, (void *)(uintptr_t)50) == 0, "create");
    fork_some(100);
    pthread_join(f, NULL);
    hammer_stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(h[i], NULL);
    printf("fork: %d forks (from the main thread and another) while 2 threads hammered every tier\n", forks_done);
    CHECK(forks_done == 150, "forks_done %d", forks_done);
}

int main(void) {
    require_hakmem();
    cancel_part();
    exit_part();
    fork_part();
    printf("test_fault_threads: ok\n");
    return 0;
}
