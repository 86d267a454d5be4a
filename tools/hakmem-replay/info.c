/* info.c - `hakmem-replay info` (what a .hkr file holds) and `dump`
 * (one line per event). */
#include "cmd.h"
#include "crash.h"
#include "hkf.h"
#include "replay.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int open_or_fail(const char *path, struct hkf_file *f)
{
    char err[512];
    if (hkf_open(path, f, err, sizeof err)) {
        errmsg("%s", err);
        return -1;
    }
    return 0;
}

static int log2_bucket(uint64_t v)
{
    int b = 0;
    while (b < 63 && (1ull << b) < v) b++;
    return b;
}

static void human(char *buf, size_t n, uint64_t v)
{
    if (v >= (1ull << 30) && !(v & ((1ull << 30) - 1))) snprintf(buf, n, "%lluG", (unsigned long long)(v >> 30));
    else if (v >= (1ull << 20) && !(v & ((1ull << 20) - 1))) snprintf(buf, n, "%lluM", (unsigned long long)(v >> 20));
    else if (v >= 1024 && !(v & 1023)) snprintf(buf, n, "%lluK", (unsigned long long)(v >> 10));
    else snprintf(buf, n, "%llu", (unsigned long long)v);
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        { "threads", no_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int all_threads = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "th", opts, NULL)) != -1) {
        switch (c) {
        case 't': all_threads = 1; break;
        case 'h': printf("usage: " PROG " info [--threads] FILE.hkr\n"); return 0;
        default:
            errmsg("info: unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        errmsg("info: expected one FILE.hkr");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    struct hkf_file f;
    if (open_or_fail(path, &f)) return EXIT_USER;
    const struct hkf_summary *s = &f.sum;
    uint64_t kinds[HKF_KIND_MAX + 1] = { 0 }, failed = 0, rfree = 0, hist[64] = { 0 };
    struct hkf_iter it;
    struct hkf_rec r;
    hkf_iter_init(&it, &f);
    while (hkf_next(&it, &r) == 1) {
        kinds[r.kind]++;
        if (r.kind == HKF_REALLOC && (r.flags & HKF_FAILED) && r.size == 0) rfree++;
        else if (r.flags & HKF_FAILED) failed++;
        if (hkf_creates(&r)) hist[log2_bucket(hkf_bytes(&r))]++;
    }
    struct replay rp;
    char err[512];
    if (rp_load(&rp, &f, err, sizeof err)) {
        errmsg("%s", err);
        hkf_close(&f);
        return EXIT_USER;
    }
    printf("file: %s (%zu bytes, format %u.%u, %.1f bytes/event)\n", path, f.len, f.ver_major,
           f.ver_minor, s->n_events ? (double)f.len / (double)s->n_events : 0.0);
    printf("source: %s\n", hkf_source_name((unsigned)s->source));
    printf("events: %llu\n", (unsigned long long)s->n_events);
    for (unsigned k = HKF_MALLOC; k <= HKF_KIND_MAX; k++)
        if (kinds[k]) printf("  %-14s %llu\n", hkf_kind_name(k), (unsigned long long)kinds[k]);
    if (rfree) printf("  (%llu of the reallocs are realloc(p, 0) that freed p)\n",
                      (unsigned long long)rfree);
    if (failed) printf("  (%llu calls failed when recorded)\n", (unsigned long long)failed);
    printf("objects: %llu\n", (unsigned long long)s->n_objects);
    printf("threads: %llu\n", (unsigned long long)s->n_threads);
    uint64_t show = all_threads ? s->n_threads : (s->n_threads < 16 ? s->n_threads : 16);
    for (uint64_t t = 0; t < show; t++) {
        const struct hkf_thread *th = &f.threads[t];
        printf("  thread %llu: vpid %lld vtid %lld, %llu events%s%s\n", (unsigned long long)t,
               (long long)th->vpid, (long long)th->vtid, (unsigned long long)th->events,
               th->flags & HKF_TH_STARTED ? ", started" : "",
               th->flags & HKF_TH_EXITED ? ", exited" : "");
    }
    if (show < s->n_threads)
        printf("  ... %llu more (--threads)\n", (unsigned long long)(s->n_threads - show));
    double span = (double)(s->t_last_ns - s->t_first_ns) * 1e-9;
    printf("time span: %.6f s\n", span);
    printf("peak live bytes: %llu (%llu objects; requested sizes)\n",
           (unsigned long long)rp.peak_live_bytes, (unsigned long long)rp.peak_live_objects);
    printf("callers: %llu distinct\n", (unsigned long long)s->n_callers);
    printf("sizes (allocations by requested size):\n");
    for (int b = 0; b < 64; b++) {
        if (!hist[b]) continue;
        char lo[32], hi[32];
        human(lo, sizeof lo, b ? (1ull << (b - 1)) + 1 : 0);
        human(hi, sizeof hi, 1ull << b);
        printf("  %8s .. %-8s %llu\n", lo, hi, (unsigned long long)hist[b]);
    }
    printf("convert found: %llu ops on freed objects (kept), %llu frees of unknown pointers "
           "(dropped), %llu pointers returned while live, %llu lost events\n",
           (unsigned long long)s->an.dead_ops, (unsigned long long)s->an.unknown_frees,
           (unsigned long long)s->an.live_returns, (unsigned long long)s->an.lost_events);
    if (rp.first_invalid != UINT64_MAX) {
        struct obuf o;
        fflush(stdout);
        ob_init(&o, 1);
        ob_str(&o, "first invalid operation: event ");
        ob_u64(&o, rp.first_invalid);
        ob_str(&o, " (");
        ob_str(&o, rp_invalid_name(rp.invalid_code));
        ob_str(&o, "): ");
        rp_describe(&o, &rp, rp.first_invalid);
        ob_ch(&o, '\n');
        ob_flush(&o);
    } else {
        printf("first invalid operation: none\n");
    }
    rp_free(&rp);
    hkf_close(&f);
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t from = 0, count = UINT64_MAX;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (parse_u64(optarg, &from)) { errmsg("dump: bad --from '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'n':
            if (parse_u64(optarg, &count)) { errmsg("dump: bad --count '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'h':
            printf("usage: " PROG " dump [--from N] [--count N] FILE.hkr\n"
                   "one line per event: INDEX t=THREAD +SECONDS OPERATION [caller ADDR]\n");
            return 0;
        default:
            errmsg("dump: unknown or incomplete option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        errmsg("dump: expected one FILE.hkr");
        return EXIT_USAGE;
    }
    struct hkf_file f;
    if (open_or_fail(argv[optind], &f)) return EXIT_USER;
    struct hkf_iter it;
    struct hkf_rec r;
    struct obuf o;
    ob_init(&o, 1);
    o.linebuf = 0;
    hkf_iter_init(&it, &f);
    uint64_t shown = 0;
    while (shown < count && hkf_next(&it, &r) == 1) {
        if (r.index < from) continue;
        ob_u64(&o, r.index);
        ob_str(&o, " t=");
        ob_u64(&o, r.thread);
        ob_str(&o, " +");
        ob_sec(&o, r.ts);
        ob_ch(&o, ' ');
        rp_describe_rec(&o, &r);
        if (r.caller) {
            ob_str(&o, " caller ");
            ob_hex(&o, r.caller);
        }
        ob_ch(&o, '\n');
        shown++;
    }
    ob_flush(&o);
    hkf_close(&f);
    return 0;
}
