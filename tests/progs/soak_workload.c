/* soak_workload - a long-running, self-checking allocation load for the
 * soak test (tests/soak.sh, tests/soak/soak_smoke.sh), run under
 * LD_PRELOAD=libhakmem.so.
 *
 *   soak_workload SECONDS [THREADS] [SEED]
 *
 * THREADS workers (default 4) each own a table of slots; every operation
 * picks a slot: an empty slot gets a block from malloc, calloc (checked
 * zero), realloc of NULL, posix_memalign or aligned_alloc (checked
 * aligned), with sizes across every tier (Tiny, Mid, L2.5, Large); a full
 * slot is checked and then freed, grown or shrunk with realloc (the kept
 * prefix is checked), or handed to another worker through a shared ring,
 * which checks and frees it (a remote free).  Every block carries a
 * pattern derived from its id in its first and last 64 bytes and at every
 * 4 KiB in between, so a block handed out twice, overlapping another one
 * or written after free shows up as corruption.  Besides, the main thread
 * starts a short-lived thread every 200 ms that allocates blocks, hands
 * them to the workers and exits (orphaned slabs adopted by the freeing
 * threads), and forks a child every 5 s that allocates and frees in a new
 * thread, checks its blocks and exits 0.
 * The live set is bounded by construction (slots x sizes), so a growing
 * RSS means the allocator keeps memory it should reuse.
 *
 * Output: "ready" once the workers run, one line per 5 s
 * ("t=SECONDS ops=N live=N live_bytes=N remote=N forks=N"), then "ok ..."
 * and exit 0.  A corruption or a failed allocation prints one line on
 * stderr starting with "soak_workload:" and exits 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SLOTS = 1024, RING = 4096, MAX_THREADS = 16, MARK = 64, STRIDE = 4096 };

typedef struct block {
    unsigned char *p;
    size_t size;
    uint64_t id;
} block;

static int nthreads = 4;
static double seconds;
static _Atomic int stop;
static _Atomic uint64_t total_ops, remote_frees, next_id = 1;
static _Atomic int64_t live_blocks, live_bytes;

/* Hand-off ring (mutex: the point is the allocator, not the queue). */
static struct {
    pthread_mutex_t mu;
    block b[RING];
    unsigned head, tail;
} ring = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void die(const char *what, const block *b) {
    fprintf(stderr, "soak_workload: %s (block id %llu, %zu bytes at %p)\n", what,
            b ? (unsigned long long)b->id : 0ull, b ? b->size : (size_t)0, b ? (void *)b->p : NULL);
    fflush(stderr);
    _exit(1);
}

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

static unsigned char pat(uint64_t id, size_t off) {
    return (unsigned char)(id * 0x9e3779b97f4a7c15ull >> 56 ^ off ^ off >> 8);
}

/* The pattern on [from, to) of the block's marked bytes. */
static void mark(const block *b, size_t from, size_t to) {
    for (size_t o = from; o < to; o++) {
        if (o >= MARK && o + MARK < b->size && o % STRIDE) {
            /* skip to the next marked byte */
            size_t next = (o / STRIDE + 1) * STRIDE;
            size_t tail = b->size - MARK;
            o = (next < tail ? next : tail) - 1;
            continue;
        }
        b->p[o] = pat(b->id, o);
    }
}

static void check(const block *b, size_t upto, const char *when) {
    for (size_t o = 0; o < upto; o++) {
        if (o >= MARK && o + MARK < b->size && o % STRIDE) {
            size_t next = (o / STRIDE + 1) * STRIDE;
            size_t tail = b->size - MARK;
            o = (next < tail ? next : tail) - 1;
            continue;
        }
        if (b->p[o] != pat(b->id, o)) {
            char msg[128];
            snprintf(msg, sizeof msg, "corruption %s: byte %zu is %#x, expected %#x", when, o,
                     b->p[o], pat(b->id, o));
            die(msg, b);
        }
    }
}

static size_t pick_size(uint64_t *s) {
    uint64_t r = rnd(s), pct = r % 1000;
    r >>= 10;
    if (pct < 700) return 1 + r % 1024;                 /* Tiny        */
    if (pct < 930) return 1025 + r % (31 * 1024);       /* Mid         */
    if (pct < 995) return 32769 + r % (992 * 1024);     /* L2.5        */
    return (1u << 20) + 1 + r % (3u << 20);             /* Large       */
}

static void account(const block *b, int sign) {
    atomic_fetch_add(&live_blocks, sign);
    atomic_fetch_add(&live_bytes, sign * (int64_t)b->size);
}

static void new_block(block *b, uint64_t *s) {
    size_t n = pick_size(s);
    unsigned how = (unsigned)(rnd(s) % 8);
    void *p = NULL;
    size_t align = 0;
    if (how == 0) {
        size_t k = 1 + rnd(s) % 8;
        p = calloc(k, (n + k - 1) / k);
        n = k * ((n + k - 1) / k);
        if (p)
            for (size_t o = 0; o < n; o += (o < MARK || o + MARK >= n) ? 1 : STRIDE)
                if (((unsigned char *)p)[o]) die("calloc returned a block that is not zeroed", NULL);
    } else if (how == 1) {
        p = realloc(NULL, n);
    } else if (how == 2) {
        align = (size_t)16 << (rnd(s) % 9);   /* 16 .. 4096 */
        int rc = posix_memalign(&p, align, n);
        if (rc) { errno = rc; p = NULL; }
    } else if (how == 3) {
        align = (size_t)64 << (rnd(s) % 7);   /* 64 .. 4096 */
        n = (n + align - 1) / align * align;
        p = aligned_alloc(align, n);
    } else {
        p = malloc(n);
    }
    if (!p) {
        fprintf(stderr, "soak_workload: allocation of %zu bytes failed: %s\n", n, strerror(errno));
        _exit(1);
    }
    if (align && (uintptr_t)p % align) die("misaligned block", NULL);
    if ((uintptr_t)p % 16 && n > 8) die("block not 16-byte aligned", NULL);
    b->p = p;
    b->size = n;
    b->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    mark(b, 0, n);
    account(b, 1);
}

static void free_block(block *b, const char *when) {
    check(b, b->size, when);
    account(b, -1);
    free(b->p);
    b->p = NULL;
}

static void resize(block *b, uint64_t *s) {
    check(b, b->size, "before realloc");
    size_t n = pick_size(s);
    unsigned char *q = realloc(b->p, n);
    if (!q) die("realloc failed", b);
    /* the kept prefix, checked with the old block's geometry */
    block ob = { q, b->size, b->id };
    check(&ob, n < b->size ? n : b->size, "after realloc (kept prefix)");
    account(b, -1);
    block nb = { q, n, b->id };
    /* the whole block gets a fresh pattern under a new id */
    nb.id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    mark(&nb, 0, n);
    account(&nb, 1);
    *b = nb;
}

static int ring_put(const block *b) {
    pthread_mutex_lock(&ring.mu);
    int ok = ring.head - ring.tail < RING;
    if (ok) ring.b[ring.head++ % RING] = *b;
    pthread_mutex_unlock(&ring.mu);
    return ok;
}

static int ring_get(block *b) {
    pthread_mutex_lock(&ring.mu);
    int ok = ring.head != ring.tail;
    if (ok) *b = ring.b[ring.tail++ % RING];
    pthread_mutex_unlock(&ring.mu);
    return ok;
}

static void *worker(void *arg) {
    uint64_t s = 0x1234567ull + (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull;
    block *slot = calloc(SLOTS, sizeof *slot);
    if (!slot) die("cannot allocate the slot table", NULL);
    uint64_t ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 256; k++) {
            block *b = &slot[rnd(&s) % SLOTS];
            if (!b->p) {
                new_block(b, &s);
            } else {
                unsigned what = (unsigned)(rnd(&s) % 10);
                if (what < 6) free_block(b, "before free");
                else if (what < 8) resize(b, &s);
                else if (ring_put(b)) b->p = NULL;
                else free_block(b, "before free");
            }
            block r;
            if ((k & 3) == 0 && ring_get(&r)) {
                free_block(&r, "before a remote free");
                atomic_fetch_add_explicit(&remote_frees, 1, memory_order_relaxed);
            }
        }
        ops += 256;
        if ((ops & 4095) == 0) {
            atomic_fetch_add_explicit(&total_ops, 4096, memory_order_relaxed);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i].p) free_block(&slot[i], "at exit");
    free(slot);
    return NULL;
}

/* A thread that lives briefly and leaves its blocks to the workers. */
static void *visitor(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1dull + 1;
    for (int i = 0; i < 200; i++) {
        block b;
        new_block(&b, &s);
        if (!ring_put(&b)) free_block(&b, "before free");
    }
    return NULL;
}

static int fork_child(uint64_t seed) {
    /* The ring's lock is held across fork so the child gets it unlocked;
     * the allocator's own locks are hakmem's business (its atfork). */
    pthread_mutex_lock(&ring.mu);
    pid_t pid = fork();
    pthread_mutex_unlock(&ring.mu);
    if (pid < 0) return -1;
    if (pid == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, visitor, (void *)(uintptr_t)seed) != 0) _exit(3);
        pthread_join(t, NULL);
        uint64_t s = seed | 1;
        block b[64];
        for (int i = 0; i < 64; i++) new_block(&b[i], &s);
        for (int i = 0; i < 64; i++) free_block(&b[i], "in a fork child");
        block r;
        while (ring_get(&r)) free_block(&r, "in a fork child (inherited)");
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4 || (seconds = atof(argv[1])) <= 0) {
        fprintf(stderr, "usage: soak_workload SECONDS [THREADS] [SEED]\n");
        return 2;
    }
    if (argc > 2) nthreads = atoi(argv[2]);
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
    if (nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "soak_workload: THREADS must be 1..%d\n", MAX_THREADS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t w[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(seed * 131 + (uint64_t)i)) != 0)
            die("cannot start a worker", NULL);
    printf("ready\n");
    double t0 = now(), last = t0, last_fork = t0;
    uint64_t visitors = 0, forks = 0;
    while (now() - t0 < seconds) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        pthread_t v;
        if (pthread_create(&v, NULL, visitor, (void *)(uintptr_t)(seed + ++visitors)) != 0)
            die("cannot start a visitor thread", NULL);
        pthread_join(v, NULL);
        double t = now();
        if (t - last_fork >= 5) {
            if (fork_child(seed * 7 + forks)) die("a fork child failed", NULL);
            forks++;
            last_fork = t;
        }
        if (t - last >= 5) {
            printf("t=%.0f ops=%llu live=%lld live_bytes=%lld remote=%llu forks=%llu\n", t - t0,
                   (unsigned long long)atomic_load(&total_ops), (long long)atomic_load(&live_blocks),
                   (long long)atomic_load(&live_bytes), (unsigned long long)atomic_load(&remote_frees),
                   (unsigned long long)forks);
            last = t;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++) pthread_join(w[i], NULL);
    block r;
    while (ring_get(&r)) free_block(&r, "at exit (ring)");
    if (atomic_load(&live_blocks) != 0 || atomic_load(&live_bytes) != 0)
        die("the live-block accounting does not return to zero", NULL);
    printf("ok ops=%llu remote=%llu visitors=%llu forks=%llu seconds=%.0f\n",
           (unsigned long long)atomic_load(&total_ops), (unsigned long long)atomic_load(&remote_frees),
           (unsigned long long)visitors, (unsigned long long)forks, now() - t0);
    return 0;
}
