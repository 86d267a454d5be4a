/* test_misuse.c - misuse is reported, on one line, naming the call and the
 * pointer, and the process aborts (or, with HAKMEM_EXTERNAL=warn, goes on
 * with the bad call ignored).
 *
 * Each case runs in a child (this program re-executed with the case name
 * and its environment); the parent checks the exit status and stderr:
 *  - default mode: double free of a tiny block at the head of the thread
 *    cache, of Mid, L2.5 and Large blocks; foreign pointer; interior
 *    pointers of every tier (and of a Large tail); realloc of a freed
 *    block (tiny, Mid, Large); malloc_usable_size of a foreign pointer;
 *    HAKMEM_EXTERNAL=warn goes on and the heap still works.
 *  - check mode (HAKMEM_CHECK=1): double free after a thousand other frees,
 *    of an UltraHot-class block, across threads (the report names the
 *    first free's call site and thread), realloc and malloc_usable_size
 *    of a freed block, a write into a freed block, interior pointers, and
 *    a clean workload over every tier that must report nothing.
 * Reports in check mode carry a backtrace whose first frame is in this
 * program.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static char *self;

/* Each case allocates through these so that its own frees have known
 * call sites. */
__attribute__((noinline)) static void first_free(void *p) { free(hide(p)); }
__attribute__((noinline)) static void second_free(void *p) { free(hide(p)); }

static void *xmalloc(size_t n) {
    void *p = malloc(opaque(n));
    CHECK(p, "malloc(%zu) failed", n);
    memset(p, 0x11, n < 4096 ? n : 4096);
    return p;
}

static void *free_thread(void *p) { first_free(p); return NULL; }

static int run_case(const char *name) {
    if (!strncmp(name, "df_", 3) || !strncmp(name, "ck_df_", 6)) {
        size_t n = strtoul(strrchr(name, '_') + 1, NULL, 10);
        void *a = xmalloc(n);
        if (strstr(name, "far")) {
            first_free(a);
            for (int i = 0; i < 1000; i++) free(xmalloc(n));
        } else if (strstr(name, "thread")) {
            pthread_t t;
            CHECK(pthread_create(&t, NULL, free_thread, a) == 0, "pthread_create");
            pthread_join(t, NULL);
        } else {
            first_free(a);
        }
        second_free(a);
        printf("survived\n");
        return 0;
    }
    if (!strcmp(name, "foreign")) {
        char local[64];
        free(hide(local + 16));
        return 0;
    }
    if (!strncmp(name, "interior_", 9) || !strncmp(name, "ck_interior_", 12)) {
        size_t n = strtoul(strrchr(name, '_') + 1, NULL, 10);
        char *a = xmalloc(n);
        free(hide(a + (n > 4 * MiB ? 2 * MiB + 64 : 16)));
        return 0;
    }
    if (!strncmp(name, "realloc_freed_", 14) || !strncmp(name, "ck_realloc_", 11)) {
        size_t n = strtoul(strrchr(name, '_') + 1, NULL, 10);
        void *a = xmalloc(n);
        first_free(a);
        if (!strncmp(name, "ck_", 3)) free(xmalloc(n));   /* a is no longer at the head */
        void *b = realloc(hide(a), n * 2);
        printf("realloc returned %p\n", b);
        return 0;
    }
    if (!strcmp(name, "usable_foreign")) {
        static char buf[64];
        printf("%zu\n", malloc_usable_size(hide(buf)));
        return 0;
    }
    if (!strcmp(name, "ck_usable_freed")) {
        void *a = xmalloc(300);
        first_free(a);
        free(xmalloc(300));
        printf("%zu\n", malloc_usable_size(hide(a)));
        return 0;
    }
    if (!strcmp(name, "ck_uaf")) {
        char *a = xmalloc(500);
        first_free(a);
        a[40] = 0x42;                       /* the bug */
        for (int i = 0; i < 200; i++) free(xmalloc(1000));   /* push it out of the quarantine */
        malloc_trim(0);
        return 0;
    }
    if (!strcmp(name, "warn_continue")) {
        void *a = xmalloc(3000);
        first_free(a);
        second_free(a);                      /* reported, ignored */
        char local[32];
        free(hide(local));                   /* reported, ignored */
        live_set ls;
        ls_init(&ls, 4096);
        static const size_t sz[] = { 24, 200, 3000, 100000, 3 * MiB };
        for (int i = 0; i < 400; i++) ls_add(&ls, malloc(sz[i % 5]), sz[i % 5], "after warnings");
        ls_verify(&ls, "after warnings");
        ls_free_all(&ls);
        printf("continued\n");
        return 0;
    }
    if (!strcmp(name, "ck_clean")) {
        live_set ls;
        ls_init(&ls, 1 << 14);
        uint64_t r = 7;
        for (int round = 0; round < 6; round++) {
            for (int i = 0; i < 1500; i++) {
                size_t n = 1 + rng_next(&r) % (i % 50 == 0 ? 4 * MiB : i % 5 == 0 ? 200000 : 2000);
                void *p;
                switch (i % 4) {
                case 0: p = malloc(n); break;
                case 1: p = calloc(1, n); CHECK(p && zero_find(p, n) < 0, "calloc not zeroed"); break;
                case 2: p = aligned_alloc(256, (n + 255) & ~(size_t)255);
                        CHECK(((uintptr_t)p & 255) == 0, "aligned_alloc alignment"); break;
                default: p = realloc(malloc(8), n); break;
                }
                CHECK(p, "allocation of %zu failed", n);
                ls_add(&ls, p, n, "check mode");
            }
            ls_verify(&ls, "check mode");
            /* grow a few with realloc: contents move with them */
            for (size_t i = 0; i < ls.n; i += 97) {
                live_blk *b = &ls.b[i];
                uint8_t *q = realloc(b->p, b->usable + 100);
                CHECK(q, "realloc failed");
                CHECK_TAG(q, b->usable, b->tag, "realloc in check mode");
                b->p = q;
                b->size = b->usable + 100;
                b->usable = malloc_usable_size(q);
                tag_fill(q, b->usable, b->tag);
            }
            ls_thin(&ls);
        }
        ls_free_all(&ls);
        malloc_trim(0);
        printf("clean\n");
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", name);
    return 2;
}

typedef struct result { int status; char err[8192]; char out[1024]; } result;

/* Run this program with argv[1] = name and the extra environment. */
static void run(const char *name, const char *env1, const char *env2, result *r) {
    int ep[2], op[2];
    CHECK(pipe(ep) == 0 && pipe(op) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(ep[1], 2);
        dup2(op[1], 1);
        close(ep[0]); close(op[0]);
        alarm(60);   /* a hang is a failure, not a stuck test */
        extern char **environ;
        static char *envp[600];
        size_t k = 0;
        for (char **e = environ; *e && k < 590; e++)
            if (strncmp(*e, "HAKMEM_EXTERNAL=", 16) && strncmp(*e, "HAKMEM_CHECK", 12)) envp[k++] = *e;
        if (env1) envp[k++] = (char *)env1;
        if (env2) envp[k++] = (char *)env2;
        envp[k] = NULL;
        char *argv[] = { self, (char *)name, NULL };
        execve(self, argv, envp);
        _exit(127);
    }
    close(ep[1]); close(op[1]);
    size_t ne = 0, no = 0;
    for (;;) {
        ssize_t n = read(ep[0], r->err + ne, sizeof r->err - 1 - ne);
        if (n <= 0) break;
        ne += (size_t)n;
    }
    for (;;) {
        ssize_t n = read(op[0], r->out + no, sizeof r->out - 1 - no);
        if (n <= 0) break;
        no += (size_t)n;
    }
    r->err[ne] = 0;
    r->out[no] = 0;
    close(ep[0]); close(op[0]);
    CHECK(waitpid(pid, &r->status, 0) == pid, "waitpid");
}

static int cases, failed;

/* Expect SIGABRT and a first hakmem line containing call + what (and
 * with `trace`, a backtrace through this program and `detail`). */
static void expect_abort(const char *name, const char *env1, const char *env2, const char *call,
                         const char *what, const char *detail, int trace) {
    result r;
    run(name, env1, env2, &r);
    cases++;
    char want[128];
    snprintf(want, sizeof want, "hakmem: %s(): ", call);
    const char *line = strstr(r.err, want);
    int ok = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT && line && strstr(line, what) &&
             strstr(line, "0x") && (!detail || strstr(line, detail)) &&
             (!trace || (strstr(r.err, "hakmem:   #0 ") && strstr(r.err, "test_misuse")));
    if (ok && line) {
        const char *eol = strchr(line, '\n');
        printf("ok   %-24s %.*s\n", name, eol ? (int)(eol - line) : 120, line);
    } else {
        failed++;
        printf("FAIL %-24s status %#x, expected SIGABRT and \"%s...%s\"%s%s; stderr:\n%s\n", name, r.status,
               want, what, detail ? " with " : "", detail ? detail : "", r.err);
    }
}

static void expect_exit0(const char *name, const char *env1, const char *env2, const char *out,
                         const char *err) {
    result r;
    run(name, env1, env2, &r);
    cases++;
    int ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, out) &&
             (err ? strstr(r.err, err) != NULL : r.err[0] == 0);
    if (ok) {
        printf("ok   %-24s exit 0%s%s\n", name, err ? ", reported: " : ", nothing reported", err ? err : "");
    } else {
        failed++;
        printf("FAIL %-24s status %#x, stdout \"%s\", stderr:\n%s\n", name, r.status, r.out, r.err);
    }
}

int main(int argc, char **argv) {
    self = realpath("/proc/self/exe", NULL);
    CHECK(self, "realpath");
    if (argc > 1) return run_case(argv[1]);
    require_hakmem();
    const char *CK = "HAKMEM_CHECK=1";
    const char *DF = "double free";
    const char *IN = "inside a block";
    /* default mode */
    expect_abort("df_200", NULL, NULL, "free", DF, NULL, 0);
    expect_abort("df_3000", NULL, NULL, "free", DF, NULL, 0);
    expect_abort("df_100000", NULL, NULL, "free", DF, NULL, 0);
    expect_abort("df_3145728", NULL, NULL, "free", DF, NULL, 0);
    expect_abort("foreign", NULL, NULL, "free", "not allocated by hakmem", NULL, 0);
    expect_abort("interior_200", NULL, NULL, "free", IN, NULL, 0);
    expect_abort("interior_3000", NULL, NULL, "free", IN, NULL, 0);
    expect_abort("interior_100000", NULL, NULL, "free", IN, NULL, 0);
    expect_abort("interior_3145728", NULL, NULL, "free", IN, NULL, 0);
    expect_abort("interior_6291456", NULL, NULL, "free", IN, NULL, 0);
    expect_abort("realloc_freed_200", NULL, NULL, "realloc", "freed", NULL, 0);
    expect_abort("realloc_freed_3000", NULL, NULL, "realloc", "freed", NULL, 0);
    expect_abort("realloc_freed_3145728", NULL, NULL, "realloc", "freed", NULL, 0);
    expect_abort("usable_foreign", NULL, NULL, "malloc_usable_size", "not a block allocated by hakmem", NULL, 0);
    expect_exit0("warn_continue", "HAKMEM_EXTERNAL=warn", NULL, "continued", "hakmem: free(): double free");
    /* check mode: always caught, with the first free's site and a backtrace */
    expect_abort("ck_df_far_200", CK, NULL, "free", DF, "freed before at 0x", 1);
    expect_abort("ck_df_16", CK, NULL, "free", DF, "test_misuse+0x", 1);
    expect_abort("ck_df_32", CK, NULL, "free", DF, "by hakmem thread #", 1);
    expect_abort("ck_df_far_3000", CK, NULL, "free", DF, "freed before at 0x", 1);
    expect_abort("ck_df_100000", CK, NULL, "free", DF, "freed before at 0x", 1);
    expect_abort("ck_df_far_3145728", CK, NULL, "free", DF, "freed before at 0x", 1);
    expect_abort("ck_df_thread_64", CK, NULL, "free", DF, "freed before at 0x", 1);
    expect_abort("ck_realloc_64", CK, NULL, "realloc", "freed (use after free)", "freed before at 0x", 1);
    expect_abort("ck_realloc_3000", CK, NULL, "realloc", "freed (use after free)", "freed before at 0x", 1);
    expect_abort("ck_usable_freed", CK, NULL, "malloc_usable_size", "freed", "freed before at 0x", 1);
    expect_abort("ck_uaf", CK, "HAKMEM_CHECK_QUARANTINE=4096", "free", "written to (use after free)",
                 "byte 40 is 0x42", 1);
    expect_abort("ck_interior_3000", CK, NULL, "free", IN, NULL, 1);
    expect_abort("ck_interior_200", CK, NULL, "free", IN, NULL, 1);
    expect_exit0("ck_clean", CK, NULL, "clean", NULL);
    printf("test_misuse: %d cases, %d failed\n", cases, failed);
    return failed ? 1 : 0;
}
