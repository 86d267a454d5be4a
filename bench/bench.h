/* bench.h - shared harness of the hakmem benchmark suite (every bench program).
 *
 * Owns: key=value argument parsing, the xorshift PRNG, the clock, the
 * harness's own memory (bench_meta: mmap, never the allocator under test,
 * so that slot arrays and queues neither perturb the measured allocator nor
 * get recycled by the floor allocator), the VmHWM/VmRSS reader and the one
 * RESULT line every benchmark prints:
 *
 *   RESULT name=N ops=N secs=S ops_per_sec=R peak_rss_kb=K rss_kb=K [k=v...]
 *
 * "ops" counts allocator calls (malloc, free, calloc, realloc), so one
 * free+malloc replacement is 2 ops.  secs is wall-clock time for the
 * multi-threaded benchmarks; the single-threaded ones report the process's
 * CPU time (user + system: page faults and syscalls count) with clock=cpu
 * and the wall time as wall_secs, because on a shared machine CPU time
 * leaves out the time other processes held the core, and on an idle one the
 * two are equal.  peak_rss_kb is VmHWM read from
 * /proc/self/status at the end of the run (ru_maxrss would survive exec and
 * include the shell's footprint).  Arguments are key=value; a key given
 * twice takes the last value (bench/run.sh appends its quick-mode overrides).
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_ARGS 64

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "unknown"
#endif

static const char *bench_prog = "bench";
static int bench_argc;
static char **bench_argv;
static unsigned char bench_arg_used[BENCH_MAX_ARGS];

static inline __attribute__((noreturn, format(printf, 1, 2)))
void bench_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", bench_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static inline __attribute__((noreturn, format(printf, 1, 2)))
void bench_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", bench_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try --help)\n");
    exit(2);
}

/* usage: the full --help text (parameters, defaults, what is measured). */
static inline void bench_init(int argc, char **argv, const char *usage)
{
    const char *slash = strrchr(argv[0], '/');
    bench_prog = slash ? slash + 1 : argv[0];
    if (argc - 1 > BENCH_MAX_ARGS)
        bench_usage_error("too many arguments");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s (hakmem bench) %s\n", bench_prog, HAKMEM_VERSION);
            exit(0);
        }
    }
    bench_argc = argc;
    bench_argv = argv;
    /* A static stdout buffer: printing the result allocates nothing. */
    static char outbuf[4096];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
}

/* The last "key=..." argument's value, or NULL. */
static inline const char *bench_arg_raw(const char *key)
{
    size_t kl = strlen(key);
    const char *val = NULL;
    for (int i = 1; i < bench_argc; i++) {
        if (!strncmp(bench_argv[i], key, kl) && bench_argv[i][kl] == '=') {
            val = bench_argv[i] + kl + 1;
            bench_arg_used[i - 1] = 1;
        }
    }
    return val;
}

/* Unsigned integer with an optional K/M/G suffix (powers of 1024). */
static inline uint64_t bench_arg_u64(const char *key, uint64_t def)
{
    const char *v = bench_arg_raw(key);
    if (!v)
        return def;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *v == '-')
        bench_usage_error("bad value for %s: '%s'", key, v);
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k') { mul = 1ULL << 10; end++; }
    else if (*end == 'M' || *end == 'm') { mul = 1ULL << 20; end++; }
    else if (*end == 'G' || *end == 'g') { mul = 1ULL << 30; end++; }
    if (*end)
        bench_usage_error("bad value for %s: '%s'", key, v);
    if (x > UINT64_MAX / mul)
        bench_usage_error("value for %s out of range: '%s'", key, v);
    return x * mul;
}

static inline const char *bench_arg_str(const char *key, const char *def)
{
    const char *v = bench_arg_raw(key);
    if (v && !*v)
        bench_usage_error("empty value for %s", key);
    return v ? v : def;
}

/* Call after reading every parameter: an unknown argument is a usage error. */
static inline void bench_args_done(void)
{
    for (int i = 1; i < bench_argc; i++)
        if (!bench_arg_used[i - 1])
            bench_usage_error("unknown argument '%s'", bench_argv[i]);
}

static inline void bench_check_range(const char *what, uint64_t lo, uint64_t hi)
{
    if (lo > hi)
        bench_usage_error("%s: min %" PRIu64 " > max %" PRIu64, what, lo, hi);
}

/* xorshift64* : a few cycles, good enough for slot and size choice. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_seed(uint64_t seed, uint64_t stream)
{
    uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ULL + stream * 0xBF58476D1CE4E5B9ULL;
    return s ? s : 0x1234567;
}

/* Uniform in [lo, hi] by multiply-high (no division on the hot path). */
static inline uint64_t rng_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + (uint64_t)(((unsigned __int128)rng_next(s) * (hi - lo + 1)) >> 64);
}

/* The realistic minimum a program does with a new block: write a word.
 * volatile so that no compiler can drop it. */
static inline void bench_touch(void *p, uint64_t v)
{
    *(volatile uint64_t *)p = v;
}

static inline uint64_t bench_peek(const void *p)
{
    return *(const volatile uint64_t *)p;
}

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall and CPU clocks together, for the single-threaded benchmarks. */
struct bench_clock {
    double wall, cpu;
};

static inline struct bench_clock bench_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    struct bench_clock c = { bench_now(), (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 };
    return c;
}

/* Harness memory: zeroed, from the kernel, never from malloc. */
static inline void *bench_meta(size_t size)
{
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        bench_die("mmap of %zu bytes for the harness failed: %s", size, strerror(errno));
    return p;
}

static inline void bench_meta_free(void *p, size_t size)
{
    munmap(p, size ? size : 1);
}

/* A "Vm...:" field of /proc/self/status in KiB; read with read(2) into the
 * stack so the reading itself does not allocate. */
static inline uint64_t bench_status_kb(const char *field)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bench_die("open /proc/self/status: %s", strerror(errno));
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[n] = 0;
    size_t fl = strlen(field);
    for (char *line = buf; line && *line; ) {
        if (!strncmp(line, field, fl) && line[fl] == ':')
            return strtoull(line + fl + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    bench_die("no %s in /proc/self/status", field);
}

/* Prints the RESULT line; extra is "" or " key=value ...". */
static inline void bench_result(const char *name, uint64_t ops, double secs, const char *extra)
{
    uint64_t hwm = bench_status_kb("VmHWM");
    uint64_t rss = bench_status_kb("VmRSS");
    if (secs <= 0)
        secs = 1e-9;
    printf("RESULT name=%s ops=%" PRIu64 " secs=%.6f ops_per_sec=%.1f peak_rss_kb=%" PRIu64
           " rss_kb=%" PRIu64 "%s\n", name, ops, secs, (double)ops / secs, hwm, rss,
           extra ? extra : "");
    fflush(stdout);
}

/* RESULT line of a single-threaded benchmark: secs is CPU time. */
static inline void bench_result_cpu(const char *name, uint64_t ops, struct bench_clock t0,
                                    struct bench_clock t1, const char *extra)
{
    char buf[512];
    snprintf(buf, sizeof buf, " clock=cpu wall_secs=%.6f%s", t1.wall - t0.wall, extra ? extra : "");
    bench_result(name, ops, t1.cpu - t0.cpu, buf);
}

static inline void *bench_xmalloc_check(void *p, size_t size)
{
    if (!p)
        bench_die("allocation of %zu bytes failed", size);
    return p;
}

static inline void bench_spin_pause(unsigned *spins)
{
    if (++*spins < 256)
        __builtin_ia32_pause();
    else {
        *spins = 0;
        sched_yield();
    }
}

static inline void bench_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int rc = pthread_create(t, NULL, fn, arg);
    if (rc)
        bench_die("pthread_create: %s", strerror(rc));
}

#endif
