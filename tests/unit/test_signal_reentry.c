/* test_signal_reentry.c - malloc called from a signal handler that
 * interrupted malloc is detected and reported, never a silent deadlock.
 *
 * Children (this program re-executed), each with a 30 s alarm so that a
 * deadlock ends as SIGALRM, which fails the test:
 *  - "locks" (default mode): the main thread allocates and frees Large
 *    blocks (the bigcache lock is held for part of each call); another
 *    thread sends it SIGUSR1 every 20 us; the handler allocates and frees
 *    a Large block too.  Sooner or later the handler runs while the
 *    interrupted code holds the lock: the lock box sees this thread
 *    already holds it and aborts with one line saying so.
 *  - "check" (HAKMEM_CHECK=1): the same with tiny blocks, which take no
 *    lock: check mode's per-thread flag catches the re-entry itself.
 *  - "outside" (default mode): the handler allocates while the interrupted
 *    code is not in the allocator: that works (thousands of signals).
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static size_t handler_size;
static volatile sig_atomic_t handled;
static volatile int stop;
static pthread_t main_thread;

static void on_usr1(int sig) {
    (void)sig;
    void *p = malloc(handler_size);
    if (p) { memset(p, 1, handler_size < 64 ? handler_size : 64); free(p); }
    handled++;
}

static void *kicker(void *arg) {
    (void)arg;
    struct timespec ts = { 0, 20000 };
    while (!stop) {
        pthread_kill(main_thread, SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int child(const char *mode) {
    main_thread = pthread_self();
    int outside = !strcmp(mode, "outside");
    size_t n = !strcmp(mode, "check") ? 32 : 3 * MiB;
    handler_size = n;
    free(malloc(n));   /* warm up: the thread is started, tiers initialised */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t k;
    CHECK(pthread_create(&k, NULL, kicker, NULL) == 0, "pthread_create");
    volatile uint64_t sink = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0;; i++) {
        if (outside) {
            for (int j = 0; j < 1000; j++) sink += (uint64_t)j * i;
            if (handled >= 3000) break;
        } else {
            char *p = malloc(n);
            CHECK(p, "malloc");
            p[0] = 1;
            free(p);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 20) break;
    }
    stop = 1;
    pthread_join(k, NULL);
    printf("%d signals handled\n", (int)handled);
    return outside && handled >= 3000 ? 0 : 4;
}

static int run(const char *mode, const char *env, char *err, size_t errsz, int *sig) {
    int ep[2];
    CHECK(pipe(ep) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(ep[1], 2);
        close(ep[0]);
        alarm(30);
        if (env) putenv((char *)env);
        char *self = realpath("/proc/self/exe", NULL);
        char *av[] = { self, (char *)mode, NULL };
        execv(self, av);
        _exit(127);
    }
    close(ep[1]);
    size_t ne = 0;
    for (;;) {
        ssize_t r = read(ep[0], err + ne, errsz - 1 - ne);
        if (r <= 0) break;
        ne += (size_t)r;
    }
    err[ne] = 0;
    close(ep[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv) {
    if (argc > 1) return child(argv[1]);
    require_hakmem();
    static char err[1 << 14];
    int sig, rc;

    rc = run("locks", NULL, err, sizeof err, &sig);
    CHECK(sig != SIGALRM, "locks: deadlock (killed by the 30 s alarm); stderr:\n%s", err);
    CHECK(sig == SIGABRT && strstr(err, "is already held by this thread") &&
          strstr(err, "signal handler"), "locks: rc %d signal %d, expected SIGABRT and the "
          "re-entry line; stderr:\n%s", rc, sig, err);
    printf("ok   locks:   %.*s\n", (int)(strchr(err, '\n') ? strchr(err, '\n') - err : 0), err);

    rc = run("check", "HAKMEM_CHECK=1", err, sizeof err, &sig);
    CHECK(sig != SIGALRM, "check: deadlock (killed by the 30 s alarm); stderr:\n%s", err);
    CHECK(sig == SIGABRT && strstr(err, "called while this thread is inside"),
          "check: rc %d signal %d, expected SIGABRT and the re-entry line; stderr:\n%s", rc, sig, err);
    printf("ok   check:   %.*s\n", (int)(strchr(err, '\n') ? strchr(err, '\n') - err : 0), err);

    rc = run("outside", NULL, err, sizeof err, &sig);
    CHECK(rc == 0 && sig == 0 && !strstr(err, "hakmem"),
          "outside: rc %d signal %d (handler allocating outside malloc must work); stderr:\n%s", rc, sig, err);
    printf("ok   outside: 3000 signal handlers allocated while the thread was not in malloc\n");
    printf("test_signal_reentry: ok\n");
    return 0;
}
