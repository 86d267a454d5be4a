/* session.c - lttng command line, session daemon and our session
 * (session.h). */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *real_home(void)
{
    const char *h = getenv("LTTNG_HOME");
    if (h && *h) return h;
    h = getenv("HOME");
    if (h && *h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir ? pw->pw_dir : "/tmp";
}

int lt_init(struct lt *lt, int verbose)
{
    memset(lt, 0, sizeof *lt);
    lt->verbose = verbose;
    /* Same rule as lttng: root talks to the system daemon. */
    if (geteuid() == 0)
        snprintf(lt->rundir, sizeof lt->rundir, "/var/run/lttng");
    else
        snprintf(lt->rundir, sizeof lt->rundir, "%s/.lttng", real_home());
    const char *tmp = getenv("TMPDIR");
    snprintf(lt->home, sizeof lt->home, "%s/hakmem-trace-home.XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (!mkdtemp(lt->home)) {
        fprintf(stderr, "hakmem-trace: cannot create a private LTTNG_HOME in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        lt->home[0] = 0;
        return -1;
    }
    /* The lttng client finds the daemon's sockets in $LTTNG_HOME/.lttng
     * (non-root); the link keeps that while ~/.lttngrc stays untouched. */
    char link[512];
    snprintf(link, sizeof link, "%s/.lttng", lt->home);
    if (geteuid() != 0 && symlink(lt->rundir, link) != 0) {
        fprintf(stderr, "hakmem-trace: %s: %s\n", link, strerror(errno));
        return -1;
    }
    return 0;
}

void lt_fini(struct lt *lt)
{
    if (!lt->home[0]) return;
    char p[512];
    snprintf(p, sizeof p, "%s/.lttng", lt->home);
    unlink(p);
    snprintf(p, sizeof p, "%s/.lttngrc", lt->home);
    unlink(p);
    rmdir(lt->home);
    lt->home[0] = 0;
}

/* Fork/exec argv with stdout+stderr into `out` (or inherited when out is
 * NULL and verbose, else /dev/null for stdout).  `lttng_env`: use the
 * private home.  Returns the exit status, 127 if it could not run.
 * The output goes to a memfd read after the child exits, not to a pipe
 * read until EOF: `lttng-sessiond --background` daemonizes without
 * closing its stdout, so a pipe would never see EOF. */
static int run(struct lt *lt, char *const argv[], char *out, size_t outlen, int lttng_env)
{
    int ofd = -1;
    if (out && (ofd = memfd_create("hakmem-trace-out", MFD_CLOEXEC)) < 0) return -1;
    if (lt->verbose) {
        fprintf(stderr, "hakmem-trace: +");
        for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (out) close(ofd);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (out) {
            dup2(ofd, 1);
            dup2(ofd, 2);
        } else if (!lt->verbose) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) dup2(fd, 1);
        }
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, 0);
        unsetenv("LD_PRELOAD");
        if (lttng_env) setenv("LTTNG_HOME", lt->home, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            if (out) close(ofd);
            return -1;
        }
    if (out) {
        size_t n = 0;
        while (n + 1 < outlen) {
            ssize_t r = pread(ofd, out + n, outlen - 1 - n, (off_t)n);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            n += (size_t)r;
        }
        close(ofd);
        out[n] = 0;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int lt_run(struct lt *lt, char *out, size_t outlen, const char *arg0, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = "lttng";
    /* Never let the client spawn a daemon of its own (it would live in
     * our private LTTNG_HOME): lt_ensure_sessiond decides that. */
    argv[n++] = "--no-sessiond";
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 31; a = va_arg(ap, const char *)) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run(lt, (char *const *)argv, out, outlen, 1);
}

/* Run an lttng command that must succeed; print its output on failure. */
static int must(struct lt *lt, const char *what, int rc, const char *out)
{
    if (rc == 0) return 0;
    if (rc == 127)
        fprintf(stderr, "hakmem-trace: cannot run lttng (is lttng-tools installed?)\n");
    else
        fprintf(stderr, "hakmem-trace: %s failed (lttng exit %d):\n%s", what, rc, out);
    (void)lt;
    return -1;
}

int lt_ensure_sessiond(struct lt *lt)
{
    char out[4096];
    int rc = lt_run(lt, out, sizeof out, "list", NULL);
    if (rc == 0) return 0;
    if (rc == 127) return must(lt, "lttng list", rc, out);
    /* None answers: start one.  --background daemonizes and returns once
     * the daemon is ready; --no-kernel: we only trace user space. */
    char *argv[] = { "lttng-sessiond", "--background", "--no-kernel", NULL };
    char sout[4096];
    rc = run(lt, argv, sout, sizeof sout, 0);
    if (rc != 0) {
        if (rc == 127)
            fprintf(stderr, "hakmem-trace: cannot run lttng-sessiond (is lttng-tools installed?)\n");
        else
            fprintf(stderr, "hakmem-trace: lttng-sessiond failed to start (exit %d):\n%s", rc, sout);
        return -1;
    }
    char pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/lttng-sessiond.pid", lt->rundir);
    FILE *f = fopen(pidfile, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1) pid = 0;
        fclose(f);
    }
    if (pid <= 0) {
        fprintf(stderr, "hakmem-trace: lttng-sessiond started but %s has no pid\n", pidfile);
        return -1;
    }
    lt->sessiond_pid = (pid_t)pid;
    if (lt->verbose) fprintf(stderr, "hakmem-trace: started lttng-sessiond (pid %ld)\n", pid);
    rc = lt_run(lt, out, sizeof out, "list", NULL);
    return must(lt, "lttng list (after starting lttng-sessiond)", rc, out);
}

/* A pid that is gone or a zombie (a daemon's parent may never reap it). */
static int proc_gone(pid_t pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static int proc_is_sessiond(pid_t pid)
{
    char p[64], comm[64] = "";
    snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
    fclose(f);
    return !strncmp(comm, "lttng-sessiond", 14);
}

void lt_stop_sessiond(struct lt *lt)
{
    if (lt->sessiond_pid <= 0) return;
    pid_t pid = lt->sessiond_pid;
    lt->sessiond_pid = 0;
    char out[8192];
    int rc = lt_run(lt, out, sizeof out, "list", NULL);
    if (rc == 0 && !strstr(out, "Currently no available")) {
        fprintf(stderr, "hakmem-trace: leaving lttng-sessiond (pid %d) running: "
                "it has other sessions now\n", (int)pid);
        return;
    }
    if (proc_gone(pid) || !proc_is_sessiond(pid)) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && !proc_gone(pid); i++) {
        struct timespec ts = { 0, 25 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (!proc_gone(pid))
        fprintf(stderr, "hakmem-trace: lttng-sessiond (pid %d) did not stop after SIGTERM\n",
                (int)pid);
    else if (lt->verbose)
        fprintf(stderr, "hakmem-trace: stopped lttng-sessiond (pid %d)\n", (int)pid);
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int lt_isolate_children(uint64_t *ino)
{
    /* A time namespace, not a pid/cgroup/user one: with zero offsets the
     * program sees the same clocks, pids, cgroups and credentials. */
    if (unshare(CLONE_NEWTIME) != 0) return -1;
    struct stat st;
    if (stat("/proc/self/ns/time_for_children", &st) != 0) return -1;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

int lt_session_setup(struct lt *lt, const char *outdir, const char *url,
                     const struct lt_channel *ch, const char *events, const char *filter)
{
    char out[8192], a1[1100], a2[64], a3[64], a4[200], a5[128] = "";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(lt->name, sizeof lt->name, "hakmem-trace-%d-%llx%06lx", (int)getpid(),
             (unsigned long long)ts.tv_sec, (unsigned long)(ts.tv_nsec / 1000));
    if (url) snprintf(a1, sizeof a1, "--set-url=%s", url);
    else snprintf(a1, sizeof a1, "--output=%s", outdir);
    int rc = lt_run(lt, out, sizeof out, "create", lt->name, a1, NULL);
    if (must(lt, "lttng create", rc, out)) return -1;
    lt->created = 1;
    snprintf(a2, sizeof a2, "--subbuf-size=%s", ch->subbuf_size);
    snprintf(a3, sizeof a3, "--num-subbuf=%s", ch->num_subbuf);
    snprintf(a4, sizeof a4, "--session=%s", lt->name);
    rc = lt_run(lt, out, sizeof out, "enable-channel", "--userspace", a4, "--buffers-uid",
                a2, a3, "--blocking-timeout=inf", "hakmem", NULL);
    if (must(lt, "lttng enable-channel", rc, out)) return -1;
    rc = lt_run(lt, out, sizeof out, "add-context", "--userspace", a4, "--channel=hakmem",
                "--type=vpid", "--type=vtid", NULL);
    if (must(lt, "lttng add-context", rc, out)) return -1;
    if (filter) snprintf(a5, sizeof a5, "--filter=%s", filter);
    /* without a filter, the NULL in its place ends the argument list */
    rc = lt_run(lt, out, sizeof out, "enable-event", "--userspace", a4, "--channel=hakmem",
                events, filter ? a5 : NULL, NULL);
    if (must(lt, "lttng enable-event", rc, out)) return -1;
    /* base addresses of loaded objects, so reports can symbolize callers */
    rc = lt_run(lt, out, sizeof out, "enable-event", "--userspace", a4, "--channel=hakmem",
                "lttng_ust_statedump:*,lttng_ust_lib:*", filter ? a5 : NULL, NULL);
    if (must(lt, "lttng enable-event", rc, out)) return -1;
    rc = lt_run(lt, out, sizeof out, "start", lt->name, NULL);
    return must(lt, "lttng start", rc, out);
}

static uint64_t sum_after(const char *text, const char *key)
{
    uint64_t sum = 0;
    size_t kl = strlen(key);
    for (const char *p = strstr(text, key); p; p = strstr(p + kl, key))
        sum += strtoull(p + kl, NULL, 10);
    return sum;
}

int lt_session_stop(struct lt *lt, uint64_t *discarded, uint64_t *lost)
{
    char out[16384];
    int rc = lt_run(lt, out, sizeof out, "stop", lt->name, NULL);
    if (must(lt, "lttng stop", rc, out)) return -1;
    rc = lt_run(lt, out, sizeof out, "list", lt->name, NULL);
    if (must(lt, "lttng list", rc, out)) return -1;
    *discarded = sum_after(out, "Discarded events:");
    *lost = sum_after(out, "Lost packets:");
    return 0;
}

int lt_session_destroy(struct lt *lt)
{
    if (!lt->created) return 0;
    char out[4096];
    int rc = lt_run(lt, out, sizeof out, "destroy", lt->name, NULL);
    lt->created = 0;
    return must(lt, "lttng destroy", rc, out);
}
