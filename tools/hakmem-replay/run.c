/* run.c - `hakmem-replay run`: load, replay, report (and --compare).
 *
 * Deterministic addresses: with --serial under hakmem (found at run time
 * with dlsym(RTLD_DEFAULT, "hakmem_arena"), since the replayer runs under
 * any allocator), the process re-executes itself once with
 * HAKMEM_ARENA_BASE set when the variable is not set already (hakmem reads
 * it at start-up), and the fingerprint hashes addresses relative to the
 * arena base.  Under other allocators the fingerprint uses raw addresses.
 */
#include "cmd.h"
#include "crash.h"
#include "hkf.h"
#include "replay.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_ARENA_BASE "0x200000000000"

static struct {
    int check;
    uint64_t user_stop;
    struct replay *rp;
} R;

__attribute__((noinline, used)) void hakmem_replay_stop(unsigned long long index)
{
    /* A named place for `break hakmem_replay_stop`; the asm keeps the call. */
    __asm__ volatile("" : : "r"(index) : "memory");
}

static int traced(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "TracerPid:");
    return p && strtol(p + 10, NULL, 10) != 0;
}

/* Value in KiB of a /proc/self/status line ("VmHWM"), -1 if absent. */
static long status_kb(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    size_t kl = strlen(key);
    for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == ':') return strtol(p + kl + 1, NULL, 10);
    return -1;
}

static void at_stop(struct replay *rp, uint64_t idx)
{
    struct obuf o;
    ob_init(&o, 2);
    const struct rp_op *op = &rp->ops[idx];
    uint32_t obj = op->ref != HKF_NOOBJ ? op->ref : op->obj;
    if (R.check && idx == rp->first_invalid && idx < R.user_stop) {
        ob_str(&o, PROG ": check: event ");
        ob_u64(&o, idx);
        ob_str(&o, " (thread ");
        ob_u64(&o, RP_THREAD(op));
        ob_str(&o, "): ");
        rp_describe(&o, rp, idx);
        ob_str(&o, ": ");
        ob_str(&o, rp_invalid_name(rp->invalid_code));
        ob_ch(&o, '\n');
        rp_history(&o, rp, obj, idx);
        ob_flush(&o);
        return;
    }
    ob_str(&o, PROG ": stopped before event ");
    ob_u64(&o, idx);
    ob_str(&o, " (thread ");
    ob_u64(&o, RP_THREAD(op));
    ob_str(&o, "): ");
    rp_describe(&o, rp, idx);
    if (op->ref != HKF_NOOBJ) {
        ob_str(&o, " [pointer ");
        ob_hex(&o, (uint64_t)(uintptr_t)rp->slot[op->ref]);
        ob_ch(&o, ']');
    }
    ob_ch(&o, '\n');
    rp_history(&o, rp, obj, idx);
    ob_flush(&o);
    hakmem_replay_stop(idx);
    if (traced()) raise(SIGTRAP);
}

typedef void (*arena_fn)(uintptr_t *, size_t *);
typedef const char *(*version_fn)(void);

void replay_fix_arena(char **full_argv)
{
    if (!dlsym(RTLD_DEFAULT, "hakmem_arena") || getenv("HAKMEM_ARENA_BASE")) return;
    setenv("HAKMEM_ARENA_BASE", DEFAULT_ARENA_BASE, 1);
    execv("/proc/self/exe", full_argv);
    warnmsg("cannot re-execute with HAKMEM_ARENA_BASE set (%s): addresses may differ "
            "between runs", strerror(errno));
}

static int compare(const char *file, int serial, int check);

static void run_usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " run [--serial [--one-thread]] [--check] [--stop-at N] FILE.hkr\n"
        "       " PROG " run --compare [--serial] FILE.hkr\n"
        "  -s, --serial      the recorded global order, each event on its recorded\n"
        "                    thread, one at a time (deterministic; fingerprint)\n"
        "  -1, --one-thread  with --serial: every event on one thread\n"
        "  -c, --check       stop at the first invalid operation (double free, realloc\n"
        "                    of a freed block) and verify every block the allocator\n"
        "                    returns (alignment, usable size, zeroed calloc, contents\n"
        "                    kept by realloc, no overlap); exit 3 on a finding\n"
        "  -n, --stop-at N   replay events 0..N-1, report event N, call\n"
        "                    hakmem_replay_stop (SIGTRAP when a debugger is attached)\n"
        "      --compare     replay under glibc, hakmem, jemalloc, mimalloc, tcmalloc\n"
        "                    (those installed) and print a table\n");
}

int cmd_run(int argc, char **argv, char **full_argv)
{
    static const struct option opts[] = {
        { "serial", no_argument, NULL, 's' },
        { "one-thread", no_argument, NULL, '1' },
        { "check", no_argument, NULL, 'c' },
        { "stop-at", required_argument, NULL, 'n' },
        { "compare", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct rp_opts o;
    memset(&o, 0, sizeof o);
    o.stop_at = UINT64_MAX;
    int cmp = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s1cn:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.serial = 1; break;
        case '1': o.one_thread = 1; break;
        case 'c': o.check = 1; break;
        case 'n':
            if (parse_u64(optarg, &o.stop_at)) {
                errmsg("run: --stop-at wants an event index, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'C': cmp = 1; break;
        case 'h': run_usage(stdout); return 0;
        default:
            errmsg("run: unknown or incomplete option '%s'", argv[optind - 1]);
            run_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        errmsg("run: expected one FILE.hkr");
        run_usage(stderr);
        return EXIT_USAGE;
    }
    if (o.one_thread && !o.serial) {
        errmsg("run: --one-thread needs --serial");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    if (cmp) return compare(path, o.serial, o.check);
    if (o.serial) replay_fix_arena(full_argv);

    crash_install();
    struct hkf_file f;
    char err[512];
    if (hkf_open(path, &f, err, sizeof err)) {
        errmsg("%s", err);
        return EXIT_USER;
    }
    struct replay rp;
    if (rp_load(&rp, &f, err, sizeof err)) {
        errmsg("%s", err);
        hkf_close(&f);
        return EXIT_USER;
    }
    arena_fn arena = (arena_fn)dlsym(RTLD_DEFAULT, "hakmem_arena");
    version_fn hver = (version_fn)dlsym(RTLD_DEFAULT, "hakmem_version");
    if (arena) arena(&o.arena_base, &o.arena_size);
    R.check = o.check;
    R.user_stop = o.stop_at;
    R.rp = &rp;
    if (o.check && rp.first_invalid < o.stop_at) o.stop_at = rp.first_invalid;
    o.at_stop = at_stop;

    long rss_before = status_kb("VmRSS");
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {   /* reset VmHWM, so the peak is the replay's own */
        if (write(fd, "5", 1) != 1) { /* older kernels: peak includes loading */ }
        close(fd);
    }
    struct rp_result res;
    int rc = rp_run(&rp, &o, &res, err, sizeof err);
    long hwm = status_kb("VmHWM");
    if (rc) {
        errmsg("%s", err);
        rp_free(&rp);
        hkf_close(&f);
        return EXIT_USER;
    }

    const char *pre = getenv("LD_PRELOAD");
    printf("file: %s\n", path);
    if (o.serial && o.one_thread) printf("mode: serial, one thread\n");
    else printf("mode: %s (%u threads)\n", o.serial ? "serial lockstep" : "threaded", rp.n_threads);
    if (arena)
        printf("allocator: hakmem %s (arena 0x%llx, %llu MiB)\n", hver ? hver() : "?",
               (unsigned long long)o.arena_base, (unsigned long long)(o.arena_size >> 20));
    else
        printf("allocator: %s%s\n", pre && *pre ? "LD_PRELOAD=" : "default malloc (glibc)",
               pre && *pre ? pre : "");
    printf("events: %llu\n", (unsigned long long)res.executed);
    printf("ops: %llu\n", (unsigned long long)res.calls);
    printf("seconds: %.6f\n", res.seconds);
    printf("ops/s: %.0f\n", res.seconds > 0 ? (double)res.calls / res.seconds : 0.0);
    printf("peak live bytes: %llu (%llu objects; requested sizes, whole trace)\n",
           (unsigned long long)rp.peak_live_bytes, (unsigned long long)rp.peak_live_objects);
    printf("peak RSS: %ld KiB (%ld KiB before the replay)\n", hwm, rss_before);
    if (o.serial) {
        printf("fingerprint: %016llx\n", (unsigned long long)res.fingerprint);
        printf("fingerprint addresses: %s\n",
               arena ? "relative to the hakmem arena" : "raw (not reproducible under ASLR)");
    }
    if (res.null_results)
        printf("NULL results: %llu (the recording got a block; this replay did not)\n",
               (unsigned long long)res.null_results);
    fflush(stdout);

    int status = 0;
    if (res.alloc_error_at != UINT64_MAX) {
        uint64_t i = res.alloc_error_at;
        const struct rp_op *op = &rp.ops[i];
        struct obuf ob;
        ob_init(&ob, 2);
        ob_str(&ob, PROG ": check: event ");
        ob_u64(&ob, i);
        ob_str(&ob, " (thread ");
        ob_u64(&ob, RP_THREAD(op));
        ob_str(&ob, "): ");
        rp_describe(&ob, &rp, i);
        ob_str(&ob, ": allocator error: ");
        ob_str(&ob, res.alloc_error);
        ob_ch(&ob, '\n');
        rp_history(&ob, &rp, op->obj != HKF_NOOBJ ? op->obj : op->ref, i);
        ob_flush(&ob);
        status = EXIT_CHECK;
    } else if (o.check && rp.first_invalid < R.user_stop && res.stopped_at == rp.first_invalid) {
        status = EXIT_CHECK;   /* reported by at_stop */
    } else if (o.check) {
        printf("check: no invalid operation in %llu events\n", (unsigned long long)res.executed);
    }
    if (res.alloc_error_at == UINT64_MAX)
        rp_release_live(&rp, res.stopped_at == UINT64_MAX ? rp.n_ops : res.stopped_at);
    rp_free(&rp);
    hkf_close(&f);
    return status;
}

/* ---- --compare --------------------------------------------------------- */

struct peer { const char *name; const char *lib; };

static int run_child(const char *lib, const char *file, int serial, int check,
                     double *secs, double *opss, long *rss, int *sig, char *alloc, size_t alen)
{
    int pfd[2];
    if (pipe(pfd)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        close(pfd[1]);
        if (lib) setenv("LD_PRELOAD", lib, 1);
        else unsetenv("LD_PRELOAD");
        char *av[8];
        int n = 0;
        av[n++] = (char *)PROG;
        av[n++] = (char *)"run";
        if (serial) av[n++] = (char *)"--serial";
        if (check) av[n++] = (char *)"--check";
        av[n++] = (char *)file;
        av[n] = NULL;
        execv("/proc/self/exe", av);
        _exit(127);
    }
    close(pfd[1]);
    char out[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + got, sizeof out - 1 - got)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) got += (size_t)r;
    close(pfd[0]);
    out[got] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    const char *p;
    if ((p = strstr(out, "\nseconds: "))) *secs = strtod(p + 10, NULL);
    if ((p = strstr(out, "\nops/s: "))) *opss = strtod(p + 8, NULL);
    if ((p = strstr(out, "\npeak RSS: "))) *rss = strtol(p + 11, NULL, 10);
    alloc[0] = 0;
    if ((p = strstr(out, "\nallocator: "))) {
        size_t n = strcspn(p + 12, "\n");
        snprintf(alloc, alen, "%.*s", (int)n, p + 12);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int compare(const char *file, int serial, int check)
{
    static char hak[4200];
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    hak[0] = 0;
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(hak, sizeof hak, "%s/libhakmem.so", exe);
        if (access(hak, R_OK) != 0) {
            snprintf(hak, sizeof hak, "%s/../lib/libhakmem.so", exe);
            if (access(hak, R_OK) != 0) hak[0] = 0;
        }
    }
    const struct peer peers[] = {
        { "glibc", NULL },
        { "hakmem", hak[0] ? hak : NULL },
        { "jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2" },
        { "mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2" },
        { "tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4" },
    };
    struct hkf_file f;
    char err[512];
    if (hkf_open(file, &f, err, sizeof err)) {
        errmsg("%s", err);
        return EXIT_USER;
    }
    printf("%s: %llu events, %llu threads, %s replay\n", file,
           (unsigned long long)f.sum.n_events, (unsigned long long)f.sum.n_threads,
           serial ? "serial" : "threaded");
    hkf_close(&f);
    printf("%-10s %12s %14s %14s\n", "allocator", "seconds", "ops/s", "peak RSS KiB");
    int bad = 0;
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        const struct peer *pe = &peers[i];
        int is_hakmem = !strcmp(pe->name, "hakmem");
        if (is_hakmem && !pe->lib) {
            printf("%-10s %12s\n", pe->name, "not found (libhakmem.so next to hakmem-replay)");
            continue;
        }
        if (pe->lib && access(pe->lib, R_OK) != 0) {
            printf("%-10s %12s\n", pe->name, "not installed");
            continue;
        }
        double secs = 0, opss = 0;
        long rss = 0;
        int sig = 0;
        char alloc[256];
        fflush(stdout);
        int rc = run_child(pe->lib, file, serial, check, &secs, &opss, &rss, &sig, alloc,
                           sizeof alloc);
        int loaded = is_hakmem ? !strncmp(alloc, "hakmem", 6)
                   : pe->lib ? strstr(alloc, pe->lib) != NULL : 1;
        if (!sig && rc == 0 && !loaded) {
            printf("%-10s did not load (%s)\n", pe->name, alloc);
            bad = 1;
        } else if (sig) {
            printf("%-10s crashed (%s)\n", pe->name, strsignal(sig));
            bad = 1;
        } else if (rc != 0) {
            printf("%-10s failed (exit %d)\n", pe->name, rc);
            bad = 1;
        } else {
            printf("%-10s %12.6f %14.0f %14ld\n", pe->name, secs, opss, rss);
        }
    }
    return bad ? EXIT_USER : 0;
}
