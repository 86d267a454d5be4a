/* tp_workload - drives every box of hakmem once, for the tracepoint tests
 * (tests/trace/).  Run it under hakmem (hakmem-trace -- tp_workload); it
 * refuses to run without libhakmem.so loaded.
 *
 * Phases, in order:
 *   counted   between two marker allocations (MARK_BEGIN / MARK_END
 *             bytes) the main thread makes exactly `counted_calls`
 *             malloc calls and nothing else allocates: prints the calls
 *             and hakmem's allocation counter delta over the same window
 *   hot       16 and 32 B churn (UltraHot hits and misses)
 *   grow      many 256 B blocks (SLL refills, SharedPool stage 2 and 3,
 *             new SuperSlabs), all freed + hakmem_thread_flush (drains,
 *             slab release, empty SuperSlabs to the LRU)
 *   reuse     the same again (stage 1 EMPTY reuse, SuperSlabs from the
 *             LRU), and another class
 *   remote    a thread's blocks freed by main, then that thread allocates
 *             again (remote push, remote drain)
 *   orphan    a thread exits holding blocks, main frees them (orphan,
 *             adopt)
 *   tiers     Mid, L2.5 and Large sizes; a Large block freed and
 *             allocated again (BigCache hit)
 *   api       calloc, realloc (grow, shrink, NULL, 0), posix_memalign,
 *             aligned_alloc, memalign
 *   locks     two threads hammer Large alloc/free (lock events), again
 *             until the stats segment counts a contended acquisition
 *   fork      a child allocates CHILD_MARK bytes and exits
 *   trim      malloc_trim(0): LRU eviction, SuperSlab unmap, BigCache
 *             release (large_unmap)
 * Output (stdout, one `key=value` per line): pid, mark_begin, mark_end,
 * counted_calls, counted_allocs, lock_contended_counter (-1: no stats
 * segment), child_pid, child_mark, done.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hakmem_stats.h"

#define MARK_BEGIN  987651u
#define MARK_END    987653u
#define CHILD_MARK  424243u
#define COUNTED     600
#define LOCK_ROUNDS 5000

static int (*stats_read)(hks_thread *, hks_global *);
static void (*thread_flush)(void);

static void die(const char *m)
{
    fprintf(stderr, "tp_workload: %s\n", m);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("malloc failed");
    memset(p, 0xa5, n < 64 ? n : 64);
    return p;
}

static uint64_t allocs_now(void)
{
    static hks_thread s;
    static hks_global g;
    if (stats_read(&s, &g) != 0) die("hakmem_stats_read failed");
    uint64_t a = 0;
    for (int c = 0; c < HKS_TINY_CLASSES; c++)
        a += s.cls[c].uh_hits + s.cls[c].sll_hits + s.cls[c].sll_misses;
    for (int t = 0; t < HKS_TIERS; t++) a += s.tier[t].allocs;
    return a;
}

static void phase_counted(void)
{
    static void *p[COUNTED];
    static const size_t sizes[] = { 16, 24, 32, 100, 700, 3000, 20000, 70000, 400000 };
    free(xmalloc(MARK_BEGIN));
    uint64_t a0 = allocs_now();
    for (int i = 0; i < COUNTED; i++) p[i] = xmalloc(sizes[i % 9]);
    for (int i = 0; i < COUNTED; i++) free(p[i]);
    uint64_t a1 = allocs_now();
    free(xmalloc(MARK_END));
    printf("counted_calls=%d\ncounted_allocs=%llu\n", COUNTED, (unsigned long long)(a1 - a0));
}

static void phase_hot(void)
{
    for (int i = 0; i < 20000; i++) {
        void *a = xmalloc(16), *b = xmalloc(32);
        free(b);
        free(a);
    }
    /* Deeper than the 4-slot magazine: misses. */
    void *v[64];
    for (int r = 0; r < 50; r++) {
        for (int i = 0; i < 64; i++) v[i] = xmalloc(i & 1 ? 16 : 32);
        for (int i = 0; i < 64; i++) free(v[i]);
    }
}

#define GROW 40000
static void *grow_v[GROW];

static void grow_release(size_t size)
{
    for (int i = 0; i < GROW; i++) grow_v[i] = xmalloc(size);
    for (int i = 0; i < GROW; i++) free(grow_v[i]);
    thread_flush();
}

struct xfer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int step;
    void *blocks[4000];
    int n;
};

static void wait_step(struct xfer *x, int s)
{
    pthread_mutex_lock(&x->mu);
    while (x->step < s) pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

static void set_step(struct xfer *x, int s)
{
    pthread_mutex_lock(&x->mu);
    x->step = s;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

/* Remote: allocate, let main free them, then allocate again (the owner
 * merges its remote stacks when it needs blocks of that class). */
static void *remote_owner(void *arg)
{
    struct xfer *x = arg;
    x->n = 4000;
    for (int i = 0; i < x->n; i++) x->blocks[i] = xmalloc(64);
    set_step(x, 1);
    wait_step(x, 2);
    void *again[8000];
    for (int i = 0; i < 8000; i++) again[i] = xmalloc(64);
    for (int i = 0; i < 8000; i++) free(again[i]);
    thread_flush();
    return NULL;
}

static void phase_remote(void)
{
    static struct xfer x = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0 };
    pthread_t t;
    if (pthread_create(&t, NULL, remote_owner, &x)) die("pthread_create");
    wait_step(&x, 1);
    for (int i = 0; i < x.n; i++) free(x.blocks[i]);
    set_step(&x, 2);
    pthread_join(t, NULL);
}

/* Orphan: the thread exits holding blocks; main frees them later. */
static void *orphan_owner(void *arg)
{
    struct xfer *x = arg;
    x->n = 3000;
    for (int i = 0; i < x->n; i++) x->blocks[i] = xmalloc(128);
    return NULL;
}

static void phase_orphan(void)
{
    static struct xfer x = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0 };
    pthread_t t;
    if (pthread_create(&t, NULL, orphan_owner, &x)) die("pthread_create");
    pthread_join(t, NULL);
    for (int i = 0; i < x.n; i++) free(x.blocks[i]);
    thread_flush();
}

static void phase_tiers(void)
{
    static const size_t sizes[] = { 2048, 4096, 9000, 30000, 40000, 100000, 600000 };
    void *v[7][40];
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < 40; i++) v[s][i] = xmalloc(sizes[s]);
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < 40; i++) free(v[s][i]);
    void *l = xmalloc(3u << 20);   /* BigCache miss, new span */
    free(l);
    l = xmalloc(3u << 20);         /* BigCache hit */
    free(l);
    l = xmalloc(9u << 20);
    free(l);
}

static void phase_api(void)
{
    int *c = calloc(100, sizeof *c);
    if (!c || c[99]) die("calloc");
    char *r = realloc(NULL, 10);
    if (!r) die("realloc(NULL)");
    r = realloc(r, 5000);          /* moves to Mid */
    if (!r) die("realloc grow");
    r = realloc(r, 4000);          /* shrinks in place */
    if (!r) die("realloc shrink");
    r = realloc(r, 0);             /* frees */
    void *a = NULL;
    if (posix_memalign(&a, 4096, 1000) || ((uintptr_t)a & 4095)) die("posix_memalign");
    void *b = aligned_alloc(256, 512);
    void *m = memalign(64, 100);
    if (!b || !m) die("aligned_alloc/memalign");
    free(a);
    free(b);
    free(m);
    free(c);
    free(r);
}

static pthread_barrier_t lock_start;

/* Large alloc/free takes the BigCache lock twice per round; two threads
 * started together on two CPUs collide on it now and then (lock_contended). */
static void *lock_hammer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&lock_start);
    for (int i = 0; i < LOCK_ROUNDS; i++) free(xmalloc((2u + (i & 1)) << 20));
    return NULL;
}

/* Contended acquisitions so far, from the stats segment's lock table
 * (trace/hakmem_stats.h); -1 when the process has no segment. */
static int64_t contended_now(void)
{
    static const char *base;
    if (!base) {
        /* The segment is the memfd "hakmem-stats" among our descriptors. */
        int fd = -1;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        while (d && fd < 0 && (de = readdir(d))) {
            char link[300], target[256];
            snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            if (!strncmp(target, "/memfd:" HKS_MEMFD_NAME, 7 + strlen(HKS_MEMFD_NAME)))
                fd = open(link, O_RDONLY);
        }
        if (d) closedir(d);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(hks_header)) {
            if (fd >= 0) close(fd);
            return -1;
        }
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) return -1;
        const hks_header *h = m;
        if (h->magic != HKS_MAGIC || h->abi_version != HKS_ABI_VERSION ||
            (uint64_t)h->locks_offset + (uint64_t)h->lock_count * h->lock_size > (uint64_t)st.st_size)
            die("unexpected stats segment layout");
        base = m;
    }
    const hks_header *h = (const hks_header *)base;
    int64_t sum = 0;
    for (uint32_t i = 0; i < h->lock_count; i++) {
        const hks_lock *l = (const hks_lock *)(base + h->locks_offset + (size_t)i * h->lock_size);
        if (__atomic_load_n(&l->in_use, __ATOMIC_ACQUIRE))
            sum += (int64_t)__atomic_load_n(&l->contended, __ATOMIC_RELAXED);
    }
    return sum;
}

static void hammer_once(void)
{
    pthread_t t[2];
    pthread_barrier_init(&lock_start, NULL, 2);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, lock_hammer, NULL)) die("pthread_create");
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&lock_start);
}

/* Collisions depend on scheduling: repeat (up to ~10 s) until the lock
 * counters show at least one contended acquisition. */
static void phase_locks(void)
{
    int64_t c0 = contended_now(), c = c0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        hammer_once();
        c = contended_now();
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while (c0 >= 0 && c == c0 && t1.tv_sec - t0.tv_sec < 10);
    printf("lock_contended_counter=%lld\n", (long long)(c0 >= 0 ? c - c0 : -1));
}

static void phase_fork(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        void *p = malloc(CHILD_MARK);
        void *q = malloc(40);
        free(q);
        free(p);
        _exit(p ? 0 : 1);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) die("child failed");
    printf("child_pid=%d\nchild_mark=%u\n", (int)pid, CHILD_MARK);
}

int main(void)
{
    stats_read = (int (*)(hks_thread *, hks_global *))dlsym(RTLD_DEFAULT, "hakmem_stats_read");
    thread_flush = (void (*)(void))dlsym(RTLD_DEFAULT, "hakmem_thread_flush");
    if (!stats_read || !thread_flush) die("hakmem is not loaded (run under LD_PRELOAD=libhakmem.so)");
    /* stdio allocates its buffer on first use: do that now. */
    printf("pid=%d\nmark_begin=%u\nmark_end=%u\n", (int)getpid(), MARK_BEGIN, MARK_END);
    fflush(stdout);
    phase_counted();
    phase_hot();
    grow_release(256);
    grow_release(256);
    grow_release(512);
    phase_remote();
    phase_orphan();
    phase_tiers();
    phase_api();
    phase_locks();
    phase_fork();
    malloc_trim(0);
    printf("done=1\n");
    return 0;
}
