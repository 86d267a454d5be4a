/* reduce.c - `hakmem-replay reduce`: shrink a failing trace (delta
 * debugging) to a small one that fails the same way.
 *
 * A failure is what a serial replay with --check ends with: a signal
 * (crash), an invalid operation of the trace (double free, realloc of a
 * freed block), an allocator error found by the checks, or a hang.  With
 * --no-check the invalid operations are replayed as recorded, so the
 * failure is the crash (or hang) they cause in the allocator.  It is
 * "the same" when the type, the signal or reason, and the kind of the
 * event it happened at agree.  Every candidate runs in a forked child
 * (quiet crash handler writing a shared record), so crashes and hangs
 * never hurt the reducer; the parent takes its memory with mmap only, so
 * each child starts from the same heap.
 *
 * Order: cut everything after the failing event, then ddmin over threads,
 * over objects (an event whose object's creation is gone goes too), and
 * over single events; after each success the trace is cut again after the
 * (possibly earlier) failing event.  Serial replays only: a failure that
 * needs real concurrency may not reproduce (docs/howto-replay.md).
 */
#include "cmd.h"
#include "crash.h"
#include "hkf.h"
#include "replay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { F_OK_ = 0, F_CRASH, F_INVALID, F_ALLOC, F_HANG, F_ERROR };

struct fsig {
    int      type, code;   /* code: signal, or rp_invalid */
    unsigned kind;         /* kind of the failing event   */
    uint64_t index;        /* failing event (candidate numbering) */
};

struct shared {            /* MAP_SHARED between parent and child */
    struct crash_record crash;
    struct fsig sig;
};

static struct {
    const struct hkf_file *f;
    struct hkf_rec *recs;
    uint64_t n;            /* events in the file                 */
    uint8_t *cur;          /* events kept so far                 */
    uint8_t *cand;         /* candidate being tested             */
    uint32_t *map;         /* candidate index -> original event  */
    uint32_t *newobj;      /* original object -> candidate id    */
    uint32_t *newth;       /* original thread -> candidate thread */
    uint32_t *unit;        /* event -> unit in the current phase  */
    uint8_t *ukeep;        /* unit -> kept                        */
    uint32_t *units, *trial;
    struct shared *sh;
    double timeout;
    uint64_t tests, max_tests;
    struct fsig want;
    int verbose, no_check, one_thread;
} D;

static const char *type_name(int t)
{
    switch (t) {
    case F_CRASH: return "crash";
    case F_INVALID: return "invalid operation";
    case F_ALLOC: return "allocator error";
    case F_HANG: return "hang";
    case F_ERROR: return "replay error";
    default: return "no failure";
    }
}

/* Apply closure to D.cand (an event goes when its object's creation went)
 * and build the candidate replay.  Returns the number of events. */
static int build(struct replay *rp, uint64_t *count)
{
    uint64_t n = 0;
    uint32_t nobj = 0, nth = 0;
    for (uint64_t t = 0; t < D.f->sum.n_threads; t++) D.newth[t] = UINT32_MAX;
    for (uint64_t i = 0; i < D.n; i++) {
        const struct hkf_rec *r = &D.recs[i];
        if (r->obj != HKF_NOOBJ) D.newobj[r->obj] = UINT32_MAX;
    }
    for (uint64_t i = 0; i < D.n; i++) {
        if (!D.cand[i]) continue;
        const struct hkf_rec *r = &D.recs[i];
        if (r->ref != HKF_NOOBJ && D.newobj[r->ref] == UINT32_MAX) { D.cand[i] = 0; continue; }
        if (r->obj != HKF_NOOBJ) D.newobj[r->obj] = nobj++;
        if (D.newth[r->thread] == UINT32_MAX) D.newth[r->thread] = nth++;
        D.map[n++] = (uint32_t)i;
    }
    *count = n;
    if (rp_init(rp, n, nth, nobj)) return -1;
    for (uint64_t k = 0; k < n; k++) {
        struct hkf_rec r = D.recs[D.map[k]];
        r.index = k;
        if (r.ref != HKF_NOOBJ) r.ref = D.newobj[r.ref];
        if (r.obj != HKF_NOOBJ) r.obj = D.newobj[r.obj];
        r.thread = D.newth[r.thread];
        rp_add(rp, &r);
    }
    return rp_finish(rp);
}

static void child(struct replay *rp)
{
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 1); dup2(null, 2); }
    crash_set_quiet(1);
    crash_set_record(&D.sh->crash);
    struct rp_opts o;
    memset(&o, 0, sizeof o);
    o.serial = 1;
    o.one_thread = D.one_thread;
    o.check = !D.no_check;
    o.stop_at = D.no_check ? UINT64_MAX : rp->first_invalid;
    struct rp_result res;
    char err[256];
    if (rp_run(rp, &o, &res, err, sizeof err)) _exit(5);
    if (D.no_check) _exit(0);
    if (res.alloc_error_at != UINT64_MAX) {
        D.sh->sig = (struct fsig){ F_ALLOC, 0, RP_KIND(&rp->ops[res.alloc_error_at]),
                                   res.alloc_error_at };
        _exit(4);
    }
    if (rp->first_invalid != UINT64_MAX) {
        D.sh->sig = (struct fsig){ F_INVALID, rp->invalid_code,
                                   RP_KIND(&rp->ops[rp->first_invalid]), rp->first_invalid };
        _exit(3);
    }
    _exit(0);
}

/* Replay the candidate in D.cand; fills *s. */
static int test(struct fsig *s, uint64_t *count)
{
    struct replay rp;
    memset(s, 0, sizeof *s);
    if (build(&rp, count)) return -1;
    memset(D.sh, 0, sizeof *D.sh);
    D.tests++;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { rp_free(&rp); return -1; }
    if (pid == 0) child(&rp);
    int st = 0;
    double t0 = now_sec();
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (now_sec() - t0 > D.timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            s->type = F_HANG;
            s->index = UINT64_MAX;
            rp_free(&rp);
            return 0;
        }
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
    }
    if (WIFSIGNALED(st)) {
        s->type = F_CRASH;
        s->code = WTERMSIG(st);
        s->kind = D.sh->crash.sig ? D.sh->crash.kind : 0;
        s->index = D.sh->crash.sig ? D.sh->crash.index : UINT64_MAX;
    } else if (WIFEXITED(st) && (WEXITSTATUS(st) == 3 || WEXITSTATUS(st) == 4)) {
        *s = D.sh->sig;
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        s->type = F_OK_;
    } else {
        s->type = F_ERROR;
        s->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    rp_free(&rp);
    return 0;
}

static int same(const struct fsig *a, const struct fsig *b)
{
    return a->type == b->type && a->code == b->code && a->kind == b->kind;
}

/* Keep only events up to the failing one of the last test. */
static void cut_after(uint64_t cand_index, uint64_t count)
{
    if (cand_index >= count) return;
    uint64_t last = D.map[cand_index];
    for (uint64_t i = last + 1; i < D.n; i++) D.cur[i] = 0;
}

/* Test D.cur restricted to the units in trial[0..n); on the same failure
 * adopt it.  Returns 1 when adopted. */
static int try_units(const uint32_t *trial, uint64_t n, uint64_t nunits)
{
    if (D.max_tests && D.tests >= D.max_tests) return 0;
    memset(D.ukeep, 0, nunits);
    for (uint64_t k = 0; k < n; k++) D.ukeep[trial[k]] = 1;
    for (uint64_t i = 0; i < D.n; i++)
        D.cand[i] = D.cur[i] && (D.unit[i] == UINT32_MAX || D.ukeep[D.unit[i]]);
    struct fsig s;
    uint64_t count;
    if (test(&s, &count) || !same(&s, &D.want)) return 0;
    memcpy(D.cur, D.cand, D.n);
    cut_after(s.index, count);
    return 1;
}

/* Classic ddmin over the units in D.units[0..n).  Returns the new n. */
static uint64_t ddmin(uint64_t n, uint64_t nunits)
{
    uint64_t gran = 2;
    while (n >= 2) {
        uint64_t chunk = (n + gran - 1) / gran;
        int done = 0;
        for (uint64_t s = 0; s < n && !done; s += chunk) {       /* one subset */
            uint64_t e = s + chunk < n ? s + chunk : n;
            if (e - s == n) continue;
            if (try_units(D.units + s, e - s, nunits)) {
                memmove(D.units, D.units + s, (e - s) * sizeof *D.units);
                n = e - s;
                gran = 2;
                done = 1;
            }
        }
        for (uint64_t s = 0; s < n && !done && gran > 2; s += chunk) {  /* complements */
            uint64_t e = s + chunk < n ? s + chunk : n, m = 0;
            for (uint64_t k = 0; k < n; k++)
                if (k < s || k >= e) D.trial[m++] = D.units[k];
            if (try_units(D.trial, m, nunits)) {
                memcpy(D.units, D.trial, m * sizeof *D.units);
                n = m;
                gran = gran > 3 ? gran - 1 : 2;
                done = 1;
            }
        }
        if (done) continue;
        if (gran >= n || (D.max_tests && D.tests >= D.max_tests)) break;
        gran = gran * 2 < n ? gran * 2 : n;
    }
    return n;
}

enum { PH_THREADS, PH_OBJECTS, PH_EVENTS };

static uint64_t kept(void)
{
    uint64_t k = 0;
    for (uint64_t i = 0; i < D.n; i++) k += D.cur[i];
    return k;
}

static void phase(int ph)
{
    uint64_t nunits = ph == PH_THREADS ? D.f->sum.n_threads
                    : ph == PH_OBJECTS ? D.f->sum.n_objects : D.n;
    uint8_t *seen = D.ukeep;
    memset(seen, 0, nunits);
    uint64_t n = 0;
    for (uint64_t i = 0; i < D.n; i++) {
        const struct hkf_rec *r = &D.recs[i];
        uint32_t u;
        if (ph == PH_THREADS) u = r->thread;
        else if (ph == PH_OBJECTS) u = r->ref != HKF_NOOBJ ? r->ref : r->obj;
        else u = (uint32_t)i;
        D.unit[i] = u;
        if (D.cur[i] && u != UINT32_MAX && !seen[u]) {
            seen[u] = 1;
            D.units[n++] = u;
        }
    }
    uint64_t before = kept();
    n = ddmin(n, nunits);
    if (D.verbose)
        fprintf(stderr, PROG ": reduce: %s: %llu units left, %llu -> %llu events (%llu tests)\n",
                ph == PH_THREADS ? "threads" : ph == PH_OBJECTS ? "objects" : "events",
                (unsigned long long)n, (unsigned long long)before,
                (unsigned long long)kept(), (unsigned long long)D.tests);
}

static int write_result(const char *out, uint64_t *events)
{
    char err[512];
    struct hkf_writer *w = hkf_writer_open(out, (unsigned)D.f->sum.source, err, sizeof err);
    if (!w) { errmsg("reduce: %s", err); return -1; }
    memcpy(D.cand, D.cur, D.n);
    struct replay rp;
    uint64_t n;
    if (build(&rp, &n)) { hkf_writer_abort(w); errmsg("reduce: out of memory"); return -1; }
    rp_free(&rp);
    uint32_t declared = 0;
    for (uint64_t k = 0; k < n; k++) {
        struct hkf_rec r = D.recs[D.map[k]];
        uint32_t t = D.newth[r.thread];
        if (t == declared) {
            uint32_t idx;
            const struct hkf_thread *th = &D.f->threads[r.thread];
            if (hkf_writer_thread(w, th->vpid, th->vtid, &idx)) break;
            declared++;
        }
        if (r.ref != HKF_NOOBJ) r.ref = D.newobj[r.ref];
        if (r.obj != HKF_NOOBJ) r.obj = D.newobj[r.obj];
        r.thread = t;
        if (hkf_writer_add(w, &r, D.f->sum.t_first_ns + r.ts)) break;
    }
    if (hkf_writer_close(w, NULL, NULL)) {
        errmsg("reduce: %s", hkf_writer_error(w));
        hkf_writer_abort(w);
        return -1;
    }
    hkf_writer_free(w);
    *events = n;
    return 0;
}

static void reduce_usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " reduce FILE.hkr -o SMALL.hkr [--no-check] [--one-thread]\n"
        "                      [--timeout SEC] [--max-tests N] [-v]\n"
        "  -o, --output FILE   where to write the reduced trace (required)\n"
        "      --no-check      replay invalid operations as recorded instead of stopping\n"
        "                      at the first one (the failure is then a crash or a hang)\n"
        "      --one-thread    replay every event on one thread (serial order)\n"
        "  -t, --timeout SEC   a candidate replay running longer is a hang (default 10)\n"
        "  -m, --max-tests N   stop after N candidate replays (default: no limit)\n"
        "  -v, --verbose       progress per phase on stderr\n");
}

int cmd_reduce(int argc, char **argv, char **full_argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "timeout", required_argument, NULL, 't' },
        { "max-tests", required_argument, NULL, 'm' },
        { "verbose", no_argument, NULL, 'v' },
        { "no-check", no_argument, NULL, 'N' },
        { "one-thread", no_argument, NULL, '1' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL;
    uint64_t tmo = 10;
    int c;
    memset(&D, 0, sizeof D);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:m:vh1", opts, NULL)) != -1) {
        switch (c) {
        case 'N': D.no_check = 1; break;
        case '1': D.one_thread = 1; break;
        case 'o': out = optarg; break;
        case 't':
            if (parse_u64(optarg, &tmo) || !tmo) { errmsg("reduce: bad --timeout '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'm':
            if (parse_u64(optarg, &D.max_tests)) { errmsg("reduce: bad --max-tests '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'v': D.verbose = 1; break;
        case 'h': reduce_usage(stdout); return 0;
        default:
            errmsg("reduce: unknown or incomplete option '%s'", argv[optind - 1]);
            reduce_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out) {
        errmsg("reduce: expected FILE.hkr and -o SMALL.hkr");
        reduce_usage(stderr);
        return EXIT_USAGE;
    }
    replay_fix_arena(full_argv);
    D.timeout = (double)tmo;
    struct hkf_file f;
    char err[512];
    if (hkf_open(argv[optind], &f, err, sizeof err)) {
        errmsg("%s", err);
        return EXIT_USER;
    }
    D.f = &f;
    D.n = f.sum.n_events;
    uint64_t nu = D.n > f.sum.n_objects ? D.n : f.sum.n_objects;
    if (nu < f.sum.n_threads) nu = f.sum.n_threads;
    D.recs = tab_alloc(tab_size(D.n, sizeof *D.recs));
    D.cur = tab_alloc(D.n);
    D.cand = tab_alloc(D.n);
    D.map = tab_alloc(tab_size(D.n, sizeof *D.map));
    D.newobj = tab_alloc(tab_size(f.sum.n_objects, sizeof *D.newobj));
    D.newth = tab_alloc(tab_size(f.sum.n_threads, sizeof *D.newth));
    D.unit = tab_alloc(tab_size(D.n, sizeof *D.unit));
    D.ukeep = tab_alloc(nu);
    D.units = tab_alloc(tab_size(nu, sizeof *D.units));
    D.trial = tab_alloc(tab_size(nu, sizeof *D.trial));
    void *sh = mmap(NULL, sizeof *D.sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!D.recs || !D.cur || !D.cand || !D.map || !D.newobj || !D.newth || !D.unit ||
        !D.ukeep || !D.units || !D.trial || sh == MAP_FAILED) {
        errmsg("reduce: out of memory for %llu events", (unsigned long long)D.n);
        return EXIT_USER;
    }
    D.sh = sh;
    struct hkf_iter it;
    hkf_iter_init(&it, &f);
    for (uint64_t i = 0; i < D.n && hkf_next(&it, &D.recs[i]) == 1; i++) D.cur[i] = 1;
    crash_install();

    memcpy(D.cand, D.cur, D.n);
    uint64_t count;
    double t0 = now_sec();
    if (test(&D.want, &count)) {
        errmsg("reduce: cannot run a replay (fork failed or out of memory)");
        return EXIT_USER;
    }
    if (D.want.type == F_OK_) {
        errmsg("reduce: %s replays without failure (serial%s, %s): nothing to reduce",
               argv[optind], D.one_thread ? " on one thread" : "",
               D.no_check ? "invalid operations replayed" : "with --check");
        return EXIT_USER;
    }
    if (D.want.type == F_ERROR) {
        errmsg("reduce: the replay of %s cannot run (exit %d)", argv[optind], D.want.code);
        return EXIT_USER;
    }
    cut_after(D.want.index, count);
    char what[96];
    if (D.want.type == F_CRASH) snprintf(what, sizeof what, "crash (%s) in %s", strsignal(D.want.code),
                                         hkf_kind_name(D.want.kind));
    else if (D.want.type == F_INVALID) snprintf(what, sizeof what, "%s (%s)", rp_invalid_name(D.want.code),
                                                hkf_kind_name(D.want.kind));
    else snprintf(what, sizeof what, "%s (%s)", type_name(D.want.type), hkf_kind_name(D.want.kind));
    fprintf(stderr, PROG ": reduce: the replay fails with: %s at event %llu\n", what,
            (unsigned long long)D.want.index);
    phase(PH_THREADS);
    phase(PH_OBJECTS);
    phase(PH_EVENTS);
    uint64_t events;
    if (write_result(out, &events)) return EXIT_USER;
    printf("reduced %s (%llu events) -> %s (%llu events) in %llu replays, %.1f s; failure: %s\n",
           argv[optind], (unsigned long long)D.n, out, (unsigned long long)events,
           (unsigned long long)D.tests, now_sec() - t0, what);
    hkf_close(&f);
    return 0;
}
