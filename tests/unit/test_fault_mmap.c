/* test_fault_mmap.c - out of memory at every layer, by fault injection.
 *
 * A fixed scenario (this program re-executed with "scenario") allocates
 * through every entry point and every tier: tiny blocks past one SuperSlab
 * (refills that need a new one), Mid and L2.5 blocks past one segment,
 * Large spans, calloc, posix_memalign, aligned_alloc, realloc growth, and
 * a second thread.  The parent runs it with HAKMEM_FAULT_MMAP=N for
 * N = 1, 2, ... until N is past the scenario's last OS mapping call
 * (the library prints one line for each injected fault, so the parent
 * knows whether the run met it): call 1 is the arena reservation (the
 * growable fallback takes over), the others are segment commits, record
 * and table mappings, Large mappings.  In every run:
 *  - a failed call returns NULL with errno ENOMEM (posix_memalign returns
 *    ENOMEM and leaves *p alone), and the same call made again succeeds
 *    (the memory is back);
 *  - every block allocated so far keeps its contents (checked after each
 *    failure and at the end), blocks never overlap;
 *  - the process exits normally (no abort, no crash, no hang).
 * Then HAKMEM_FAULT_MMAP_RATE=3 with five seeds: a third of all mapping
 * calls fail at random, and retried calls must get through.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static char *self;
static int failures;
static live_set ls;

enum fn { F_MALLOC, F_CALLOC, F_MEMALIGN, F_ALIGNED, F_REALLOC_NULL, F_COUNT };

static void *try_alloc(enum fn f, size_t n) {
    void *p = NULL, *sentinel = (void *)0x5a5a5a50;
    errno = 0;
    switch (f) {
    case F_MALLOC: p = malloc(n); break;
    case F_CALLOC: p = calloc(1, n); if (p) CHECK(zero_find(p, n) < 0, "calloc(%zu) not zeroed", n); break;
    case F_MEMALIGN: {
        void *q = sentinel;
        int rc = posix_memalign(&q, 64 * KiB, n);
        if (rc) {
            CHECK(rc == ENOMEM, "posix_memalign(%zu) returned %d, not ENOMEM", n, rc);
            CHECK(q == sentinel, "posix_memalign failed but wrote *p");
            return NULL;
        }
        CHECK(((uintptr_t)q & (64 * KiB - 1)) == 0, "posix_memalign alignment");
        return q;
    }
    case F_ALIGNED: p = aligned_alloc(4096, (n + 4095) & ~(size_t)4095); break;
    default: p = realloc(NULL, n); break;
    }
    if (!p) CHECK(errno == ENOMEM, "allocation of %zu (fn %d) failed with errno %d, not ENOMEM", n, f, errno);
    return p;
}

/* Allocate n bytes; a failure must be ENOMEM and, memory being back, the
 * retries must succeed (at most `tries` calls in all). */
static void *alloc_retry(enum fn f, size_t n, int tries) {
    for (int i = 0; i < tries; i++) {
        void *p = try_alloc(f, n);
        if (p) return p;
        failures++;
        ls_verify(&ls, "after a failed allocation");
    }
    CHECK(0, "allocation of %zu (fn %d) still fails after %d tries", n, f, tries);
    return NULL;
}

static int tries = 2;

static void *thread_part(void *arg) {
    (void)arg;
    void *p[64];
    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)(i % 4 == 0 ? 40000 : i % 2 ? 2000 : 100);
        p[i] = alloc_retry(F_MALLOC, n, tries);
        memset(p[i], i, n);
    }
    for (int i = 0; i < 64; i++) free(p[i]);
    return NULL;
}

static int scenario(void) {
    ls_init(&ls, 1 << 15);
    /* tiny: 3 MiB of 1 KiB blocks (a second SuperSlab), and small ones */
    for (int i = 0; i < 2200; i++) ls_add(&ls, alloc_retry(i % 7 ? F_MALLOC : F_CALLOC, 1024, tries), 1024, "tiny");
    for (int i = 0; i < 2000; i++) ls_add(&ls, alloc_retry(F_MALLOC, 8 + i % 200, tries), 8 + i % 200, "tiny");
    /* Mid past one segment, L2.5 past one segment */
    for (int i = 0; i < 200; i++) {
        size_t n = 1100 + (size_t)i * 160;
        ls_add(&ls, alloc_retry((enum fn)(i % F_COUNT), n, tries), n, "mid");
    }
    for (int i = 0; i < 16; i++) {
        size_t n = 40000 + (size_t)i * 60000;
        ls_add(&ls, alloc_retry((enum fn)(i % F_COUNT), n, tries), n, "l25");
    }
    /* Large spans */
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)(i + 2) * MiB + 1000;
        ls_add(&ls, alloc_retry((enum fn)(i % F_COUNT), n, tries), n, "large");
    }
    ls_verify(&ls, "after the allocations");
    /* realloc growth of a few blocks of each tier; a failed realloc keeps
     * the old block */
    for (size_t i = 0; i < ls.n; i += ls.n / 16) {
        live_blk *b = &ls.b[i];
        size_t n = b->usable * 3 + 100;
        void *q = NULL;
        for (int t = 0; t < tries && !q; t++) {
            errno = 0;
            q = realloc(b->p, n);
            if (!q) {
                CHECK(errno == ENOMEM, "realloc failed with errno %d", errno);
                failures++;
                CHECK_TAG(b->p, b->usable, b->tag, "block after a failed realloc");
            }
        }
        CHECK(q, "realloc(%zu) still fails", n);
        CHECK_TAG(q, b->usable, b->tag, "realloc'd block");
        b->p = q;
        b->size = n;
        b->usable = malloc_usable_size(q);
        tag_fill(q, b->usable, b->tag);
    }
    ls_verify(&ls, "after realloc");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_part, NULL) == 0, "pthread_create");
    pthread_join(th, NULL);
    ls_thin(&ls);
    malloc_trim(0);
    ls_verify(&ls, "after trim");
    /* everything works again */
    static const size_t sz[] = { 16, 500, 5000, 200000, 5 * MiB };
    for (int i = 0; i < 50; i++) ls_add(&ls, alloc_retry(F_MALLOC, sz[i % 5], tries), sz[i % 5], "again");
    ls_verify(&ls, "at the end");
    ls_free_all(&ls);
    return failures ? 3 : 0;
}

/* Run the scenario with one extra variable; returns the exit status and
 * fills `err` with stderr. */
static int run(const char *env1, const char *env2, char *err, size_t errsz) {
    int ep[2];
    CHECK(pipe(ep) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(ep[1], 2);
        close(ep[0]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        alarm(60);
        extern char **environ;
        static char *envp[600];
        size_t k = 0;
        for (char **e = environ; *e && k < 590; e++)
            if (strncmp(*e, "HAKMEM_", 7)) envp[k++] = *e;
        envp[k++] = (char *)env1;
        if (env2) envp[k++] = (char *)env2;
        envp[k] = NULL;
        char *argv[] = { self, "scenario", NULL };
        execve(self, argv, envp);
        _exit(127);
    }
    close(ep[1]);
    size_t ne = 0;
    for (;;) {
        ssize_t n = read(ep[0], err + ne, errsz - 1 - ne);
        if (n <= 0) break;
        ne += (size_t)n;
    }
    err[ne] = 0;
    close(ep[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st), "%s%s%s: the scenario died with signal %d; stderr:\n%s", env1, env2 ? " " : "",
          env2 ? env2 : "", WIFSIGNALED(st) ? WTERMSIG(st) : 0, err);
    return WEXITSTATUS(st);
}

/* Lines of stderr that are not fault-injection notices. */
static const char *other_line(const char *err) {
    for (const char *l = err; *l; ) {
        if (strncmp(l, "hakmem: fault injection:", 24) != 0) return l;
        const char *e = strchr(l, '\n');
        if (!e) break;
        l = e + 1;
    }
    return NULL;
}

int main(int argc, char **argv) {
    self = realpath("/proc/self/exe", NULL);
    CHECK(self, "realpath");
    if (argc > 1 && !strcmp(argv[1], "scenario")) {
        const char *r = getenv("HAKMEM_FAULT_MMAP_RATE");
        if (r && strcmp(r, "0")) tries = 40;
        return scenario();
    }
    require_hakmem();
    static char err[1 << 16];
    char env[64], want[96];
    int hit = 0, handled = 0, kinds[4] = { 0 };
    static const char *kind[4] = { "(reserve)", "(commit)", "(map)", "(remap)" };
    int n;
    for (n = 1; n < 2000; n++) {
        snprintf(env, sizeof env, "HAKMEM_FAULT_MMAP=%d", n);
        int rc = run(env, NULL, err, sizeof err);
        snprintf(want, sizeof want, "hakmem: fault injection: OS mapping call #%d ", n);
        const char *line = strstr(err, want);
        const char *other = other_line(err);
        CHECK(!other, "%s: unexpected stderr: %s", env, other);
        CHECK(rc == 0 || rc == 3, "%s: the scenario exited %d", env, rc);
        if (!line) {
            CHECK(rc == 0, "%s: a failure without an injected fault", env);
            break;   /* past the last mapping call */
        }
        hit++;
        handled += rc == 3;
        for (int k = 0; k < 4; k++) kinds[k] += strstr(line, kind[k]) && strstr(line, kind[k]) < strchr(line, '\n');
    }
    printf("HAKMEM_FAULT_MMAP: %d runs met their fault (reserve %d, commit %d, map %d, remap %d); "
           "in %d of them an allocation returned ENOMEM and was retried\n",
           hit, kinds[0], kinds[1], kinds[2], kinds[3], handled);
    CHECK(hit >= 20, "only %d mapping calls in the scenario", hit);
    CHECK(kinds[0] && kinds[1] && kinds[2], "faults did not reach every kind of mapping call");
    CHECK(handled >= 5, "only %d of %d faults reached a user-visible allocation", handled, hit);

    int rate_failures = 0;
    for (int seed = 1; seed <= 5; seed++) {
        char s[64];
        snprintf(s, sizeof s, "HAKMEM_FAULT_SEED=%d", seed);
        int rc = run("HAKMEM_FAULT_MMAP_RATE=3", s, err, sizeof err);
        const char *other = other_line(err);
        CHECK(!other, "rate 3, %s: unexpected stderr: %s", s, other);
        CHECK(rc == 3, "rate 3, %s: exited %d (3 = failures met and survived)", s, rc);
        rate_failures += strstr(err, "hakmem: fault injection") != NULL;
    }
    CHECK(rate_failures == 5, "random faults reported in only %d of 5 runs", rate_failures);
    printf("HAKMEM_FAULT_MMAP_RATE=3: 5 seeds, every run failed allocations and recovered\n");
    printf("test_fault_mmap: ok\n");
    return 0;
}
