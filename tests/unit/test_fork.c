/* test_fork.c - fork while other threads allocate.
 *
 * Three worker threads replace tagged blocks of every tier in a loop.  The
 * main thread and a fourth "forker" thread fork repeatedly meanwhile.
 * Each child, at once: allocates and frees (every tier, with calloc and
 * realloc), checks and frees the main thread's blocks and the workers'
 * blocks (threads that do not exist in the child: their slabs must be
 * adoptable), runs a thread of its own, and exits 0 through exit().  A
 * child that deadlocks is killed by alarm() and reported.  The parent
 * keeps going, and at the end checks every block it still holds.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

enum { WORKERS = 3, SLOTS = 256, MAIN_BLOCKS = 200, FORKS_MAIN = 24, FORKS_THREAD = 12 };

typedef struct blk { void *p; size_t size; uint64_t tag; } blk;
typedef struct worker {
    int id;
    _Atomic int busy;     /* slot being changed, -1 when none */
    uint64_t rng, next_tag;
    blk b[SLOTS];
    _Atomic uint64_t ops;
} worker;

static worker workers[WORKERS];
static blk main_blocks[MAIN_BLOCKS];
static _Atomic int main_busy = -1;  /* main block being changed, -1 when none */
static _Atomic int stop;

static size_t pick_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    unsigned k = (unsigned)(r % 100);
    r >>= 8;
    if (k < 75) return 1 + r % 1024;
    if (k < 93) return 1025 + r % (31 * 1024);
    if (k < 99) return 32 * 1024 + r % (400 * 1024);
    return 1024 * 1024 + 1 + r % (2 * 1024 * 1024);
}

static void fill(blk *b, uint64_t *rng, uint64_t tag) {
    b->size = pick_size(rng);
    b->p = malloc(b->size);
    CHECK(b->p, "malloc(%zu) returned NULL", b->size);
    b->tag = tag;
    tag_fill(b->p, b->size, tag);
}

static void *work(void *arg) {
    worker *w = arg;
    while (!stop) {
        int i = (int)(rng_next(&w->rng) % SLOTS);
        atomic_store(&w->busy, i);
        blk *b = &w->b[i];
        CHECK_TAG(b->p, b->size, b->tag, "worker block");
        free(b->p);
        fill(b, &w->rng, ((uint64_t)(w->id + 1) << 40) | w->next_tag++);
        atomic_store(&w->busy, -1);
        w->ops++;
    }
    return NULL;
}

static void *child_thread(void *arg) {
    (void)arg;
    uint64_t rng = 3;
    blk b[64];
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 64; i++) fill(&b[i], &rng, (uint64_t)r * 64 + (uint64_t)i);
        for (int i = 0; i < 64; i++) { CHECK_TAG(b[i].p, b[i].size, b[i].tag, "child thread block"); free(b[i].p); }
    }
    return NULL;
}

/* Runs in the child right after fork. */
static void child(int n) {
    alarm(20);
    uint64_t rng = 1000 + (uint64_t)n;
    /* Allocate at once, before touching anything inherited. */
    blk mine[128];
    for (int i = 0; i < 128; i++) fill(&mine[i], &rng, 7000 + (uint64_t)i);
    void *z = calloc(100, 100);
    CHECK(z && zero_find(z, 10000) < 0, "child: calloc(100, 100) not zeroed");
    z = realloc(z, 300000);
    CHECK(z && zero_find(z, 10000) < 0, "child: realloc lost calloc'ed zeros");
    free(z);
    /* The main thread's blocks (the main thread exists in the child only
     * when it forked; the forker thread may fork while main changes one). */
    int mbusy = atomic_load(&main_busy);
    if (mbusy >= 0) main_blocks[mbusy] = (blk){ malloc(1), 1, 0 };
    if (mbusy >= 0) tag_fill(main_blocks[mbusy].p, 1, 0);
    for (int i = 0; i < MAIN_BLOCKS; i++) {
        CHECK_TAG(main_blocks[i].p, main_blocks[i].size, main_blocks[i].tag, "child: main thread's block");
        if (i & 1) { free(main_blocks[i].p); fill(&main_blocks[i], &rng, 9000 + (uint64_t)i); }
    }
    /* The workers' blocks: allocated by threads that do not exist here. */
    for (int w = 0; w < WORKERS; w++) {
        int busy = atomic_load(&workers[w].busy);
        for (int i = 0; i < SLOTS; i++) {
            if (i == busy) continue;
            blk *b = &workers[w].b[i];
            CHECK_TAG(b->p, b->size, b->tag, "child: block of a worker thread absent in the child");
            free(b->p);
        }
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, child_thread, NULL) == 0, "child: pthread_create");
    for (int i = 0; i < 128; i++) { CHECK_TAG(mine[i].p, mine[i].size, mine[i].tag, "child block"); free(mine[i].p); }
    CHECK(pthread_join(t, NULL) == 0, "child: pthread_join");
    for (int i = 0; i < MAIN_BLOCKS; i++) CHECK_TAG(main_blocks[i].p, main_blocks[i].size, main_blocks[i].tag, "child: main block");
    exit(0);
}

static void fork_and_wait(int n, const char *who) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) child(n);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(!WIFSIGNALED(st), "child #%d forked by %s died of signal %d%s", n, who, WTERMSIG(st),
          WTERMSIG(st) == SIGALRM ? " (deadlocked: alarm after 20 s)" : "");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child #%d forked by %s exited with %d", n, who, WEXITSTATUS(st));
}

static void *forker(void *arg) {
    (void)arg;
    for (int n = 0; n < FORKS_THREAD; n++) {
        usleep(3000);
        fork_and_wait(1000 + n, "a non-main thread");
    }
    return NULL;
}

int main(void) {
    require_hakmem();
    setvbuf(stdout, NULL, _IONBF, 0);
    uint64_t rng = 77;
    for (int i = 0; i < MAIN_BLOCKS; i++) fill(&main_blocks[i], &rng, 5000 + (uint64_t)i);
    pthread_t t[WORKERS], f;
    for (int w = 0; w < WORKERS; w++) {
        workers[w].id = w; workers[w].busy = -1; workers[w].rng = 11 + (uint64_t)w; workers[w].next_tag = 1;
        for (int i = 0; i < SLOTS; i++)
            fill(&workers[w].b[i], &workers[w].rng, ((uint64_t)(w + 1) << 40) | workers[w].next_tag++);
        CHECK(pthread_create(&t[w], NULL, work, &workers[w]) == 0, "pthread_create");
    }
    CHECK(pthread_create(&f, NULL, forker, NULL) == 0, "pthread_create");
    for (int n = 0; n < FORKS_MAIN; n++) {
        usleep(2000);
        fork_and_wait(n, "the main thread");
        /* The parent keeps allocating. */
        for (int i = 0; i < MAIN_BLOCKS; i += 7) {
            atomic_store(&main_busy, i);
            CHECK_TAG(main_blocks[i].p, main_blocks[i].size, main_blocks[i].tag, "parent: main block");
            free(main_blocks[i].p);
            fill(&main_blocks[i], &rng, 6000 + (uint64_t)n * 1000 + (uint64_t)i);
            atomic_store(&main_busy, -1);
        }
    }
    pthread_join(f, NULL);
    stop = 1;
    uint64_t ops = 0;
    for (int w = 0; w < WORKERS; w++) { pthread_join(t[w], NULL); ops += workers[w].ops; }
    CHECK(ops > 0, "the workers did not run");
    for (int w = 0; w < WORKERS; w++)
        for (int i = 0; i < SLOTS; i++) {
            blk *b = &workers[w].b[i];
            CHECK_TAG(b->p, b->size, b->tag, "parent: worker block at the end");
            free(b->p);
        }
    for (int i = 0; i < MAIN_BLOCKS; i++) {
        CHECK_TAG(main_blocks[i].p, main_blocks[i].size, main_blocks[i].tag, "parent: main block at the end");
        free(main_blocks[i].p);
    }
    printf("test_fork: ok (%d forks, %llu worker operations)\n", FORKS_MAIN + FORKS_THREAD, (unsigned long long)ops);
    return 0;
}
