/* hakmem-trace - lossless capture of hakmem's tracepoints, and a trace
 * checker.
 *
 *   hakmem-trace [-o DIR] [--events replay|boxes|all] [--url net://HOST]
 *                [--subbuf-size SIZE] [--num-subbuf N] [-v] [--] CMD [ARGS]
 *   hakmem-trace stat [--threads] [--allow-gaps] DIR
 *
 * Capture: make sure an lttng-sessiond runs (start one, and stop it
 * afterwards, only if none did), create a uniquely named session with a
 * blocking per-user channel and vpid/vtid contexts, run CMD with
 * libhakmem.so, libhakmem-tp.so and liblttng-ust-fork.so preloaded, tear
 * the session down and print what was recorded and what was lost.
 * Only CMD and its descendants are recorded when hakmem-trace may create a
 * time namespace (root): see session.h; otherwise a note says that other
 * programs traced through the same daemon are recorded too.
 * Exit status: CMD's (128+N when killed by signal N); 1 when hakmem-trace
 * itself fails; 2 on a usage error; 127 when CMD cannot be run; 3 when CMD
 * succeeded but the trace lost events.  docs/man/hakmem-trace.1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"
#include "session.h"
#include "summary.h"

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "unknown"
#endif

#define EXIT_LOSS 3

static const char REPLAY_EVENTS[] =
    "hakmem:malloc,hakmem:free,hakmem:calloc,hakmem:realloc,hakmem:memalign,"
    "hakmem:thread_start,hakmem:thread_exit";
static const char BOX_EVENTS[] =
    "hakmem:ultrahot_hit,hakmem:ultrahot_miss,hakmem:sll_refill,hakmem:sll_drain,"
    "hakmem:sp_acquire,hakmem:sp_release,hakmem:ss_map,hakmem:ss_unmap,"
    "hakmem:lru_push,hakmem:lru_pop,hakmem:lru_evict,hakmem:remote_push,"
    "hakmem:remote_drain,hakmem:slab_orphan,hakmem:slab_adopt,hakmem:mid_refill,"
    "hakmem:l25_refill,hakmem:large_map,hakmem:large_unmap,hakmem:bigcache_hit,"
    "hakmem:bigcache_miss,hakmem:lock_contended,hakmem:lock_acquired,"
    "hakmem:lock_released,hakmem:lock_stack";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hakmem-trace [OPTIONS] [--] CMD [ARGS...]\n"
        "       hakmem-trace stat [--threads] [--allow-gaps] DIR\n"
        "\n"
        "Run CMD under hakmem with an LTTng session recording the hakmem\n"
        "tracepoints, then report events recorded and events lost.  As root,\n"
        "only CMD and its descendants are recorded (they run in a time\n"
        "namespace of their own); otherwise every program traced through the\n"
        "same lttng-sessiond meanwhile is recorded too.\n"
        "\n"
        "  -o, --output DIR      trace directory (created mode 0700; must not\n"
        "                        exist or be empty; default\n"
        "                        ./hakmem-trace-DATE-TIME-PID, local time,\n"
        "                        e.g. hakmem-trace-20250131-142502-4242)\n"
        "  -e, --events SET      replay (malloc/free/... only), boxes (box and\n"
        "                        lock events), all (default)\n"
        "  -u, --url URL         stream to an lttng-relayd (net://HOST[:PORTS])\n"
        "                        instead of writing DIR\n"
        "      --subbuf-size SZ  channel sub-buffer size per CPU (default 8M)\n"
        "      --num-subbuf N    sub-buffers per CPU (default 8)\n"
        "  -v, --verbose         show the lttng commands run\n"
        "  -h, --help            this help\n"
        "  -V, --version         print the version\n"
        "\n"
        "stat DIR: events per name, per-thread sequence check and discarded\n"
        "events of a trace directory; --threads lists every thread;\n"
        "--allow-gaps exits 0 even when the trace lost events.\n"
        "\n"
        "Exit status: CMD's (128+N if killed by signal N); 1 error; 2 usage;\n"
        "127 CMD cannot run; 3 events were lost (CMD succeeded / stat).\n");
}

/* ---- stat ------------------------------------------------------------ */

static int cmd_stat(int argc, char **argv)
{
    static const struct option lo[] = {
        { "threads", no_argument, NULL, 't' },
        { "allow-gaps", no_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int threads = 0, allow = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+th", lo, NULL)) != -1) {
        switch (c) {
        case 't': threads = 1; break;
        case 'g': allow = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "hakmem-trace: stat takes exactly one trace directory\n");
        usage(stderr);
        return 2;
    }
    const char *dir = argv[optind];
    struct summary_opts o = { threads, stdout };
    struct summary s;
    printf("trace: %s\n", dir);
    if (summarize(dir, &o, &s) != 0) return 1;
    if (s.discarded_events || s.discarded_packets || s.seq_gaps) {
        printf("result: INCOMPLETE trace (events were lost)\n");
        return allow ? 0 : EXIT_LOSS;
    }
    printf("result: complete\n");
    return 0;
}

/* ---- capture --------------------------------------------------------- */

static volatile sig_atomic_t got_signal;
static volatile pid_t child_pid;

static void on_signal(int sig)
{
    got_signal = sig;
    pid_t p = child_pid;
    if (p <= 0) return;
    /* A terminal already sent SIGINT/SIGQUIT to the whole foreground
     * group, CMD included; forward the rest (and those sent to us alone). */
    if ((sig == SIGINT || sig == SIGQUIT) && tcgetpgrp(STDIN_FILENO) == getpgrp()) return;
    kill(p, sig);
}

static int exe_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = 0;
    return 0;
}

/* out = a + b + c; -1 when it does not fit. */
static int join3(char *out, size_t len, const char *a, const char *b, const char *c)
{
    int n = snprintf(out, len, "%s%s%s", a, b, c);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* libhakmem.so / libhakmem-tp.so: $HAKMEM_LIBDIR, next to this binary
 * (build/), or ../lib (an installed prefix). */
static int find_lib(const char *name, char *out, size_t len)
{
    char dir[PATH_MAX];
    const char *env = getenv("HAKMEM_LIBDIR");
    if (env && *env) {
        if (join3(out, len, env, "/", name) != 0) return -1;
        return access(out, R_OK);
    }
    if (exe_dir(dir, sizeof dir) != 0) {
        join3(out, len, "(hakmem-trace's directory)/", name, "");
        return -1;
    }
    if (join3(out, len, dir, "/", name) == 0 && access(out, R_OK) == 0) return 0;
    if (join3(out, len, dir, "/../lib/", name) == 0 && access(out, R_OK) == 0) {
        char real[PATH_MAX];
        if (realpath(out, real)) join3(out, len, real, "", "");
        return 0;
    }
    join3(out, len, dir, "/", name);
    return -1;
}

static int find_fork_lib(char *out, size_t len)
{
    static const char *const dirs[] = {
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/local/lib",
        "/usr/lib64", "/usr/lib", NULL,
    };
    for (int i = 0; dirs[i]; i++)
        if (join3(out, len, dirs[i], "/", "liblttng-ust-fork.so.1") == 0 &&
            access(out, R_OK) == 0)
            return 0;
    return -1;
}

/* Create the output directory (mode 0700), or accept an empty one. */
static int make_outdir(const char *dir, char *abs, size_t len, int *created)
{
    *created = 0;
    if (mkdir(dir, 0700) == 0) {
        *created = 1;
    } else if (errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "hakmem-trace: %s exists and is not a directory\n", dir);
            return -1;
        }
        if (rmdir(dir) == 0) {           /* empty: recreate it as ours */
            if (mkdir(dir, 0700) != 0) goto fail;
            *created = 1;
        } else if (errno == ENOTEMPTY || errno == EEXIST) {
            fprintf(stderr, "hakmem-trace: %s exists and is not empty "
                    "(choose a new directory with -o)\n", dir);
            return -1;
        } else {
            goto fail;
        }
    } else {
        goto fail;
    }
    char real[PATH_MAX];
    if (!realpath(dir, real)) goto fail;
    if (join3(abs, len, real, "", "") != 0) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "hakmem-trace: %s: %s\n", dir, strerror(errno));
    return -1;
}

static int run_cmd(char **cmd, const char *preload)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "hakmem-trace: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        setenv("LD_PRELOAD", preload, 1);
        setenv("LTTNG_UST_ALLOW_BLOCKING", "1", 1);
        setenv("LTTNG_UST_REGISTER_TIMEOUT", "-1", 1);
        execvp(cmd[0], cmd);
        fprintf(stderr, "hakmem-trace: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "hakmem-trace: waitpid: %s\n", strerror(errno));
            child_pid = 0;
            return -1;
        }
    }
    child_pid = 0;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "hakmem-trace: %s killed by signal %d (%s)\n", cmd[0], WTERMSIG(st),
                strsignal(WTERMSIG(st)));
        return 128 + WTERMSIG(st);
    }
    return 1;
}

static void cleanup(struct lt *lt, const char *outdir, int created_dir)
{
    lt_session_destroy(lt);
    lt_stop_sessiond(lt);
    lt_fini(lt);
    if (created_dir && outdir[0]) rmdir(outdir); /* only if still empty */
}

static int cmd_capture(int argc, char **argv)
{
    static const struct option lo[] = {
        { "output", required_argument, NULL, 'o' },
        { "events", required_argument, NULL, 'e' },
        { "url", required_argument, NULL, 'u' },
        { "subbuf-size", required_argument, NULL, 'S' },
        { "num-subbuf", required_argument, NULL, 'N' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *url = NULL, *events = "all";
    struct lt_channel ch = { "8M", "8" };
    int verbose = 0, c;
    while ((c = getopt_long(argc, argv, "+o:e:u:vhV", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'e': events = optarg; break;
        case 'u': url = optarg; break;
        case 'S': ch.subbuf_size = optarg; break;
        case 'N': ch.num_subbuf = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("hakmem-trace %s\n", HAKMEM_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hakmem-trace: no command to run\n");
        usage(stderr);
        return 2;
    }
    const char *evlist;
    if (!strcmp(events, "replay")) evlist = REPLAY_EVENTS;
    else if (!strcmp(events, "boxes")) evlist = BOX_EVENTS;
    else if (!strcmp(events, "all")) evlist = "hakmem:*";
    else {
        fprintf(stderr, "hakmem-trace: --events must be replay, boxes or all, not '%s'\n", events);
        return 2;
    }
    if (out && url) {
        fprintf(stderr, "hakmem-trace: -o and --url exclude each other\n");
        return 2;
    }
    if (url && strncmp(url, "net://", 6) && strncmp(url, "net6://", 7)) {
        fprintf(stderr, "hakmem-trace: --url must be net://HOST[:CTRL[:DATA]] "
                "(or net6://), not '%s'\n", url);
        return 2;
    }
    char **cmd = argv + optind;

    char lib[PATH_MAX], tp[PATH_MAX], forklib[PATH_MAX];
    if (find_lib("libhakmem.so", lib, sizeof lib) != 0) {
        fprintf(stderr, "hakmem-trace: %s not found (build it, or set HAKMEM_LIBDIR)\n", lib);
        return 1;
    }
    if (find_lib("libhakmem-tp.so", tp, sizeof tp) != 0) {
        fprintf(stderr, "hakmem-trace: %s not found (a TRACE=0 build has no probes)\n", tp);
        return 1;
    }
    if (find_fork_lib(forklib, sizeof forklib) != 0) {
        fprintf(stderr, "hakmem-trace: liblttng-ust-fork.so.1 not found "
                "(install liblttng-ust1)\n");
        return 1;
    }
    char preload[4 * PATH_MAX + 64];
    const char *old = getenv("LD_PRELOAD");
    snprintf(preload, sizeof preload, "%s %s %s%s%s", lib, tp, forklib,
             old && *old ? " " : "", old && *old ? old : "");

    char dirbuf[PATH_MAX], outdir[PATH_MAX] = "";
    int created = 0;
    if (!url) {
        if (!out) {
            time_t now = time(NULL);
            struct tm tm;
            char d[32] = "now";
            if (localtime_r(&now, &tm)) strftime(d, sizeof d, "%Y%m%d-%H%M%S", &tm);
            snprintf(dirbuf, sizeof dirbuf, "hakmem-trace-%s-%d", d, (int)getpid());
            out = dirbuf;
        }
        if (make_outdir(out, outdir, sizeof outdir, &created) != 0) return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    /* A closed stdout/stderr (`| head`) must not kill us before the
     * session is torn down; children get the default back. */
    signal(SIGPIPE, SIG_IGN);

    struct lt lt;
    if (lt_init(&lt, verbose) != 0 || lt_ensure_sessiond(&lt) != 0 || got_signal) goto fail;
    /* After the daemon is up (one we start stays in our namespace): from
     * here on, our children and all their descendants are told apart from
     * the other programs on the shared daemon by their time namespace. */
    uint64_t ns;
    char filter[64];
    const int isolated = lt_isolate_children(&ns) == 0;
    if (isolated) {
        snprintf(filter, sizeof filter, "$ctx.time_ns == %llu", (unsigned long long)ns);
        if (verbose)
            fprintf(stderr, "hakmem-trace: CMD runs in time namespace %llu; only its "
                    "processes are recorded\n", (unsigned long long)ns);
    } else {
        fprintf(stderr, "hakmem-trace: note: cannot isolate CMD (time namespace: %s): every "
                "program traced through the same session daemon meanwhile is recorded too\n",
                strerror(errno));
    }
    if (lt_session_setup(&lt, outdir, url, &ch, evlist, isolated ? filter : NULL) != 0 ||
        got_signal)
        goto fail;
    if (verbose) fprintf(stderr, "hakmem-trace: session %s, LD_PRELOAD=%s\n", lt.name, preload);

    int status = run_cmd(cmd, preload);

    uint64_t discarded = 0, lost = 0;
    int stop_rc = lt_session_stop(&lt, &discarded, &lost);
    int destroy_rc = lt_session_destroy(&lt);
    lt_stop_sessiond(&lt);
    lt_fini(&lt);
    if (status < 0 || stop_rc != 0 || destroy_rc != 0) return 1;

    struct summary s;
    memset(&s, 0, sizeof s);
    if (url) {
        char host[256] = "?";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = 0;
        fprintf(stderr, "hakmem-trace: trace streamed to %s, session %s "
                "(on the relay: OUTPUT/%s/%s-*; read it with hakmem-trace stat)\n",
                url, lt.name, host, lt.name);
    } else {
        char **dirs, err[HKR_ERRLEN];
        int n = hkr_find_traces(outdir, &dirs, err);
        if (n < 0) {
            fprintf(stderr, "hakmem-trace: %s\n", err);
            return 1;
        }
        hkr_free_dirs(dirs, n);
        /* Nothing registered: CMD never loaded the probes (a static or
         * setuid program, or LD_PRELOAD dropped on the way). */
        static const char never[] = "hakmem-trace: WARNING: no events were recorded: %s "
            "never registered with LTTng (static or setuid program, or LD_PRELOAD removed?)\n";
        if (n == 0) {
            rmdir(outdir);
            fprintf(stderr, never, cmd[0]);
            return status;
        }
        fprintf(stderr, "hakmem-trace: trace: %s\n", outdir);
        struct summary_opts o = { 0, stderr };
        if (summarize(outdir, &o, &s) != 0) return 1;
        /* Buffers without events: another program of the same user
         * registered meanwhile (the filter kept its events out). */
        if (s.events == 0) {
            fprintf(stderr, never, cmd[0]);
            return status;
        }
    }
    uint64_t lost_events = discarded > s.discarded_events ? discarded : s.discarded_events;
    if (lost_events || lost || s.discarded_packets || s.seq_gaps) {
        fprintf(stderr,
                "hakmem-trace: WARNING: THE TRACE IS INCOMPLETE: %llu events discarded, "
                "%llu packets lost, %llu sequence gaps (%llu events missing).\n"
                "hakmem-trace: WARNING: use a larger buffer (--subbuf-size/--num-subbuf) "
                "and check that LTTNG_UST_ALLOW_BLOCKING reaches the program.\n",
                (unsigned long long)lost_events,
                (unsigned long long)(lost > s.discarded_packets ? lost : s.discarded_packets),
                (unsigned long long)s.seq_gaps, (unsigned long long)s.seq_lost);
        return status ? status : EXIT_LOSS;
    }
    if (!url) fprintf(stderr, "hakmem-trace: no events lost\n");
    else fprintf(stderr, "hakmem-trace: events discarded: 0\n");
    return status;

fail:
    if (got_signal) fprintf(stderr, "hakmem-trace: interrupted\n");
    cleanup(&lt, outdir, created);
    return got_signal ? 128 + got_signal : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "stat")) return cmd_stat(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("hakmem-trace %s\n", HAKMEM_VERSION);
        return 0;
    }
    return cmd_capture(argc, argv);
}
