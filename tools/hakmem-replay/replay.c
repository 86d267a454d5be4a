/* replay.c - building the op table and executing it (see replay.h). */
#include "replay.h"
#include "util.h"
#include "crash.h"

#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_LIVE_THREADS 4096

const char *rp_invalid_name(int code)
{
    switch (code) {
    case RP_DOUBLE_FREE: return "double free";
    case RP_REALLOC_FREED: return "realloc of a freed object";
    case RP_ALLOC_ERROR: return "allocator error";
    default: return "ok";
    }
}

/* ---- building ------------------------------------------------------- */

int rp_init(struct replay *rp, uint64_t n_events, uint32_t n_threads, uint32_t n_objects)
{
    memset(rp, 0, sizeof *rp);
    rp->cap_ops = n_events;
    rp->n_threads = n_threads;
    rp->n_objects = n_objects;
    rp->first_invalid = UINT64_MAX;
    rp->ops = tab_alloc(tab_size(n_events, sizeof *rp->ops));
    rp->order = tab_alloc(tab_size(n_events, sizeof *rp->order));
    rp->th_first = tab_alloc(tab_size(n_threads, sizeof *rp->th_first));
    rp->th_count = tab_alloc(tab_size(n_threads, sizeof *rp->th_count));
    rp->th_last = tab_alloc(tab_size(n_threads, sizeof *rp->th_last));
    rp->slot = tab_alloc(tab_size(n_objects, sizeof *rp->slot));
    rp->done = tab_alloc(tab_size(n_objects, sizeof *rp->done));
    rp->osize = tab_alloc(tab_size(n_objects, sizeof *rp->osize));
    rp->ostate = tab_alloc(n_objects);
    if (!rp->ops || !rp->order || !rp->th_first || !rp->th_count || !rp->th_last ||
        !rp->slot || !rp->done || !rp->osize || !rp->ostate) {
        rp_free(rp);
        return -1;
    }
    return 0;
}

void rp_free(struct replay *rp)
{
    tab_free(rp->ops, tab_size(rp->cap_ops, sizeof *rp->ops));
    tab_free(rp->order, tab_size(rp->cap_ops, sizeof *rp->order));
    tab_free(rp->th_first, tab_size(rp->n_threads, sizeof *rp->th_first));
    tab_free(rp->th_count, tab_size(rp->n_threads, sizeof *rp->th_count));
    tab_free(rp->th_last, tab_size(rp->n_threads, sizeof *rp->th_last));
    tab_free(rp->slot, tab_size(rp->n_objects, sizeof *rp->slot));
    tab_free(rp->done, tab_size(rp->n_objects, sizeof *rp->done));
    tab_free(rp->osize, tab_size(rp->n_objects, sizeof *rp->osize));
    tab_free(rp->ostate, rp->n_objects);
    memset(rp, 0, sizeof *rp);
}

enum { OS_NONE = 0, OS_LIVE = 1, OS_DEAD = 2 };

/* The object model, in recorded global order: validity (first invalid
 * operation) and live bytes (requested sizes). */
void rp_add(struct replay *rp, const struct hkf_rec *r)
{
    uint64_t i = rp->n_ops++;
    struct rp_op *op = &rp->ops[i];
    op->size = r->size;
    op->arg = r->arg;
    op->ref = r->ref;
    op->obj = r->obj;
    op->tk = r->thread << 8 | r->kind | (r->flags & (HKF_FAILED | HKF_VARIANT));
    op->ref_ord = r->ref != HKF_NOOBJ ? rp->done[r->ref]++ : 0;
    if (r->obj != HKF_NOOBJ) rp->done[r->obj]++;
    rp->th_count[r->thread]++;
    rp->th_last[r->thread] = i;
    if (r->kind >= HKF_THREAD_START) return;
    rp->calls++;
    if (hkf_refers(r)) {
        uint32_t o = r->ref;
        if (rp->ostate[o] != OS_LIVE) {
            if (rp->first_invalid == UINT64_MAX) {
                rp->first_invalid = i;
                rp->invalid_code = r->kind == HKF_FREE ? RP_DOUBLE_FREE : RP_REALLOC_FREED;
            }
        } else if (hkf_ends(r)) {
            rp->ostate[o] = OS_DEAD;
            rp->live_bytes -= rp->osize[o];
            rp->live_objects--;
        }
    }
    if (hkf_creates(r)) {
        rp->ostate[r->obj] = OS_LIVE;
        rp->osize[r->obj] = hkf_bytes(r);
        rp->live_bytes += rp->osize[r->obj];
        rp->live_objects++;
    }
    if (rp->live_bytes > rp->peak_live_bytes) rp->peak_live_bytes = rp->live_bytes;
    if (rp->live_objects > rp->peak_live_objects) rp->peak_live_objects = rp->live_objects;
}

int rp_finish(struct replay *rp)
{
    uint64_t acc = 0;
    for (uint32_t t = 0; t < rp->n_threads; t++) {
        rp->th_first[t] = acc;
        acc += rp->th_count[t];
    }
    /* th_count doubles as the fill cursor, then is restored. */
    for (uint32_t t = 0; t < rp->n_threads; t++) rp->th_count[t] = 0;
    for (uint64_t i = 0; i < rp->n_ops; i++) {
        uint32_t t = RP_THREAD(&rp->ops[i]);
        rp->order[rp->th_first[t] + rp->th_count[t]++] = (uint32_t)i;
    }
    memset(rp->done, 0, tab_size(rp->n_objects, sizeof *rp->done));
    tab_free(rp->ostate, rp->n_objects);
    rp->ostate = NULL;
    return 0;
}

int rp_load(struct replay *rp, const struct hkf_file *f, char *err, size_t errlen)
{
    if (rp_init(rp, f->sum.n_events, (uint32_t)f->sum.n_threads, (uint32_t)f->sum.n_objects)) {
        snprintf(err, errlen, "out of memory for %llu events",
                 (unsigned long long)f->sum.n_events);
        return -1;
    }
    struct hkf_iter it;
    struct hkf_rec r;
    hkf_iter_init(&it, f);
    while (hkf_next(&it, &r) == 1) rp_add(rp, &r);
    rp->file = f;
    return rp_finish(rp);
}

void rp_release_live(struct replay *rp, uint64_t limit)
{
    uint8_t *live = tab_alloc(rp->n_objects);
    if (!live) return;
    if (limit > rp->n_ops) limit = rp->n_ops;
    for (uint64_t i = 0; i < limit; i++) {
        const struct rp_op *op = &rp->ops[i];
        struct hkf_rec r = { .size = op->size, .kind = (uint8_t)RP_KIND(op),
                             .flags = (uint8_t)RP_FLAGS(op) };
        if (op->ref != HKF_NOOBJ && hkf_ends(&r)) live[op->ref] = 0;
        if (op->obj != HKF_NOOBJ) live[op->obj] = 1;
    }
    for (uint32_t o = 0; o < rp->n_objects; o++)
        if (live[o]) free(rp->slot[o]);
    tab_free(live, rp->n_objects);
}

/* ---- execution ------------------------------------------------------ */

static __thread uint64_t tls_cur = UINT64_MAX;

uint64_t rp_current(void) { return tls_cur; }

struct worker {
    uint32_t  go;        /* bumped by main: run [from, to)     */
    uint32_t  done;      /* bumped by the worker when finished */
    uint32_t  last, quit, started;
    uint32_t  id;
    uint64_t  from, to;
    uint64_t  nulls, calls, executed;
    pthread_t th;
} __attribute__((aligned(64)));

static struct {
    struct replay        *rp;
    const struct rp_opts *o;
    uint64_t              stop;
    uint64_t              fp;
    uint32_t              gate;
    uint32_t              abort;
    uint64_t              err_at;
    char                  err[160];
    struct worker        *w;
} X;

static void fwait(uint32_t *addr, uint32_t old)
{
    for (int i = 0; i < 2000; i++) {
        if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != old) return;
        __builtin_ia32_pause();
    }
    while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) == old)
        syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
}

static void fbump(uint32_t *addr)
{
    __atomic_add_fetch(addr, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

static uint64_t fp_mix(uint64_t fp, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a && X.o->arena_size && a - X.o->arena_base < X.o->arena_size) a -= X.o->arena_base;
    fp = (fp ^ (uint64_t)a) * 0x9E3779B97F4A7C15ull;
    return fp ^ (fp >> 29);
}

/* ---- check mode: verify what the allocator returned ----------------- */

static uint64_t tag_of(uint32_t o) { return (uint64_t)o * 0x9E3779B97F4A7C15ull ^ 0xA5A5C3C3DEADBEEFull; }

static void alloc_error(uint64_t idx, const char *fmt, uint64_t a, uint64_t b)
    __attribute__((noinline, cold));
static void alloc_error(uint64_t idx, const char *fmt, uint64_t a, uint64_t b)
{
    uint64_t none = UINT64_MAX;
    if (__atomic_compare_exchange_n(&X.err_at, &none, idx, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        snprintf(X.err, sizeof X.err, fmt, (unsigned long long)a, (unsigned long long)b);
    __atomic_store_n(&X.abort, 1, __ATOMIC_RELEASE);
}

static void check_tag(const struct replay *rp, uint32_t o, uint64_t idx)
{
    void *p = rp->slot[o];
    if (!p || rp->osize[o] < 8) return;
    uint64_t t;
    memcpy(&t, p, 8);
    if (t != tag_of(o))
        alloc_error(idx, "the first bytes of object #%llu (at 0x%llx) were overwritten while it "
                    "was live (overlapping blocks?)", o, (uint64_t)(uintptr_t)p);
}

/* A new block p for object o: alignment, usable size, calloc zeroing,
 * realloc keeping `keep` bytes of old object `from`; then tag it. */
static void check_new(struct replay *rp, const struct rp_op *op, uint32_t o, void *p,
                      uint64_t bytes, uint64_t idx, uint32_t from, uint64_t keep)
{
    if (!p) return;
    uintptr_t a = (uintptr_t)p;
    /* A zero-byte block cannot be used for anything: no alignment owed
     * (jemalloc gives memalign(128, 0) a 64-byte aligned one). */
    uint64_t align = bytes > 8 ? 16 : bytes ? 8 : 1;
    if (RP_KIND(op) == HKF_MEMALIGN && bytes && op->arg && !(op->arg & (op->arg - 1)) &&
        op->arg > align)
        align = op->arg;
    if (a & (align - 1)) {
        alloc_error(idx, "returned 0x%llx, not aligned to %llu bytes", a, align);
        return;
    }
    size_t us = malloc_usable_size(p);
    if (us < bytes) {
        alloc_error(idx, "malloc_usable_size says %llu bytes, %llu were requested", us, bytes);
        return;
    }
    if (RP_KIND(op) == HKF_CALLOC) {
        const unsigned char *c = p;
        uint64_t n = bytes < 256 ? bytes : 256;
        for (uint64_t i = 0; i < n; i++)
            if (c[i]) { alloc_error(idx, "calloc block 0x%llx is not zeroed at byte %llu", a, i); return; }
        for (uint64_t i = bytes > 8 ? bytes - 8 : 0; i < bytes; i++)
            if (c[i]) { alloc_error(idx, "calloc block 0x%llx is not zeroed at byte %llu", a, i); return; }
    }
    if (keep >= 8) {
        uint64_t t;
        memcpy(&t, p, 8);
        if (t != tag_of(from)) {
            alloc_error(idx, "realloc to 0x%llx lost the block's contents (%llu bytes to keep)",
                        a, keep);
            return;
        }
    }
    rp->osize[o] = bytes;
    if (bytes >= 8) {
        uint64_t t = tag_of(o);
        memcpy(p, &t, 8);
    }
}

/* One event.  Returns the pointer the call produced (fingerprint). */
static inline void *exec_op(struct replay *rp, const struct rp_op *op, uint64_t idx, int check,
                            uint64_t *nulls)
{
    void *p;
    const unsigned kind = RP_KIND(op), flags = RP_FLAGS(op);
    switch (kind) {
    case HKF_MALLOC: p = malloc(op->size); break;
    case HKF_CALLOC: p = calloc(op->arg, op->size); break;
    case HKF_MEMALIGN:
        if (flags & HKF_VARIANT) {
            if (posix_memalign(&p, op->arg, op->size)) p = NULL;
        } else {
            p = memalign(op->arg, op->size);
        }
        break;
    case HKF_FREE:
        if (check) check_tag(rp, op->ref, idx);
        free(rp->slot[op->ref]);
        return NULL;
    case HKF_REALLOC:
        if (flags & HKF_VARIANT) {                  /* realloc(NULL, n) */
            p = realloc(NULL, op->size);
            break;
        } else {
            const uint32_t r = op->ref;
            uint64_t oldsz = check ? rp->osize[r] : 0;
            if (check) check_tag(rp, r, idx);
            p = realloc(rp->slot[r], op->size);
            if (flags & HKF_FAILED) {
                /* Recorded: realloc(p, 0) freed p, or the call failed and
                 * left p alone. */
                if (op->size == 0) {
                    if (p) free(p);
                    return NULL;
                }
                if (p) rp->slot[r] = p;
                return p;
            }
            rp->slot[op->obj] = p;
            if (!p) (*nulls)++;
            else if (check)
                check_new(rp, op, op->obj, p, op->size, idx, r, oldsz < op->size ? oldsz : op->size);
            return p;
        }
    default:
        return NULL;                                /* thread markers */
    }
    if (flags & HKF_FAILED) {                       /* failed when recorded */
        if (p) free(p);
        return p;
    }
    rp->slot[op->obj] = p;
    if (!p) (*nulls)++;
    else if (check) {
        uint64_t bytes = kind == HKF_CALLOC ? op->arg * op->size : op->size;
        check_new(rp, op, op->obj, p, bytes, idx, 0, 0);
    }
    return p;
}

/* Global-order range [from, to) on the calling thread (serial modes). */
static void run_global(uint64_t from, uint64_t to, struct worker *w)
{
    struct replay *rp = X.rp;
    const int check = X.o->check;
    uint64_t fp = X.fp, nulls = 0, calls = 0;
    for (uint64_t i = from; i < to; i++) {
        const struct rp_op *op = &rp->ops[i];
        tls_cur = i;
        void *p = exec_op(rp, op, i, check, &nulls);
        if (RP_KIND(op) < HKF_THREAD_START) {
            calls++;
            if (RP_KIND(op) != HKF_FREE) fp = fp_mix(fp, p);
        }
        if (check && __atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) { to = i + 1; break; }
    }
    tls_cur = UINT64_MAX;
    X.fp = fp;
    w->nulls += nulls;
    w->calls += calls;
    w->executed += to - from;
}

/* Thread t's own list, waiting on cross-thread dependencies (threaded). */
static void run_thread_list(uint32_t t, struct worker *w)
{
    struct replay *rp = X.rp;
    const int check = X.o->check;
    const int multi = rp->n_threads > 1;
    const uint32_t *list = rp->order + rp->th_first[t];
    uint64_t n = rp->th_count[t], nulls = 0, calls = 0, k = 0;
    const uint64_t stop = X.stop;
    for (; k < n; k++) {
        uint64_t i = multi ? list[k] : k;     /* one thread: the list is 0..n-1 */
        if (i >= stop) break;
        const struct rp_op *op = &rp->ops[i];
        const uint32_t r = op->ref;
        if (multi && r != HKF_NOOBJ &&
            __atomic_load_n(&rp->done[r], __ATOMIC_ACQUIRE) != op->ref_ord) {
            unsigned spins = 0;
            while (__atomic_load_n(&rp->done[r], __ATOMIC_ACQUIRE) != op->ref_ord) {
                if (__atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) goto out;
                if (++spins < 256) __builtin_ia32_pause();
                else sched_yield();
            }
        }
        tls_cur = i;
        exec_op(rp, op, i, check, &nulls);
        if (RP_KIND(op) < HKF_THREAD_START) calls++;
        if (multi) {
            /* Publish: the next operation on either object may go. */
            if (r != HKF_NOOBJ) __atomic_store_n(&rp->done[r], op->ref_ord + 1, __ATOMIC_RELEASE);
            if (op->obj != HKF_NOOBJ) __atomic_store_n(&rp->done[op->obj], 1, __ATOMIC_RELEASE);
        }
        if (check && __atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) { k++; break; }
    }
out:
    tls_cur = UINT64_MAX;
    w->nulls += nulls;
    w->calls += calls;
    w->executed += k;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    crash_thread_init();
    if (!X.o->serial) {
        fwait(&X.gate, 0);
        run_thread_list(w->id, w);
        crash_thread_fini();
        return NULL;
    }
    uint32_t seen = 0;
    for (;;) {
        fwait(&w->go, seen);
        seen = __atomic_load_n(&w->go, __ATOMIC_ACQUIRE);
        if (w->quit) break;
        int last = (int)w->last;
        run_global(w->from, w->to, w);
        fbump(&w->done);
        if (last) break;
    }
    crash_thread_fini();
    return NULL;
}

static int start_worker(struct worker *w, uint32_t id, char *err, size_t errlen)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 << 10);
    w->id = id;
    int rc = pthread_create(&w->th, &a, worker_main, w);
    pthread_attr_destroy(&a);
    if (rc) {
        snprintf(err, errlen, "cannot create replay thread %u: %s", id, strerror(rc));
        return -1;
    }
    w->started = 1;
    return 0;
}

static void stop_hook(struct replay *rp)
{
    if (X.o->at_stop && X.stop < rp->n_ops) X.o->at_stop(rp, X.stop);
}

static int run_serial(struct replay *rp, char *err, size_t errlen)
{
    const uint64_t n = X.stop < rp->n_ops ? X.stop : rp->n_ops;
    struct worker *main_w = &X.w[0];
    uint64_t i = 0;
    int rc = 0;
    while (i < n) {
        uint32_t t = RP_THREAD(&rp->ops[i]);
        uint64_t j = i + 1;
        if (X.o->one_thread) j = n;
        else while (j < n && RP_THREAD(&rp->ops[j]) == t) j++;
        if (t == 0 || X.o->one_thread) {
            run_global(i, j, main_w);
        } else {
            struct worker *w = &X.w[t];
            if (!w->started && start_worker(w, t, err, errlen)) { rc = -1; break; }
            w->from = i;
            w->to = j;
            w->last = (j - 1 == rp->th_last[t]);
            uint32_t d = __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
            fbump(&w->go);
            fwait(&w->done, d);
            if (w->last) {
                pthread_join(w->th, NULL);
                w->started = 0;
            }
        }
        i = j;
        if (X.o->check && __atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) break;
    }
    if (i >= n && !__atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) stop_hook(rp);
    for (uint32_t t = 1; t < rp->n_threads; t++) {
        struct worker *w = &X.w[t];
        if (!w->started) continue;
        w->quit = 1;
        fbump(&w->go);
        pthread_join(w->th, NULL);
        w->started = 0;
    }
    return rc;
}

static int run_threaded(struct replay *rp, char *err, size_t errlen)
{
    if (rp->n_threads > MAX_LIVE_THREADS) {
        snprintf(err, errlen, "the trace has %u threads; threaded replay starts them all at once "
                 "(limit %u): use --serial", rp->n_threads, MAX_LIVE_THREADS);
        return -1;
    }
    int rc = 0;
    uint32_t started = 1;
    for (uint32_t t = 1; t < rp->n_threads; t++, started++)
        if (start_worker(&X.w[t], t, err, errlen)) { rc = -1; break; }
    if (rc) {
        /* Let the ones that exist finish nothing: stop before event 0. */
        X.stop = 0;
    }
    __atomic_store_n(&X.gate, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &X.gate, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
    if (!rc) run_thread_list(0, &X.w[0]);
    for (uint32_t t = 1; t < started; t++) {
        pthread_join(X.w[t].th, NULL);
        X.w[t].started = 0;
    }
    if (!rc && !__atomic_load_n(&X.abort, __ATOMIC_ACQUIRE)) stop_hook(rp);
    return rc;
}

int rp_run(struct replay *rp, const struct rp_opts *o, struct rp_result *res,
           char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    memset(&X, 0, sizeof X);
    X.rp = rp;
    X.o = o;
    X.stop = o->stop_at;
    X.err_at = UINT64_MAX;
    X.fp = 0x6a09e667f3bcc909ull;
    size_t wsz = tab_size(rp->n_threads ? rp->n_threads : 1, sizeof *X.w);
    X.w = tab_alloc(wsz);
    if (!X.w) {
        snprintf(err, errlen, "out of memory for %u threads", rp->n_threads);
        return -1;
    }
    memset(rp->done, 0, tab_size(rp->n_objects, sizeof *rp->done));
    memset(rp->slot, 0, tab_size(rp->n_objects, sizeof *rp->slot));
    crash_set_replay(rp);
    double t0 = now_sec();
    int rc = o->serial ? run_serial(rp, err, errlen) : run_threaded(rp, err, errlen);
    res->seconds = now_sec() - t0;
    crash_set_replay(NULL);
    for (uint32_t t = 0; t < (rp->n_threads ? rp->n_threads : 1); t++) {
        res->executed += X.w[t].executed;
        res->calls += X.w[t].calls;
        res->null_results += X.w[t].nulls;
    }
    res->fingerprint = X.fp;
    res->stopped_at = (X.stop < rp->n_ops && res->executed < rp->n_ops) ? X.stop : UINT64_MAX;
    res->alloc_error_at = X.err_at;
    memcpy(res->alloc_error, X.err, sizeof res->alloc_error);
    tab_free(X.w, wsz);
    return rc;
}
