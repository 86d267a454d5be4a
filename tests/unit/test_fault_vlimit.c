/* test_fault_vlimit.c - an address-space limit (ulimit -v).
 *
 * The parent sets RLIMIT_AS to 256 MiB and re-executes itself, so hakmem
 * starts under the limit: the 128 GiB arena reservation fails and the
 * growable arena takes over (smaller than the limit, growing in place).
 * The child then:
 *  - allocates tiny blocks until malloc returns NULL with ENOMEM (no
 *    crash, no abort), keeping them in a chain written into the blocks;
 *  - checks that every entry point of every tier fails cleanly then
 *    (NULL + ENOMEM; posix_memalign returns ENOMEM, *p untouched);
 *  - checks the chain (every block kept its contents);
 *  - frees half of it and allocates again (memory freed is reused);
 *  - raises the limit (memory is back) and allocates 256 MiB more, in every
 *    tier: the arena grows past where it stopped.
 */
#include "check.h"

#include <sys/resource.h>
#include <sys/wait.h>

#define LIMIT ((rlim_t)256 << 20)

typedef struct chain { struct chain *next; uint64_t tag; } chain;

static void expect_enomem(const char *what, void *p, int e) {
    CHECK(p == NULL, "%s under the limit returned %p, expected NULL", what, p);
    CHECK(e == ENOMEM, "%s: errno %d, expected ENOMEM", what, e);
}

static int child(void) {
    uintptr_t base;
    size_t size;
    void *first = malloc(64);
    CHECK(first, "first malloc under the limit failed");
    hakmem_arena(&base, &size);
    CHECK(size > 0 && size < LIMIT, "arena of %zu bytes under a %llu-byte limit", size,
          (unsigned long long)LIMIT);
    CHECK((uintptr_t)first - base < size, "the first block is not in the arena");
    printf("growable arena at %#lx, %zu MiB at start\n", (unsigned long)base, size >> 20);

    /* fill the address space with 1 KiB blocks */
    chain *head = NULL;
    size_t n = 0;
    for (;;) {
        errno = 0;
        chain *l = malloc(1000);
        if (!l) { CHECK(errno == ENOMEM, "malloc failed with errno %d", errno); break; }
        l->next = head;
        l->tag = 0x1234567800000000ull ^ n;
        memset(l + 1, (int)(n & 0xff), 1000 - sizeof *l);
        head = l;
        n++;
        CHECK(n < (LIMIT >> 10) * 2, "no ENOMEM after %zu blocks", n);
    }
    hakmem_arena(&base, &size);
    printf("%zu blocks (%zu MiB) before ENOMEM; arena %zu MiB\n", n, (n * 1000) >> 20, size >> 20);
    CHECK(n * 1000 > LIMIT / 4, "only %zu KiB allocated under a 256 MiB limit", (n * 1000) >> 10);

    /* every entry point, every tier: NULL + ENOMEM */
    static const size_t sz[] = { 5000, 100000, 900000, 3 * MiB, 40 * MiB };
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        errno = 0; void *p = malloc(sz[i]); int e = errno;
        if (p) { free(p); continue; }   /* a tier with a cached block may still serve */
        expect_enomem("malloc", p, e);
        errno = 0; p = calloc(1, sz[i]); expect_enomem("calloc", p, errno);
        void *q = (void *)0x5a5a5a50;
        int rc = posix_memalign(&q, 4096, sz[i]);
        CHECK(rc == ENOMEM && q == (void *)0x5a5a5a50, "posix_memalign: %d, *p %p", rc, q);
        errno = 0; p = aligned_alloc(64, sz[i]); expect_enomem("aligned_alloc", p, errno);
        errno = 0; p = realloc(NULL, sz[i]); expect_enomem("realloc(NULL)", p, errno);
    }
    errno = 0;
    CHECK(malloc(40 * MiB) == NULL && errno == ENOMEM, "malloc(40 MiB) under the limit");

    /* contents intact */
    size_t k = n;
    for (chain *l = head; l; l = l->next) {
        k--;
        CHECK(l->tag == (0x1234567800000000ull ^ k), "block %zu lost its tag", k);
        const uint8_t *b = (const uint8_t *)(l + 1);
        CHECK(b[0] == (k & 0xff) && b[1000 - sizeof *l - 1] == (k & 0xff), "block %zu corrupted", k);
    }
    CHECK(k == 0, "chain length changed");

    /* free half, allocate again */
    size_t freed = 0;
    for (chain **pl = &head; *pl; ) {
        chain *l = *pl;
        if (l->tag & 1) { *pl = l->next; free(l); freed++; } else pl = &l->next;
    }
    for (size_t i = 0; i < freed / 2; i++) {
        void *p = malloc(1000);
        CHECK(p, "malloc after freeing %zu blocks failed (block %zu)", freed, i);
        memset(p, 1, 1000);
    }

    /* memory is back: the arena grows again */
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit");
    rl.rlim_cur = rl.rlim_max;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "raising RLIMIT_AS: %s", strerror(errno));
    size_t got = 0;
    for (int i = 0; got < 256 * MiB; i++) {
        size_t s = i % 3 == 0 ? 8 * MiB : i % 3 == 1 ? 300000 : 20000;
        char *p = malloc(s);
        CHECK(p, "malloc(%zu) failed after the limit was raised (%zu MiB got)", s, got >> 20);
        memset(p, 2, 4096);
        got += s;
    }
    void *t = malloc(100);
    CHECK(t && (uintptr_t)t - base < ((size_t)4 << 40), "tiny malloc after raising the limit");
    hakmem_arena(&base, &size);
    printf("after raising the limit: arena %zu MiB\n", size >> 20);
    CHECK(size >= 256 * MiB, "the arena did not grow (%zu MiB)", size >> 20);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "child")) return child();
    char *self = realpath("/proc/self/exe", NULL);
    CHECK(self, "realpath");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct rlimit rl;
        CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit");
        rl.rlim_cur = LIMIT;
        CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS): %s", strerror(errno));
        alarm(60);
        char *av[] = { self, "child", NULL };
        execv(self, av);
        _exit(127);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child under RLIMIT_AS=256 MiB %s %d",
          WIFEXITED(st) ? "exited" : "died with signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    printf("test_fault_vlimit: ok\n");
    return 0;
}
