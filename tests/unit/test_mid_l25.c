/* test_mid_l25.c - the Mid tier (1 KiB < size <= 32 KiB) and the L2.5 pool
 * (32 KiB < size <= 1 MiB), observed through their counters
 * (hks_tier[HKS_TIER_MID] and [HKS_TIER_L25]).
 *
 *  sizes      every class edge and a stride over both tiers: 16-byte
 *             alignment, honest usable size (written in full), no overlap;
 *             allocs/frees/bytes counted exactly per tier.
 *  reuse      freed blocks are reused: the same requests again get the same
 *             addresses, with no new segment (and, in Mid, no new page).
 *  remote     blocks freed by another thread reach their owner's queue
 *             (remote_sent) and are received (remote_recv) and reused by the
 *             owner, again without a new segment.
 *  invalid    (a re-executed child with HAKMEM_EXTERNAL=warn) interior
 *             pointers, never-carved blocks and double frees are reported and
 *             change nothing; with the default (abort) a double free aborts.
 *  orphans    a thread exits with live blocks; two threads free them at the
 *             same time (adoption races); every segment goes back.
 *  retention  300 threads each keep one block and exit: new threads adopt
 *             the orphaned segments, the segment count stays flat.
 *  rss        64 MiB freed by their own thread: after two decay periods
 *             RSS falls to the live pages, also when 1 block in 64 stays
 *             live (purge of freed units), and the empty segments go back;
 *             malloc_trim gives back the rest.
 *  aligned    valloc/posix_memalign/aligned_alloc served by these tiers are
 *             aligned, page-efficient (valloc(100) takes one page).
 *  fork       a child frees Mid/L2.5 blocks of a thread that vanished in it;
 *             then 60 forks while threads allocate, free each other's blocks
 *             and exit: no child may hang or fail.
 *  stress     three generations of four threads pass tagged blocks around a
 *             ring (cross-thread frees, survivors handed to the next
 *             generation); afterwards allocs == frees and remote_sent ==
 *             remote_recv for both tiers, and every segment is back.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>

#define MID 0
#define L25 1
static const unsigned TIER[2] = { HKS_TIER_MID, HKS_TIER_L25 };

static int tier_of(size_t n) { return n <= 32 * KiB ? MID : L25; }

/* The documented classes: four per doubling above 1 KiB (Mid) / 32 KiB
 * (L2.5); the usable size is the class size. */
static size_t class_size(size_t n) {
    size_t b = n <= 32 * KiB ? 1024 : 32 * KiB;
    while (b * 2 < n) b *= 2;
    size_t step = b / 4;
    return (n + step - 1) / step * step;
}

static uint64_t tv(const snap *s, int t, size_t off) {
    return *(const uint64_t *)((const char *)&s->t.tier[TIER[t]] + off);
}
#define TD(a, b, t, f) ((int64_t)(tv((b), (t), offsetof(hks_tier, f)) - tv((a), (t), offsetof(hks_tier, f))))
#define LIVE_SEGS(s, t) ((int64_t)(tv((s), (t), offsetof(hks_tier, segments)) - \
                                   tv((s), (t), offsetof(hks_tier, segments_freed))))

static void *xmalloc(size_t n) {
    void *p = malloc(opaque(n));
    CHECK(p != NULL, "malloc(%zu) returned NULL (errno %d)", n, errno);
    CHECK(hk_owns(p), "malloc(%zu) = %p is not in hakmem's arena", n, p);
    return p;
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- sizes ------------------------------------------------------------- */

static live_set ls;
static int64_t n_alloc[2], n_bytes[2];
static snap ex;   /* counts made by ls_verify itself (glibc's qsort mallocs) */

static void verify_uncounted(void) {
    snap v0, v1;
    snap_take(&v0);
    ls_verify(&ls, "Mid/L2.5 blocks");
    snap_take(&v1);
    for (int t = 0; t < 2; t++) {
        hks_tier *e = &ex.t.tier[TIER[t]];
        e->allocs += (uint64_t)TD(&v0, &v1, t, allocs);
        e->frees += (uint64_t)TD(&v0, &v1, t, frees);
        e->bytes_alloc += (uint64_t)TD(&v0, &v1, t, bytes_alloc);
        e->bytes_freed += (uint64_t)TD(&v0, &v1, t, bytes_freed);
    }
}

static void one(size_t n) {
    void *p = xmalloc(n);
    CHECK(((uintptr_t)p & 15) == 0, "malloc(%zu) = %p is not 16-byte aligned", n, p);
    size_t u = malloc_usable_size(p);
    CHECK(u == class_size(n), "malloc_usable_size(malloc(%zu)) = %zu, class size is %zu", n, u, class_size(n));
    ls_add(&ls, p, n, "Mid/L2.5 block");
    n_alloc[tier_of(n)]++;
    n_bytes[tier_of(n)] += (int64_t)u;
    if (ls.bytes > 48 * MiB) {
        verify_uncounted();
        ls_free_all(&ls);
    }
}

static void test_sizes(void) {
    snap a, b;
    ls_init(&ls, 1 << 16);
    snap_take(&a);
    for (size_t base = 1024; base < 1 * MiB; base *= 2)
        for (size_t k = 5; k <= 8; k++) {
            size_t edge = base / 4 * k;
            one(edge - 1); one(edge);
            if (edge + 1 <= 1 * MiB && edge + 1 != 32 * KiB + 1) one(edge + 1);
        }
    one(1025); one(32 * KiB); one(32 * KiB + 1); one(1 * MiB);
    for (size_t n = 1025; n <= 32 * KiB; n += 61) one(n);
    for (size_t n = 32 * KiB + 1; n <= 1 * MiB; n += 4093) one(n);
    verify_uncounted();
    ls_free_all(&ls);
    snap_take(&b);
    for (int t = 0; t < 2; t++) {   /* b - a, minus what ls_verify did */
        hks_tier *e = &ex.t.tier[TIER[t]], *bt = &b.t.tier[TIER[t]];
        bt->allocs -= e->allocs; bt->frees -= e->frees;
        bt->bytes_alloc -= e->bytes_alloc; bt->bytes_freed -= e->bytes_freed;
    }
    for (int t = 0; t < 2; t++) {
        CHECK(TD(&a, &b, t, allocs) == n_alloc[t], "tier %d: allocs counted %lld, made %lld", t,
              (long long)TD(&a, &b, t, allocs), (long long)n_alloc[t]);
        CHECK(TD(&a, &b, t, frees) == n_alloc[t], "tier %d: frees counted %lld, made %lld", t,
              (long long)TD(&a, &b, t, frees), (long long)n_alloc[t]);
        CHECK(TD(&a, &b, t, bytes_alloc) == n_bytes[t] && TD(&a, &b, t, bytes_freed) == n_bytes[t],
              "tier %d: bytes_alloc %lld / bytes_freed %lld, expected %lld", t,
              (long long)TD(&a, &b, t, bytes_alloc), (long long)TD(&a, &b, t, bytes_freed), (long long)n_bytes[t]);
        CHECK(TD(&a, &b, t, refills) > 0 && TD(&a, &b, t, segments) > 0, "tier %d: no refill/segment counted", t);
    }
    ls_destroy(&ls);
    printf("sizes: %lld Mid and %lld L2.5 blocks, counters exact\n", (long long)n_alloc[MID], (long long)n_alloc[L25]);
}

/* ---- reuse --------------------------------------------------------------- */

enum { RN = 600 };

/* Allocate RN blocks, free every other one (so no page empties), allocate
 * RN / 2 again: every new block is one of the freed ones. */
static void test_reuse(void) {
    static const size_t sz[2] = { 20000, 100000 };
    static uintptr_t freed[2][RN / 2];
    static void *v[2][RN];
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < RN; i++) { v[t][i] = xmalloc(sz[t]); tag_fill(v[t][i], 64, (uint64_t)i); }
        for (int i = 1; i < RN; i += 2) { freed[t][i / 2] = (uintptr_t)v[t][i]; free(v[t][i]); }
        qsort(freed[t], RN / 2, sizeof(uintptr_t), cmp_ptr);
    }
    snap a, b;
    snap_take(&a);
    for (int t = 0; t < 2; t++)
        for (int i = 1; i < RN; i += 2) v[t][i] = xmalloc(sz[t]);
    snap_take(&b);
    for (int t = 0; t < 2; t++) {
        int reused = 0;
        for (int i = 1; i < RN; i += 2) {
            uintptr_t p = (uintptr_t)v[t][i];
            reused += bsearch(&p, freed[t], RN / 2, sizeof(uintptr_t), cmp_ptr) != NULL;
        }
        CHECK(reused == RN / 2, "tier %d: only %d of %d freed blocks reused", t, reused, RN / 2);
        /* Mid pages hold many blocks: no page is carved.  An L2.5 page is
         * one block, so a freed block's page goes and a new one is carved
         * on the same units (same address, checked above). */
        CHECK(t == L25 || TD(&a, &b, t, refills) == 0, "tier %d: %lld refills while freed blocks were available", t,
              (long long)TD(&a, &b, t, refills));
        CHECK(TD(&a, &b, t, segments) == 0, "tier %d: new segments while freed blocks were available", t);
        for (int i = 0; i < RN; i += 2) CHECK_TAG(v[t][i], 64, (uint64_t)i, "surviving block");
        for (int i = 0; i < RN; i++) free(v[t][i]);
    }
    printf("reuse: %d + %d freed blocks reused, no refill\n", RN / 2, RN / 2);
}

/* ---- remote --------------------------------------------------------------- */

/* The owner allocates; another thread frees every other block (so no page
 * empties) while the owner lives; the owner then allocates as many again
 * and must get exactly those blocks back through its queue. */
enum { MN = 1500, LN = 200, RT = MN + LN };
static void *rv[RT];
static uintptr_t rfreed[RT / 2];
static pthread_barrier_t rbar;
static snap r0, r1, r2;

static size_t rsize(int i) { return i < MN ? 8 * KiB : 64 * KiB; }

static void *remote_freer(void *arg) {
    (void)arg;
    pthread_barrier_wait(&rbar);                 /* owner allocated */
    for (int i = 1; i < RT; i += 2) {
        CHECK_TAG(rv[i], rsize(i), (uint64_t)i, "block from the owner");
        rfreed[i / 2] = (uintptr_t)rv[i];
        free(rv[i]);
    }
    pthread_barrier_wait(&rbar);                 /* freed */
    pthread_barrier_wait(&rbar);                 /* owner reused them */
    return NULL;
}

static void *remote_owner(void *arg) {
    (void)arg;
    for (int i = 0; i < RT; i++) { rv[i] = xmalloc(rsize(i)); tag_fill(rv[i], rsize(i), (uint64_t)i); }
    snap_take(&r0);
    pthread_barrier_wait(&rbar);
    pthread_barrier_wait(&rbar);
    snap_take(&r1);
    for (int i = 1; i < RT; i += 2) { rv[i] = xmalloc(rsize(i)); tag_fill(rv[i], rsize(i), (uint64_t)i + 99); }
    snap_take(&r2);
    qsort(rfreed, RT / 2, sizeof(uintptr_t), cmp_ptr);
    int reused = 0;
    for (int i = 1; i < RT; i += 2) {
        uintptr_t p = (uintptr_t)rv[i];
        reused += bsearch(&p, rfreed, RT / 2, sizeof(uintptr_t), cmp_ptr) != NULL;
    }
    CHECK(reused == RT / 2, "owner reused only %d of %d remotely freed blocks", reused, RT / 2);
    pthread_barrier_wait(&rbar);
    for (int i = 0; i < RT; i++) { CHECK_TAG(rv[i], rsize(i), (uint64_t)i + (i & 1 ? 99 : 0), "owner block"); free(rv[i]); }
    return NULL;
}

static void test_remote(void) {
    pthread_t a, b;
    pthread_barrier_init(&rbar, NULL, 2);
    CHECK(pthread_create(&a, NULL, remote_owner, NULL) == 0, "pthread_create");
    CHECK(pthread_create(&b, NULL, remote_freer, NULL) == 0, "pthread_create");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_barrier_destroy(&rbar);
    static const int n[2] = { MN / 2, LN / 2 };
    for (int t = 0; t < 2; t++) {
        CHECK(TD(&r0, &r1, t, remote_sent) == n[t], "tier %d: remote_sent %lld, expected %d", t,
              (long long)TD(&r0, &r1, t, remote_sent), n[t]);
        CHECK(TD(&r1, &r2, t, remote_recv) == n[t], "tier %d: the owner received %lld remote frees, expected %d", t,
              (long long)TD(&r1, &r2, t, remote_recv), n[t]);
        CHECK(TD(&r1, &r2, t, segments) == 0 && (t == L25 || TD(&r1, &r2, t, refills) == 0),
              "tier %d: the owner took new memory instead of its remotely freed blocks", t);
    }
    printf("remote: %d + %d blocks freed by another thread, received and reused by the owner\n", MN / 2, LN / 2);
}

/* ---- invalid pointers (child process, HAKMEM_EXTERNAL=warn) -------------- */

static void invalid_child(void) {
    for (int t = 0; t < 2; t++) {
        size_t n = t == MID ? 20000 : 200000, cs = class_size(n);
        char *p = xmalloc(n);
        tag_fill(p, n, 7);
        /* interior pointer: reported, nothing changes */
        free(hide(p + 16));
        free(hide(p + cs / 2));
        CHECK(malloc_usable_size(p) == cs, "usable size changed after an interior free");
        CHECK_TAG(p, n, 7, "block after interior frees");
        /* the next block of the page, never handed out */
        char *q = xmalloc(n);
        char *never = (q > p ? q : p) + cs;
        if (hk_owns(never)) free(hide(never));
        free(q);
        /* double free: the second is refused, so the block comes back once */
        char *again = hide(p);
        free(p);
        free(again);
        char *a = xmalloc(n), *b = xmalloc(n), *c = xmalloc(n);
        CHECK(a != b && b != c && a != c, "a double-freed block was handed out twice: %p %p %p", a, b, c);
        free(a); free(b); free(c);
    }
    printf("child: ok\n");
    fflush(stdout);
    _exit(0);
}

static void run_child(char *self, const char *mode, const char *arg, int *status, char *out, size_t outsz) {
    int fd[2];
    CHECK(pipe(fd) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fd[1], 2);
        dup2(fd[1], 1);
        close(fd[0]);
        char env[64];
        snprintf(env, sizeof env, "HAKMEM_EXTERNAL=%s", mode);
        char *envp[] = { env, NULL };
        char *argv[] = { self, (char *)arg, NULL };
        execve("/proc/self/exe", argv, envp);
        _exit(126);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], out + n, outsz - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fd[0]);
    CHECK(waitpid(pid, status, 0) == pid, "waitpid");
}

static size_t count_of(const char *s, const char *needle) {
    size_t k = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) k++;
    return k;
}

static void test_invalid(char *self) {
    static char out[16384];
    int st;
    run_child(self, "warn", "--invalid-child", &st, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "invalid-pointer child failed (status %#x):\n%s", st, out);
    CHECK(strstr(out, "child: ok"), "invalid-pointer child did not finish:\n%s", out);
    /* per tier: 2 interior, 1 never carved, 1 double free */
    size_t reports = count_of(out, "hakmem: free()");
    CHECK(reports == 8, "expected 8 reports of invalid frees, got %zu:\n%s", reports, out);
    run_child(self, "abort", "--double-free-child", &st, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a double free of a Mid block did not abort (status %#x):\n%s", st, out);
    printf("invalid: interior, never-carved and double frees refused without damage; abort by default\n");
}

static void double_free_child(void) {
    void *p = xmalloc(5000), *again = hide(p);
    free(p);
    free(again);
    _exit(0);
}

/* ---- orphans --------------------------------------------------------------- */

enum { ON = 3000 };
static void *ov[ON];
static size_t osz[ON];
static pthread_barrier_t obar;

static void *orphan_maker(void *arg) {
    uint64_t rng = (uintptr_t)arg;
    for (int i = 0; i < ON; i++) {
        osz[i] = i % 8 == 0 ? 32 * KiB + 1 + rng_next(&rng) % (300 * KiB) : 1025 + rng_next(&rng) % (31 * KiB);
        ov[i] = xmalloc(osz[i]);
        tag_fill(ov[i], osz[i], (uint64_t)i);
    }
    return NULL;   /* exits with every block live */
}

static void *orphan_freer(void *arg) {
    int half = (int)(uintptr_t)arg;
    pthread_barrier_wait(&obar);
    for (int i = half; i < ON; i += 2) { CHECK_TAG(ov[i], osz[i], (uint64_t)i, "block of an exited thread"); free(ov[i]); }
    return NULL;
}

static void test_orphans(void) {
    snap a, b;
    malloc_trim(0);
    snap_take(&a);
    pthread_t m, f[2];
    CHECK(pthread_create(&m, NULL, orphan_maker, (void *)(uintptr_t)12345) == 0, "pthread_create");
    pthread_join(m, NULL);
    pthread_barrier_init(&obar, NULL, 2);
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&f[i], NULL, orphan_freer, (void *)(uintptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < 2; i++) pthread_join(f[i], NULL);
    pthread_barrier_destroy(&obar);
    malloc_trim(0);
    snap_take(&b);
    for (int t = 0; t < 2; t++) {
        CHECK(TD(&a, &b, t, allocs) == TD(&a, &b, t, frees), "tier %d: %lld allocs but %lld frees", t,
              (long long)TD(&a, &b, t, allocs), (long long)TD(&a, &b, t, frees));
        CHECK(LIVE_SEGS(&b, t) <= LIVE_SEGS(&a, t), "tier %d: %lld segments live after every block of the exited thread was freed (%lld before)",
              t, (long long)LIVE_SEGS(&b, t), (long long)LIVE_SEGS(&a, t));
    }
    printf("orphans: %d blocks of an exited thread freed by two threads at once; segments back\n", ON);
}

/* Retention: 300 threads each keep one Mid and one L2.5 block and exit.
 * Each new thread adopts the orphaned segments of its predecessors before
 * asking the arena, so the segment count stays flat. */
enum { RTN = 300 };
static void *kept[RTN][2];

static void *keeper(void *arg) {
    int i = (int)(uintptr_t)arg;
    kept[i][0] = xmalloc(6000);
    kept[i][1] = xmalloc(70000);
    tag_fill(kept[i][0], 6000, (uint64_t)i);
    tag_fill(kept[i][1], 70000, (uint64_t)i);
    return NULL;
}

static void test_retention(void) {
    snap a, b;
    malloc_trim(0);
    snap_take(&a);
    for (int i = 0; i < RTN; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, keeper, (void *)(uintptr_t)i) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    snap_take(&b);
    static const size_t ksz[2] = { 6000, 70000 };
    for (int t = 0; t < 2; t++) {
        /* what the live blocks need (an L2.5 block fills whole 64 KiB
         * units of its own page), at 90% packing, plus slack */
        size_t foot = t == L25 ? (class_size(ksz[t]) + 64 * KiB - 1) / (64 * KiB) * (64 * KiB) : class_size(ksz[t]);
        int64_t need = (int64_t)(RTN * foot / (2 * MiB * 9 / 10)) + 3;
        CHECK(LIVE_SEGS(&b, t) - LIVE_SEGS(&a, t) <= need,
              "tier %d: %lld new segments for %d threads keeping one block each (%lld would do)",
              t, (long long)(LIVE_SEGS(&b, t) - LIVE_SEGS(&a, t)), RTN, (long long)need);
    }
    for (int i = 0; i < RTN; i++) {
        CHECK_TAG(kept[i][0], 6000, (uint64_t)i, "kept Mid block");
        CHECK_TAG(kept[i][1], 70000, (uint64_t)i, "kept L2.5 block");
        free(kept[i][0]);
        free(kept[i][1]);
    }
    printf("retention: %d exited threads' blocks in %lld Mid + %lld L2.5 segments\n", RTN,
           (long long)(LIVE_SEGS(&b, MID) - LIVE_SEGS(&a, MID)), (long long)(LIVE_SEGS(&b, L25) - LIVE_SEGS(&a, L25)));
}

/* ---- rss ------------------------------------------------------------------- */

/* Let the decay pass run: freed memory unused for two periods (100 ms
 * each) goes back.  A pass runs from the allocator's slow paths, here the
 * periodic cache trim that every 4096 frees of a thread bring; each trim
 * also halves the per-class caches (10 cached 24 KiB blocks: 4 passes). */
static void decay_wait(void) {
    for (int round = 0; round < 5; round++) {
        usleep(130 * 1000);
        for (int i = 0; i < 5000; i++) free(xmalloc(2000));
    }
}

static void test_rss(void) {
    enum { N = 64 * 1024 / 24 };   /* 64 MiB of 24 KiB blocks */
    static void *v[N];
    malloc_trim(0);
    snap a, b;
    snap_take(&a);
    long base = rss_kb();
    for (int i = 0; i < N; i++) { v[i] = xmalloc(24 * KiB); memset(v[i], i, 24 * KiB); }
    long full = rss_kb();
    CHECK(full - base > 56 * 1024, "RSS grew by only %ld KiB for 64 MiB of touched blocks", full - base);
    /* Keep one block in 64 (1 MiB of blocks, ~8 MiB of pages): no segment
     * empties, so only the purge of freed units can give RSS back.  Right
     * after the frees the thread may keep what it used during the current
     * decay period (its recent peak: it may need it again at once); after
     * two decay periods of activity only the live pages remain. */
    for (int i = 0; i < N; i++) if (i % 64) free(v[i]);
    long sparse_now = rss_kb();
    CHECK(sparse_now <= full + 1024, "RSS grew from %ld to %ld KiB while freeing", full, sparse_now);
    decay_wait();
    long sparse = rss_kb();
    CHECK(sparse - base < 16 * 1024, "RSS still %ld KiB above the start with 1/64 of 64 MiB live, after decay",
          sparse - base);
    for (int i = 0; i < N; i += 64) free(v[i]);
    decay_wait();
    long freed = rss_kb();
    CHECK(freed - base < 8 * 1024, "RSS still %ld KiB above the start after freeing 64 MiB and decay", freed - base);
    snap d;
    snap_take(&d);
    /* what may stay: the empty head page kept per used class (24 KiB and
     * the 2000 B churn), and the segment being carved for the churn */
    CHECK(LIVE_SEGS(&d, MID) <= LIVE_SEGS(&a, MID) + 3, "empty Mid segments kept after decay: %lld live, %lld before",
          (long long)LIVE_SEGS(&d, MID), (long long)LIVE_SEGS(&a, MID));
    malloc_trim(0);
    long trimmed = rss_kb();
    snap_take(&b);
    CHECK(trimmed - base < 4 * 1024, "RSS still %ld KiB above the start after malloc_trim", trimmed - base);
    CHECK(LIVE_SEGS(&b, MID) <= LIVE_SEGS(&a, MID), "Mid segments not given back: %lld live, %lld before",
          (long long)LIVE_SEGS(&b, MID), (long long)LIVE_SEGS(&a, MID));
    CHECK(TD(&a, &b, MID, segments_freed) > 0, "no Mid segment was given back");
    /* malloc_trim right after the frees (no decay yet) gives back the freed
     * units even where 1 block in 64 keeps its segment (and 1 page in 8)
     * in use: ~28 of 32 MiB */
    for (int i = 0; i < N / 2; i++) { v[i] = xmalloc(24 * KiB); memset(v[i], i, 24 * KiB); }
    long full2 = rss_kb();
    for (int i = 0; i < N / 2; i++) if (i % 64) free(v[i]);
    malloc_trim(0);
    long trimmed2 = rss_kb();
    CHECK(full2 - trimmed2 > 24 * 1024, "malloc_trim right after freeing 31.5 of 32 MiB gave back only %ld KiB",
          full2 - trimmed2);
    for (int i = 0; i < N / 2; i += 64) free(v[i]);
    printf("rss: +%ld KiB full; 1/64 live: +%ld KiB, +%ld KiB after decay; all freed: +%ld KiB after decay, "
           "+%ld KiB after trim; trim at once: -%ld KiB\n", full - base, sparse_now - base, sparse - base,
           freed - base, trimmed - base, full2 - trimmed2);
}

/* ---- aligned --------------------------------------------------------------- */

static void test_aligned(void) {
    snap a, b;
    snap_take(&a);
    struct { size_t n, max_usable; } va[] = { { 0, 4096 }, { 100, 4096 }, { 4096, 4096 }, { 5000, 8192 },
                                              { 12288, 12288 }, { 20000, 20480 }, { 40000, 40960 } };
    for (size_t i = 0; i < sizeof va / sizeof va[0]; i++) {
        void *p = valloc(va[i].n);
        CHECK(p && ((uintptr_t)p & 4095) == 0, "valloc(%zu) = %p", va[i].n, p);
        size_t u = malloc_usable_size(p);
        CHECK(u >= va[i].n && u <= va[i].max_usable, "valloc(%zu): usable size %zu (expected %zu..%zu)", va[i].n, u,
              va[i].n, va[i].max_usable);
        memset(p, 0xab, u);
        free(p);
    }
    /* every L2.5 block starts its own 64 KiB-aligned page */
    void *m = memalign(64 * KiB, 33000);
    CHECK(m && ((uintptr_t)m & (64 * KiB - 1)) == 0, "memalign(64 KiB, 33000) = %p", m);
    CHECK(malloc_usable_size(m) == 40 * KiB, "memalign(64 KiB, 33000): usable %zu, the 40 KiB class is aligned",
          malloc_usable_size(m));
    free(m);
    for (size_t al = 32; al <= 64 * KiB; al *= 2)
        for (size_t n = 1; n <= 1 * MiB; n = n * 3 + 1000) {
            void *p = NULL;
            CHECK(posix_memalign(&p, al, n) == 0 && p, "posix_memalign(%zu, %zu)", al, n);
            CHECK(((uintptr_t)p & (al - 1)) == 0, "posix_memalign(%zu, %zu) = %p misaligned", al, n, p);
            size_t u = malloc_usable_size(p);
            CHECK(u >= n, "posix_memalign(%zu, %zu): usable %zu", al, n, u);
            tag_fill(p, u, al + n);
            void *q = aligned_alloc(al, n);
            CHECK(q && ((uintptr_t)q & (al - 1)) == 0, "aligned_alloc(%zu, %zu) = %p", al, n, q);
            CHECK_TAG(p, u, al + n, "aligned block");
            free(q);
            free(p);
        }
    snap_take(&b);
    CHECK(TD(&a, &b, MID, allocs) > 0 && TD(&a, &b, L25, allocs) > 0, "aligned requests never reached Mid and L2.5");
    printf("aligned: valloc page-efficient, alignments 32..64 KiB honoured\n");
}

/* ---- fork ------------------------------------------------------------------- */

enum { FN = 400 };
static void *fv[FN];
static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fcv = PTHREAD_COND_INITIALIZER;
static int fstage;

static size_t fsize(int i) { return i & 1 ? 3000 + (size_t)i * 50 : 40 * KiB + (size_t)i * 1000; }

static void *fork_owner(void *arg) {
    (void)arg;
    for (int i = 0; i < FN; i++) { fv[i] = xmalloc(fsize(i)); tag_fill(fv[i], fsize(i), (uint64_t)i); }
    pthread_mutex_lock(&fmu);
    fstage = 1;
    pthread_cond_broadcast(&fcv);
    while (fstage != 2) pthread_cond_wait(&fcv, &fmu);
    pthread_mutex_unlock(&fmu);
    for (int i = 0; i < FN; i++) { CHECK_TAG(fv[i], fsize(i), (uint64_t)i, "parent block"); free(fv[i]); }
    return NULL;
}

static void test_fork(void) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fork_owner, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&fmu);
    while (fstage != 1) pthread_cond_wait(&fcv, &fmu);
    pthread_mutex_unlock(&fmu);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* The owner does not exist here: its blocks must still be freeable. */
        for (int i = 0; i < FN; i++) { CHECK_TAG(fv[i], fsize(i), (uint64_t)i, "block of a vanished thread"); free(fv[i]); }
        for (int i = 0; i < FN; i++) { fv[i] = xmalloc(fsize(i)); tag_fill(fv[i], fsize(i), (uint64_t)i + 5); }
        for (int i = 0; i < FN; i++) { CHECK_TAG(fv[i], fsize(i), (uint64_t)i + 5, "child block"); free(fv[i]); }
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child failed (status %#x)", st);
    pthread_mutex_lock(&fmu);
    fstage = 2;
    pthread_cond_broadcast(&fcv);
    pthread_mutex_unlock(&fmu);
    pthread_join(t, NULL);
    printf("fork: a child freed %d blocks of a vanished thread\n", FN);
}

/* Fork while other threads allocate, free each other's blocks and exit: a
 * child must be able to free blocks of threads that vanished at any point
 * of their work, exit included (a hang here once came from a thread caught
 * between two steps of its exit).  A child that hangs is killed by alarm. */
enum { FSLOTS = 256, FORKS = 60 };
static _Atomic(void *) fslot[FSLOTS];
static _Atomic int fstop;

static void *fork_churn(void *arg) {
    uint64_t r = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 150; i++) {
        uint64_t x = rng_next(&r);
        size_t n = x % 3 == 0 ? 32 * KiB + 1 + (x >> 8) % (200 * KiB) : 1025 + (x >> 8) % (31 * KiB);
        void *p = xmalloc(n);
        memset(p, 0x5a, 64);
        void *old = atomic_exchange(&fslot[(x >> 32) % FSLOTS], p);
        if (old) free(old);
    }
    return NULL;
}

static void *fork_spawner(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    while (!atomic_load(&fstop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, fork_churn, (void *)id++) == 0) pthread_join(t, NULL);
    }
    return NULL;
}

static void test_fork_churn(void) {
    pthread_t sp[3];
    for (uintptr_t i = 0; i < 3; i++)
        CHECK(pthread_create(&sp[i], NULL, fork_spawner, (void *)(i << 20)) == 0, "pthread_create");
    for (int f = 0; f < FORKS; f++) {
        usleep(3000);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            alarm(30);
            for (int i = 0; i < FSLOTS; i++) { void *p = atomic_exchange(&fslot[i], NULL); if (p) free(p); }
            for (int i = 0; i < 500; i++) free(xmalloc(1100 + (size_t)i * 613 % (300 * KiB)));
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork %d: child failed (status %#x%s)", f, st,
              WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? ", hung" : "");
    }
    atomic_store(&fstop, 1);
    for (int i = 0; i < 3; i++) pthread_join(sp[i], NULL);
    for (int i = 0; i < FSLOTS; i++) { void *p = atomic_exchange(&fslot[i], NULL); if (p) free(p); }
    printf("fork churn: %d children freed blocks of threads that vanished mid-work\n", FORKS);
}

/* ---- stress ------------------------------------------------------------------ */

enum { NT = 4, GENS = 3, OPS = 60000, RING = 512 };
typedef struct msg { uint8_t *p; size_t n; uint64_t tag; } msg;
typedef struct ring {
    pthread_mutex_t mu;
    msg m[RING];
    unsigned head, n;
} ring;
static ring rings[NT];

static int ring_put(ring *r, msg m) {
    pthread_mutex_lock(&r->mu);
    int ok = r->n < RING;
    if (ok) { r->m[(r->head + r->n) % RING] = m; r->n++; }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static int ring_get(ring *r, msg *m) {
    pthread_mutex_lock(&r->mu);
    int ok = r->n > 0;
    if (ok) { *m = r->m[r->head]; r->head = (r->head + 1) % RING; r->n--; }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void check_free(msg m) {
    CHECK(malloc_usable_size(m.p) >= m.n, "usable size of a passed block shrank");
    CHECK_TAG(m.p, m.n, m.tag, "block passed between threads");
    free(m.p);
}

static void *stress_worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg % NT;
    uint64_t rng = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    enum { KEEP = 64 };
    msg own[KEEP];
    memset(own, 0, sizeof own);
    for (int i = 0; i < OPS; i++) {
        uint64_t r = rng_next(&rng);
        size_t n = r % 16 == 0 ? 32 * KiB + 1 + (r >> 8) % (200 * KiB) : 1025 + (r >> 8) % (31 * KiB);
        msg m = { xmalloc(n), n, ((uint64_t)(uintptr_t)arg << 32) | (uint64_t)i };
        tag_fill(m.p, n, m.tag);
        if ((r >> 40) % 3 == 0) {   /* keep some locally: same-thread frees */
            unsigned k = (unsigned)(r >> 48) % KEEP;
            if (own[k].p) check_free(own[k]);
            own[k] = m;
        } else if (!ring_put(&rings[(id + 1) % NT], m)) {
            check_free(m);
        }
        msg g;
        if (ring_get(&rings[id], &g)) check_free(g);
    }
    for (unsigned k = 0; k < KEEP; k++)
        if (own[k].p) {
            if (k & 1) check_free(own[k]);   /* the rest survive this thread */
            else if (!ring_put(&rings[(id + 2) % NT], own[k])) check_free(own[k]);
        }
    return NULL;
}

static void test_stress(void) {
    snap a, b;
    for (int i = 0; i < NT; i++) pthread_mutex_init(&rings[i].mu, NULL);
    malloc_trim(0);
    snap_take(&a);
    for (int g = 0; g < GENS; g++) {
        pthread_t t[NT];
        for (int i = 0; i < NT; i++)
            CHECK(pthread_create(&t[i], NULL, stress_worker, (void *)(uintptr_t)(g * NT + i)) == 0, "pthread_create");
        for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    }
    msg m;
    for (int i = 0; i < NT; i++) while (ring_get(&rings[i], &m)) check_free(m);
    malloc_trim(0);   /* drains this thread's queue */
    snap_take(&b);
    for (int t = 0; t < 2; t++) {
        CHECK(TD(&a, &b, t, allocs) == TD(&a, &b, t, frees), "tier %d: %lld allocs, %lld frees", t,
              (long long)TD(&a, &b, t, allocs), (long long)TD(&a, &b, t, frees));
        CHECK(TD(&a, &b, t, bytes_alloc) == TD(&a, &b, t, bytes_freed), "tier %d: bytes alloc/freed differ", t);
        CHECK(TD(&a, &b, t, remote_sent) > 1000, "tier %d: only %lld remote frees in the stress", t,
              (long long)TD(&a, &b, t, remote_sent));
        CHECK(TD(&a, &b, t, remote_sent) == TD(&a, &b, t, remote_recv), "tier %d: remote_sent %lld != remote_recv %lld", t,
              (long long)TD(&a, &b, t, remote_sent), (long long)TD(&a, &b, t, remote_recv));
        CHECK(LIVE_SEGS(&b, t) <= LIVE_SEGS(&a, t), "tier %d: %lld segments live after the stress (%lld before)", t,
              (long long)LIVE_SEGS(&b, t), (long long)LIVE_SEGS(&a, t));
    }
    printf("stress: %d generations x %d threads, %lld Mid + %lld L2.5 allocs, %lld + %lld remote frees, all returned\n",
           GENS, NT, (long long)TD(&a, &b, MID, allocs), (long long)TD(&a, &b, L25, allocs),
           (long long)TD(&a, &b, MID, remote_sent), (long long)TD(&a, &b, L25, remote_sent));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--invalid-child") == 0) invalid_child();
    if (argc > 1 && strcmp(argv[1], "--double-free-child") == 0) double_free_child();
    require_hakmem();
    setvbuf(stdout, NULL, _IONBF, 0);   /* no stdio buffer in the tiers */
    test_sizes();
    test_reuse();
    test_remote();
    test_invalid(argv[0]);
    test_orphans();
    test_retention();
    test_rss();
    test_aligned();
    test_fork();
    test_fork_churn();
    test_stress();
    printf("test_mid_l25: ok\n");
    return 0;
}
