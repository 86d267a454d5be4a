/* stats_workload - a program with known allocation counts, run under
 * LD_PRELOAD=libhakmem.so by the hakmem-top tests (tests/top/).
 *
 *   stats_workload steps   read commands on stdin, one per line, answer
 *                          "ok" (or "error ...") on stdout after each:
 *       alloc C N      keep N new blocks of tiny class C (size 8 << C)
 *       free C N       free N kept blocks of class C (newest first)
 *       tier T N       keep N new blocks of tier T (0 Mid 4 KiB, 1 L2.5
 *                      96 KiB, 2 Large 2 MiB)
 *       tfree T N      free N kept tier-T blocks
 *       thread C N     a thread allocates N class-C blocks, frees them, exits
 *       remote C N     N class-C blocks allocated here, freed by a thread
 *       crowd N        start N threads that each malloc and free one C1
 *                      block, then wait (all alive when "ok" comes)
 *       release        let the crowd exit and join it
 *       fork           fork a child (it allocates 100 blocks of 64 B, then
 *                      sleeps until killed); answers "child PID"
 *       spawn          fork and exec "sleep 300" (same environment);
 *                      answers "child PID"
 *       setuid U       switch to uid and gid U (root only), still dumpable
 *       pid            answer "pid PID"
 *       exit           exit 0
 *     Between commands the program makes no allocation of its own: I/O is
 *     read(2)/write(2) on fixed buffers, bookkeeping is static.
 *   stats_workload loop [SECONDS] [THREADS]
 *                          churn every class and tier in THREADS threads
 *                          (default 2) for SECONDS (default 3600) after
 *                          printing "ready"; then exit 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEEP 200000
#define TIERS 3
static const size_t tier_size[TIERS] = { 4096, 96 * 1024, 2 * 1024 * 1024 };

static void *kept[8][MAX_KEEP];
static long nkept[8];
static void *tkept[TIERS][4096];
static long ntkept[TIERS];

static void say(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        s += w;
        n -= (size_t)w;
    }
}

static void say_num(const char *prefix, long v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s %ld\n", prefix, v);   /* no allocation */
    say(buf);
}

/* One line from fd 0 into buf; 0 at EOF. */
static int read_line(char *buf, size_t n) {
    size_t i = 0;
    while (i + 1 < n) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return i > 0;
        if (c == '\n') break;
        buf[i++] = c;
    }
    buf[i] = 0;
    return 1;
}

static void touch(void *p, size_t n) {
    volatile char *c = p;
    c[0] = 1;
    c[n - 1] = 2;
}

/* "word [num [num]]" without stdio (sscanf might allocate): fields read. */
static int parse(const char *s, char *cmd, size_t n, long *a, long *b) {
    int k = 0;
    size_t i = 0;
    while (*s == ' ') s++;
    while (*s && *s != ' ' && i + 1 < n) cmd[i++] = *s++;
    cmd[i] = 0;
    if (!i) return 0;
    k = 1;
    long *out[2] = { a, b };
    for (int f = 0; f < 2; f++) {
        while (*s == ' ') s++;
        if (*s < '0' || *s > '9') break;
        long v = 0;
        while (*s >= '0' && *s <= '9' && v < 100000000) v = v * 10 + (*s++ - '0');
        *out[f] = v;
        k++;
    }
    return k;
}

struct job { int cls; long n; void **blocks; };

static void *thread_alloc_free(void *arg) {
    struct job *j = arg;
    size_t sz = (size_t)8 << j->cls;
    for (long i = 0; i < j->n; i++) {
        void *p = malloc(sz);
        if (!p) abort();
        touch(p, sz);
        kept[j->cls][MAX_KEEP - 1 - i] = p;   /* spare slots: not in nkept */
    }
    for (long i = 0; i < j->n; i++) free(kept[j->cls][MAX_KEEP - 1 - i]);
    return NULL;
}

static void *thread_free(void *arg) {
    struct job *j = arg;
    for (long i = 0; i < j->n; i++) free(j->blocks[i]);
    return NULL;
}

/* crowd: N threads alive at once, each with one C1 malloc/free made */
static pthread_barrier_t crowd_in, crowd_out;
static pthread_t crowd_t[4096];
static long crowd_n;

static void *crowd_member(void *arg) {
    (void)arg;
    void *p = malloc(16);
    if (!p) abort();
    touch(p, 16);
    free(p);
    pthread_barrier_wait(&crowd_in);
    pthread_barrier_wait(&crowd_out);
    return NULL;
}

static int crowd_start(long n) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_barrier_init(&crowd_in, NULL, (unsigned)n + 1);
    pthread_barrier_init(&crowd_out, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++)
        if (pthread_create(&crowd_t[i], &a, crowd_member, NULL) != 0) return -1;
    crowd_n = n;
    pthread_barrier_wait(&crowd_in);   /* all alive, counts made */
    return 0;
}

static void crowd_release(void) {
    pthread_barrier_wait(&crowd_out);
    for (long i = 0; i < crowd_n; i++) pthread_join(crowd_t[i], NULL);
    pthread_barrier_destroy(&crowd_in);
    pthread_barrier_destroy(&crowd_out);
    crowd_n = 0;
}

static int run_thread(void *(*fn)(void *), struct job *j) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, j) != 0) return -1;
    return pthread_join(t, NULL);
}

static int steps(void) {
    char line[128];
    while (read_line(line, sizeof line)) {
        char cmd[16];
        long a = 0, b = 0;
        int k = parse(line, cmd, sizeof cmd, &a, &b);
        if (k < 1) { say("error empty command\n"); continue; }
        if (!strcmp(cmd, "alloc") && k == 3 && a >= 0 && a < 8 && b >= 0 && nkept[a] + b <= MAX_KEEP / 2) {
            size_t sz = (size_t)8 << a;
            for (long i = 0; i < b; i++) {
                void *p = malloc(sz);
                if (!p) { say("error malloc failed\n"); return 1; }
                touch(p, sz);
                kept[a][nkept[a]++] = p;
            }
        } else if (!strcmp(cmd, "free") && k == 3 && a >= 0 && a < 8 && b >= 0 && b <= nkept[a]) {
            for (long i = 0; i < b; i++) free(kept[a][--nkept[a]]);
        } else if (!strcmp(cmd, "tier") && k == 3 && a >= 0 && a < TIERS && b >= 0 && ntkept[a] + b <= 4096) {
            for (long i = 0; i < b; i++) {
                void *p = malloc(tier_size[a]);
                if (!p) { say("error malloc failed\n"); return 1; }
                touch(p, tier_size[a]);
                tkept[a][ntkept[a]++] = p;
            }
        } else if (!strcmp(cmd, "tfree") && k == 3 && a >= 0 && a < TIERS && b >= 0 && b <= ntkept[a]) {
            for (long i = 0; i < b; i++) free(tkept[a][--ntkept[a]]);
        } else if (!strcmp(cmd, "thread") && k == 3 && a >= 0 && a < 8 && b >= 0 && b <= MAX_KEEP / 2) {
            struct job j = { (int)a, b, NULL };
            if (run_thread(thread_alloc_free, &j)) { say("error pthread\n"); continue; }
        } else if (!strcmp(cmd, "remote") && k == 3 && a >= 0 && a < 8 && b >= 0 && nkept[a] + b <= MAX_KEEP / 2) {
            size_t sz = (size_t)8 << a;
            long base = nkept[a];
            for (long i = 0; i < b; i++) {
                void *p = malloc(sz);
                if (!p) { say("error malloc failed\n"); return 1; }
                touch(p, sz);
                kept[a][base + i] = p;
            }
            struct job j = { (int)a, b, &kept[a][base] };
            if (run_thread(thread_free, &j)) { say("error pthread\n"); continue; }
        } else if (!strcmp(cmd, "crowd") && k == 2 && a > 0 && a <= 4096 && !crowd_n) {
            if (crowd_start(a)) { say("error pthread\n"); return 1; }
        } else if (!strcmp(cmd, "release") && k == 1 && crowd_n) {
            crowd_release();
        } else if (!strcmp(cmd, "fork") && k == 1) {
            pid_t pid = fork();
            if (pid < 0) { say("error fork\n"); continue; }
            if (pid == 0) {
                /* the child allocates a little, then sleeps until killed */
                for (int i = 0; i < 100; i++) touch(malloc(64), 64);
                for (;;) pause();
            }
            say_num("child", pid);
            continue;
        } else if (!strcmp(cmd, "spawn") && k == 1) {
            pid_t pid = fork();
            if (pid < 0) { say("error fork\n"); continue; }
            if (pid == 0) {
                char *argv[] = { "sleep", "300", NULL };
                execvp("sleep", argv);
                _exit(127);
            }
            say_num("child", pid);
            continue;
        } else if (!strcmp(cmd, "setuid") && k == 2) {
            /* drop to uid/gid a, staying dumpable so /proc/PID is owned
             * by the new uid (the segment stays owned by the old one) */
            if (setresgid((gid_t)a, (gid_t)a, (gid_t)a) != 0 || setresuid((uid_t)a, (uid_t)a, (uid_t)a) != 0 ||
                prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
                say("error setuid\n");
                continue;
            }
        } else if (!strcmp(cmd, "pid") && k == 1) {
            say_num("pid", (long)getpid());
            continue;
        } else if (!strcmp(cmd, "exit")) {
            say("ok\n");
            return 0;
        } else {
            say("error bad command: ");
            say(line);
            say("\n");
            continue;
        }
        say("ok\n");
    }
    return 0;
}

/* ---- loop mode ------------------------------------------------------- */

static volatile int stop;

static void *churn(void *arg) {
    unsigned seed = (unsigned)(size_t)arg * 2654435761u + 1;
    enum { SLOTS = 512 };
    void *slot[SLOTS] = { 0 };
    while (!stop) {
        for (int round = 0; round < 2000; round++) {
            seed = seed * 1103515245u + 12345u;
            int i = (int)((seed >> 8) % SLOTS);
            if (slot[i]) { free(slot[i]); slot[i] = NULL; continue; }
            unsigned r = (seed >> 20) % 100;
            size_t n;
            if (r < 80) n = (size_t)8 << ((seed >> 4) % 8);          /* tiny */
            else if (r < 95) n = 2048 + (seed >> 3) % 28000;         /* Mid */
            else if (r < 99) n = 40000 + (seed >> 3) % 500000;       /* L2.5 */
            else n = (size_t)(1 << 20) + 4096 + (seed >> 3) % (1 << 20); /* Large */
            slot[i] = malloc(n);
            if (!slot[i]) abort();
            touch(slot[i], n);
        }
        struct timespec ts = { 0, 2000000 };   /* 2 ms: keep the machine usable */
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    return NULL;
}

static int loop(double seconds, int threads) {
    if (threads < 1 || threads > 64) threads = 2;
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(size_t)(i + 1)) != 0) return 1;
    say_num("ready", (long)getpid());
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    stop = 1;
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "steps")) return steps();
    if (argc >= 2 && !strcmp(argv[1], "loop"))
        return loop(argc >= 3 ? atof(argv[2]) : 3600, argc >= 4 ? atoi(argv[3]) : 2);
    fprintf(stderr, "usage: stats_workload steps | loop [SECONDS] [THREADS]\n");
    return 2;
}
