/* lock_workload - threads that contend for new slabs (tests/locks/).
 *
 *   lock_workload [-t THREADS] [-n BLOCKS] [-s SIZE] [-r ROUNDS] [-b BURST]
 *                 [-m USEC] [-g FILE] [-w FILE] [-T SECONDS]
 *
 * THREADS threads start together (a barrier) and each allocates BLOCKS
 * fresh SIZE-byte blocks (default 4 x 8192 x 1 KiB) and keeps them: every
 * block comes from a new slab, so the threads exhaust the SharedPool's
 * current SuperSlab at the same moment and meet in its stage 3 lock
 * ("shared_pool"), which maps a new SuperSlab from the arena (lock
 * "arena").  The main thread then frees every block (remote frees).
 * ROUNDS repeats that.  -b BURST: the threads meet at a barrier every
 * BURST blocks (64 = one 64 KiB slab of 1 KiB blocks), so they all ask for
 * a slab at once, over and over: far more contention on a 2-core machine.
 * -m USEC adds a thread calling malloc_trim(0) every USEC us (it takes
 * the SharedPool and LRU locks again and again, so the workers' stage 3
 * meets it even when the machine is too busy to run workers in parallel).
 * Run it under LD_PRELOAD=libhakmem.so.
 *
 * -w FILE: when done, write "PID\n" to FILE (atomically, via a rename)
 * and wait until FILE is removed (or SECONDS, default 60, pass), so that a
 * test can read the live counters of a quiescent process.  -g FILE: the
 * same before starting the work (a test samples the counters, starts a
 * tracing session, then lets it go).
 * Prints one line: threads, blocks, elapsed time.  Exit 0, 1 on an
 * allocation failure, 2 on a usage error.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long nthreads = 4, nblocks = 8192, bsize = 1024, rounds = 1, burst = 0;
static int trimmer;
static long trim_pause_us;
static atomic_int done;
static void ***blocks;

/* A spinning barrier: a pthread barrier wakes the waiters one by one
 * (tens of us apart), so they would never meet in a short critical
 * section; spinners leave together.  Yields when threads outnumber CPUs. */
static atomic_long arrived, generation;
static void barrier(void) {
    long gen = atomic_load(&generation);
    if (atomic_fetch_add(&arrived, 1) + 1 == nthreads) {
        atomic_store(&arrived, 0);
        atomic_fetch_add(&generation, 1);
        return;
    }
    for (unsigned i = 0; atomic_load(&generation) == gen; i++)
        if (i > 2000) sched_yield();
}

static void *worker(void *arg) {
    long id = (long)(intptr_t)arg;
    void **mine = blocks[id];
    barrier();
    for (long i = 0; i < nblocks; i++) {
        /* Bursts: every thread wants its next slab at the same moment. */
        if (burst && i && i % burst == 0) barrier();
        char *p = malloc((size_t)bsize);
        if (!p) {
            fprintf(stderr, "lock_workload: malloc(%ld) failed: %s\n", bsize, strerror(errno));
            exit(1);
        }
        p[0] = (char)i;                  /* touch: a real, fresh block */
        p[bsize - 1] = (char)id;
        mine[i] = p;
    }
    return NULL;
}

/* -m USEC: malloc_trim(0) in a loop, USEC microseconds apart (0: none),
 * while the workers run, as an application
 * that trims periodically would: it takes the SharedPool lock (and the
 * LRU's) over and over, so every stage 3 of a worker meets it. */
static void *trim_loop(void *arg) {
    (void)arg;
    struct timespec ts = { 0, trim_pause_us * 1000 };
    while (!atomic_load(&done)) {
        malloc_trim(0);
        if (trim_pause_us) nanosleep(&ts, NULL);
    }
    return NULL;
}

static long num(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "lock_workload: %s must be %ld..%ld, not '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

/* Write "PID\n" to FILE (atomically) and wait until it is removed. */
static void wait_removed(const char *file, long seconds) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp) exit(2);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 || rename(tmp, file) != 0) {
        fprintf(stderr, "lock_workload: cannot write %s: %s\n", file, strerror(errno));
        exit(1);
    }
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    for (long i = 0; i < seconds * 50 && access(file, F_OK) == 0; i++) nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    const char *wfile = NULL, *gfile = NULL;
    long wait_s = 60;
    int c;
    while ((c = getopt(argc, argv, "t:n:s:r:b:m:g:w:T:h")) != -1) {
        switch (c) {
        case 't': nthreads = num(optarg, 1, 256, "-t"); break;
        case 'n': nblocks = num(optarg, 1, 1 << 24, "-n"); break;
        case 's': bsize = num(optarg, 1, 1 << 20, "-s"); break;
        case 'r': rounds = num(optarg, 1, 1000, "-r"); break;
        case 'b': burst = num(optarg, 0, 1 << 24, "-b"); break;
        case 'm': trimmer = 1; trim_pause_us = num(optarg, 0, 999999, "-m"); break;
        case 'g': gfile = optarg; break;
        case 'w': wfile = optarg; break;
        case 'T': wait_s = num(optarg, 1, 3600, "-T"); break;
        case 'h':
            printf("usage: lock_workload [-t THREADS] [-n BLOCKS] [-s SIZE] [-r ROUNDS] "
                   "[-b BURST] [-m USEC] [-g FILE] [-w FILE] [-T SECONDS]\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lock_workload: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    blocks = calloc((size_t)nthreads, sizeof *blocks);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!blocks || !th) return 1;
    for (long t = 0; t < nthreads; t++)
        if (!(blocks[t] = calloc((size_t)nblocks, sizeof(void *)))) return 1;
    if (gfile) wait_removed(gfile, wait_s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t trim_th;
    if (trimmer && pthread_create(&trim_th, NULL, trim_loop, NULL) != 0) return 1;
    for (long r = 0; r < rounds; r++) {
        for (long t = 0; t < nthreads; t++)
            if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) != 0) {
                fprintf(stderr, "lock_workload: pthread_create failed\n");
                return 1;
            }
        for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
        /* The owners have exited: these frees go to orphaned slabs. */
        for (long t = 0; t < nthreads; t++)
            for (long i = 0; i < nblocks; i++) free(blocks[t][i]);
    }
    if (trimmer) {
        atomic_store(&done, 1);
        pthread_join(trim_th, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("lock_workload: %ld threads x %ld blocks of %ld bytes x %ld rounds in %.3f s\n",
           nthreads, nblocks, bsize, rounds,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    if (wfile) wait_removed(wfile, wait_s);
    for (long t = 0; t < nthreads; t++) free(blocks[t]);
    free(blocks);
    free(th);
    return 0;
}
