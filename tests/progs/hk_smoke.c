/* hk_smoke.c - a plain program (not linked with hakmem) for LD_PRELOAD
 * runs: it finds hakmem through the dynamic linker, checks that malloc
 * really is hakmem's, and exercises the whole API, threads with
 * cross-thread frees, and fork.
 *
 * Exit 0: ok.  Exit 3: hakmem is not loaded (the caller expects that when
 * it runs the program without LD_PRELOAD).  Exit 1: a check failed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "hk_smoke: FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); _exit(1); } } while (0)

typedef void (*arena_fn)(uintptr_t *, size_t *);
static arena_fn arena;

static int owned(const void *p) {
    uintptr_t b; size_t n;
    arena(&b, &n);
    return (uintptr_t)p - b < n;
}

static void fill(unsigned char *p, size_t n, unsigned seed) { for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 13); }
static int same(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) if (p[i] != (unsigned char)(seed + i * 13)) return 0;
    return 1;
}

enum { T = 4, PER = 20000 };
static void *slots[T][PER];

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    /* Allocate our row, then free the previous thread's row (cross-thread). */
    for (int i = 0; i < PER; i++) {
        size_t n = (size_t)(i * 37 % 3000) + 1;
        slots[id][i] = malloc(n);
        CHECK(slots[id][i], "malloc(%zu)", n);
        fill(slots[id][i], n, (unsigned)(id * PER + i));
    }
    return NULL;
}

int main(void) {
    const char *(*version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hakmem_version");
    arena = (arena_fn)dlsym(RTLD_DEFAULT, "hakmem_arena");
    if (!version || !arena) {
        printf("hk_smoke: hakmem is not loaded\n");
        return 3;
    }
    void *p = malloc(40);
    CHECK(p && owned(p), "malloc(40) = %p is not in hakmem's arena: malloc is not hakmem's", p);
    free(p);

    /* The API, briefly (the unit tests do this thoroughly). */
    static const size_t sizes[] = { 0, 1, 8, 17, 1000, 1024, 1025, 40000, 2000000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *a = malloc(n);
        CHECK(a && malloc_usable_size(a) >= n, "malloc(%zu)", n);
        fill(a, n, 1);
        a = realloc(a, n * 2 + 10);
        CHECK(a && same(a, n, 1), "realloc(%zu)", n);
        free(a);
        unsigned char *c = calloc(n + 1, 3);
        CHECK(c, "calloc");
        for (size_t k = 0; k < (n + 1) * 3; k++) CHECK(c[k] == 0, "calloc not zeroed");
        free(c);
        void *m = NULL;
        CHECK(posix_memalign(&m, 4096, n) == 0 && ((uintptr_t)m & 4095) == 0, "posix_memalign");
        free(m);
        m = aligned_alloc(64, n);  CHECK(m && ((uintptr_t)m & 63) == 0, "aligned_alloc"); free(m);
        m = memalign(256, n);      CHECK(m && ((uintptr_t)m & 255) == 0, "memalign"); free(m);
        m = valloc(n);             CHECK(m && ((uintptr_t)m & 4095) == 0, "valloc"); free(m);
        m = pvalloc(n);            CHECK(m && malloc_usable_size(m) >= n, "pvalloc"); free(m);
    }
    volatile size_t huge = SIZE_MAX / 2 + 1;
    errno = 0;
    CHECK(malloc(huge) == NULL && errno == ENOMEM, "malloc(huge)");
    free(NULL);

    /* Threads: each allocates a row; the main thread frees them all. */
    pthread_t t[T];
    for (int i = 0; i < T; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);

    /* Fork: the child checks and frees the exited threads' blocks. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        alarm(20);
        for (int id = 0; id < T; id++)
            for (int i = 0; i < PER; i++) {
                size_t n = (size_t)(i * 37 % 3000) + 1;
                CHECK(same(slots[id][i], n, (unsigned)(id * PER + i)), "child: block corrupted");
                free(slots[id][i]);
            }
        void *q = malloc(12345);
        CHECK(q && owned(q), "child: malloc");
        free(q);
        exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child failed (status %#x)", st);
    for (int id = 0; id < T; id++)
        for (int i = 0; i < PER; i++) {
            size_t n = (size_t)(i * 37 % 3000) + 1;
            CHECK(same(slots[id][i], n, (unsigned)(id * PER + i)), "block corrupted");
            free(slots[id][i]);
        }
    malloc_trim(0);
    printf("hk_smoke: ok (hakmem %s)\n", version());
    return 0;
}
