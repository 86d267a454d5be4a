/* convert.c - `hakmem-replay convert`: LTTng trace -> .hkr file.
 *
 * Reads the trace with the reader library (trace/reader.h) in timestamp
 * order and keeps, per process, a map from address to the object living
 * there (or that died there last).  Each pointer becomes a dense object id;
 * each (vpid, vtid) a replay thread (a new one when hakmem's per-thread
 * sequence restarts at 0, i.e. the kernel reused the tid).
 *
 * What the trace says that a correct program never does is reported (one
 * line each, the first few of every kind, then a count) and coded so the
 * replay does it again: a free or realloc of a dead object stays in the
 * file (the replay reproduces the double free); a free of a pointer the
 * trace never returned is dropped (nothing to replay it with); a pointer
 * returned while still live is a new object (the old one leaks).
 * Exit-time frees: a process that exits normally runs liblttng-ust's
 * destructors, which free tables allocated before the process was
 * registered with the session, so those mallocs are not in the trace.
 * Such frees are recognized by where they are: the unknown frees that end
 * a process's replay events (nothing but other unknown frees, free(NULL)
 * and thread exits after them).  They are held back per process until
 * its next event; if one comes, they were in the middle of the workload
 * and are reported one by one like any other; those still held at the
 * end are only counted (one line).  Both kinds are dropped.
 * Lost events (discarded-events messages, gaps in hakmem's `seq`) refuse
 * the conversion unless --allow-gaps.  With --overlap, a block that
 * overlaps another live block (not at the same address) is reported too
 * (overlap.h).
 *
 * Race note: realloc's event is emitted after the call returns (by hakmem
 * and by the libc wrapper), so another thread's malloc may show the old
 * address before the realloc that freed it.  Such displaced objects are
 * remembered; a later realloc of that address refers to them.
 */
#include "cmd.h"
#include "hkf.h"
#include "overlap.h"
#include "reader.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_PER_KIND 5
#define DISPLACED_MAX 4096

struct addr_ent {
    uint64_t addr;
    uint32_t obj;
    uint16_t proc;
    uint8_t  live, used;
};

struct th_ent {
    int64_t  vpid, vtid;
    uint32_t idx;        /* replay thread, UINT32_MAX: none yet */
    uint8_t  used, renew, exited;
};

/* Where an anomaly happened. */
struct loc {
    uint64_t index;       /* .hkr event index, UINT64_MAX: not written */
    uint64_t trace_index;
    uint32_t thread;
    int64_t  vtid, rel_ns;
};

/* An object whose address another allocation returned while it was live
 * (partial: a block overlapping it, at another address): reported only if
 * no realloc of it explains it (see the race note above). */
struct displaced {
    uint64_t addr;       /* the new block's address            */
    uint64_t old_addr;   /* the displaced object's address     */
    uint32_t obj;        /* the displaced (older) object       */
    uint32_t newobj;
    uint16_t proc;
    uint8_t  partial;
    struct loc at;
};

struct oinfo { uint32_t born, died; };

#define MAX_PROCS 1024

/* A process's unknown frees not yet reported (see the header): the first
 * ones (as many as a report can print) and how many. */
struct held_at { struct loc l; uint64_t ptr; };
struct held {
    uint64_t n;
    size_t nat, cap;
    struct held_at *at;
};

enum { AN_DEAD, AN_UNKNOWN, AN_LIVE, AN_OVERLAP, AN_NKIND };

struct conv {
    struct hkf_writer *w;
    const char *dir;
    int allow_gaps, failed;
    struct ovl *ovl;             /* --overlap */
    uint64_t overlaps;
    size_t npartial;
    enum hkr_provider prov;      /* locked provider */
    int64_t only_pid;            /* -1: all */
    struct hkr_seq *seq;
    int64_t t0;
    int have_t0;
    /* maps */
    struct addr_ent *am;
    size_t am_cap, am_n;
    struct th_ent *tm;
    size_t tm_cap, tm_n;
    struct th_ent *last_th;
    int64_t procs[MAX_PROCS];
    unsigned nprocs;
    struct held held[MAX_PROCS];
    struct displaced disp[DISPLACED_MAX];
    size_t ndisp;
    struct oinfo *oi;
    size_t oi_cap;
    /* counts */
    uint64_t read, replay_in, other_prov, null_frees, failed_calls, lost, other_pid;
    uint64_t exit_frees;          /* unknown frees at a process's end */
    uint64_t shown[AN_NKIND + 1];
    uint64_t show_max;            /* reports printed per kind */
    struct hkf_anomalies an;
    int warned_vtid, warned_procs;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* ---- address map ----------------------------------------------------- */

static int am_grow(struct conv *c)
{
    size_t ncap = c->am_cap ? c->am_cap * 2 : (1u << 16);
    struct addr_ent *n = calloc(ncap, sizeof *n);
    if (!n) return -1;
    for (size_t i = 0; i < c->am_cap; i++) {
        struct addr_ent *e = &c->am[i];
        if (!e->used) continue;
        size_t k = mix(e->addr ^ (uint64_t)e->proc << 48) & (ncap - 1);
        while (n[k].used) k = (k + 1) & (ncap - 1);
        n[k] = *e;
    }
    free(c->am);
    c->am = n;
    c->am_cap = ncap;
    return 0;
}

/* Entry for (proc, addr); created (unused -> used, not live) if insert. */
static struct addr_ent *am_get(struct conv *c, uint16_t proc, uint64_t addr, int insert)
{
    if (insert && (c->am_n + 1) * 2 > c->am_cap && am_grow(c)) return NULL;
    if (!c->am_cap) return NULL;
    size_t k = mix(addr ^ (uint64_t)proc << 48) & (c->am_cap - 1);
    for (;;) {
        struct addr_ent *e = &c->am[k];
        if (!e->used) {
            if (!insert) return NULL;
            e->used = 1;
            e->addr = addr;
            e->proc = proc;
            e->live = 0;
            e->obj = HKF_NOOBJ;
            c->am_n++;
            return e;
        }
        if (e->addr == addr && e->proc == proc) return e;
        k = (k + 1) & (c->am_cap - 1);
    }
}

/* ---- threads and processes ------------------------------------------- */

static struct th_ent *tm_get(struct conv *c, int64_t vpid, int64_t vtid)
{
    if (c->last_th && c->last_th->vtid == vtid && c->last_th->vpid == vpid) return c->last_th;
    if ((c->tm_n + 1) * 2 > c->tm_cap) {
        size_t ncap = c->tm_cap ? c->tm_cap * 2 : 256;
        struct th_ent *n = calloc(ncap, sizeof *n);
        if (!n) return NULL;
        for (size_t i = 0; i < c->tm_cap; i++) {
            if (!c->tm[i].used) continue;
            size_t k = mix((uint64_t)c->tm[i].vpid * 31 + (uint64_t)c->tm[i].vtid) & (ncap - 1);
            while (n[k].used) k = (k + 1) & (ncap - 1);
            n[k] = c->tm[i];
        }
        free(c->tm);
        c->tm = n;
        c->tm_cap = ncap;
    }
    size_t k = mix((uint64_t)vpid * 31 + (uint64_t)vtid) & (c->tm_cap - 1);
    while (c->tm[k].used && !(c->tm[k].vpid == vpid && c->tm[k].vtid == vtid))
        k = (k + 1) & (c->tm_cap - 1);
    struct th_ent *t = &c->tm[k];
    if (!t->used) {
        t->used = 1;
        t->vpid = vpid;
        t->vtid = vtid;
        t->idx = UINT32_MAX;
        c->tm_n++;
    }
    c->last_th = t;
    return t;
}

static int proc_of(struct conv *c, int64_t vpid, uint16_t *out)
{
    for (unsigned i = 0; i < c->nprocs; i++)
        if (c->procs[i] == vpid) { *out = (uint16_t)i; return 0; }
    if (c->nprocs == sizeof c->procs / sizeof c->procs[0]) return -1;
    c->procs[c->nprocs] = vpid;
    *out = (uint16_t)c->nprocs++;
    return 0;
}

/* ---- reporting ------------------------------------------------------- */

static struct loc loc_of(const struct conv *c, const struct hkr_event *ev, uint32_t thread,
                         int written)
{
    struct loc l = { written ? hkf_writer_events(c->w) : UINT64_MAX, ev->index, thread,
                     ev->vtid, c->have_t0 ? ev->ts_ns - c->t0 : 0 };
    return l;
}

static void anomaly(struct conv *c, int kind, const struct loc *l, const char *what,
                    uint64_t addr, uint32_t obj)
{
    if (c->shown[kind]++ >= c->show_max) return;
    char at[160] = "", idx[48] = "";
    if (obj != HKF_NOOBJ && obj < c->oi_cap) {
        const struct oinfo *o = &c->oi[obj];
        if (o->died != UINT32_MAX)
            snprintf(at, sizeof at, " (object #%u, allocated at event %u, released at event %u)",
                     obj, o->born, o->died);
        else
            snprintf(at, sizeof at, " (object #%u, allocated at event %u)", obj, o->born);
    }
    if (l->index != UINT64_MAX) snprintf(idx, sizeof idx, "event %" PRIu64 ", ", l->index);
    warnmsg("%strace event %" PRIu64 " (thread %u, vtid %" PRId64 ", +%" PRId64 ".%09" PRId64
            "s): %s 0x%" PRIx64 "%s", idx, l->trace_index, l->thread, l->vtid,
            l->rel_ns / 1000000000, l->rel_ns % 1000000000, what, addr, at);
}

static const char UNKNOWN_FREE[] = "free of a pointer the trace never returned (dropped):";

/* An unknown free: held until its process shows whether it was exiting. */
static int hold_unknown(struct conv *c, uint16_t proc, const struct loc *l, uint64_t ptr)
{
    struct held *h = &c->held[proc];
    if (h->nat < c->show_max) {
        if (h->nat == h->cap) {
            size_t ncap = h->cap ? h->cap * 2 : SHOW_PER_KIND;
            struct held_at *n = realloc(h->at, ncap * sizeof *n);
            if (!n) return -1;
            h->at = n;
            h->cap = ncap;
        }
        h->at[h->nat].l = *l;
        h->at[h->nat].ptr = ptr;
        h->nat++;
    }
    h->n++;
    return 0;
}

/* Process proc did something else: its held frees were not at its exit. */
static void release_unknown(struct conv *c, uint16_t proc)
{
    struct held *h = &c->held[proc];
    if (!h->n) return;
    c->an.unknown_frees += h->n;
    for (size_t i = 0; i < h->nat; i++)
        anomaly(c, AN_UNKNOWN, &h->at[i].l, UNKNOWN_FREE, h->at[i].ptr, HKF_NOOBJ);
    c->shown[AN_UNKNOWN] += h->n - h->nat;   /* counted in "... and N more" */
    h->n = 0;
    h->nat = 0;
}

static void report_live(struct conv *c, const struct displaced *d)
{
    if (d->partial) {
        char what[160];
        c->overlaps++;
        c->an.live_returns++;
        snprintf(what, sizeof what, "block of object #%u overlaps live object #%u at 0x%" PRIx64
                 " (lost free, or the allocator gave memory twice): new block at",
                 d->newobj, d->obj, d->old_addr);
        anomaly(c, AN_OVERLAP, &d->at, what, d->addr, d->obj);
        return;
    }
    c->an.live_returns++;
    anomaly(c, AN_LIVE, &d->at, "returned a pointer that was still live (lost free?):",
            d->addr, d->obj);
}

static void disp_push(struct conv *c, const struct displaced *d)
{
    if (c->ndisp == DISPLACED_MAX) {
        report_live(c, &c->disp[0]);
        if (c->disp[0].partial) c->npartial--;
        memmove(c->disp, c->disp + 1, (DISPLACED_MAX - 1) * sizeof *c->disp);
        c->ndisp--;
    }
    c->disp[c->ndisp++] = *d;
    if (d->partial) c->npartial++;
}

/* The newest object displaced from addr (still live), taken off the
 * list; HKF_NOOBJ if none.  report: it was a real live return (a later
 * free found it), not the realloc race. */
static uint32_t take_displaced(struct conv *c, uint16_t proc, uint64_t addr, int report)
{
    for (size_t i = c->ndisp; i-- > 0;) {
        struct displaced *d = &c->disp[i];
        if (d->partial || d->addr != addr || d->proc != proc) continue;
        uint32_t x = d->obj;
        if (report) report_live(c, d);
        memmove(d, d + 1, (c->ndisp - i - 1) * sizeof *d);
        c->ndisp--;
        return x;
    }
    return HKF_NOOBJ;
}

static int has_displaced(const struct conv *c, uint16_t proc, uint64_t addr)
{
    for (size_t i = 0; i < c->ndisp; i++)
        if (!c->disp[i].partial && c->disp[i].addr == addr && c->disp[i].proc == proc) return 1;
    return 0;
}

/* Object x ended: by a free (confirm its pending overlaps: it was live when
 * the other block appeared) or by a realloc (the race explains them). */
static void partial_end(struct conv *c, uint32_t x, int confirm)
{
    if (!c->npartial) return;
    for (size_t i = 0; i < c->ndisp;) {
        struct displaced *d = &c->disp[i];
        if (!d->partial || d->obj != x) { i++; continue; }
        if (confirm) report_live(c, d);
        memmove(d, d + 1, (c->ndisp - i - 1) * sizeof *d);
        c->ndisp--;
        c->npartial--;
    }
}

static int oi_set(struct conv *c, uint32_t obj, uint32_t born)
{
    if (obj >= c->oi_cap) {
        size_t ncap = c->oi_cap ? c->oi_cap * 2 : 65536;
        while (ncap <= obj) ncap *= 2;
        struct oinfo *n = realloc(c->oi, ncap * sizeof *n);
        if (!n) return -1;
        c->oi = n;
        c->oi_cap = ncap;
    }
    c->oi[obj].born = born;
    c->oi[obj].died = UINT32_MAX;
    return 0;
}

/* ---- the conversion -------------------------------------------------- */

static int fail(struct conv *c, const char *msg)
{
    errmsg("convert: %s", msg);
    c->failed = 1;
    return 1;
}

/* A new object of `bytes` at addr (the next id). */
static int create_at(struct conv *c, const struct hkr_event *ev, uint32_t thread, uint16_t proc,
                     uint64_t addr, uint64_t bytes, uint32_t *obj)
{
    *obj = hkf_writer_next_obj(c->w);
    struct addr_ent *e = am_get(c, proc, addr, 1);
    if (!e) return fail(c, "out of memory");
    if (e->live) {
        struct displaced d = { addr, addr, e->obj, *obj, proc, 0, loc_of(c, ev, thread, 1) };
        disp_push(c, &d);
    }
    e->obj = *obj;
    e->live = 1;
    if (c->ovl) {
        uint32_t other;
        uint64_t other_addr;
        if (ovl_add(c->ovl, proc, addr, bytes, *obj, &other, &other_addr))
            return fail(c, "out of memory");
        if (other != HKF_NOOBJ) {
            struct displaced d = { addr, other_addr, other, *obj, proc, 1,
                                   loc_of(c, ev, thread, 1) };
            disp_push(c, &d);
        }
    }
    return oi_set(c, *obj, (uint32_t)hkf_writer_events(c->w)) ? fail(c, "out of memory") : 0;
}

static void died(struct conv *c, uint32_t obj)
{
    if (obj < c->oi_cap && c->oi[obj].died == UINT32_MAX)
        c->oi[obj].died = (uint32_t)hkf_writer_events(c->w);
}

static int on_discard(const struct hkr_discard *d, void *arg)
{
    struct conv *c = arg;
    uint64_t n = d->has_count ? d->count : 1;
    c->lost += n;
    if (c->allow_gaps) return 0;
    char msg[400];
    snprintf(msg, sizeof msg, "%s: the tracer lost %s%" PRIu64 " %s in stream %s%s; a replay "
             "needs every event (record with a larger buffer, or --allow-gaps)", c->dir,
             d->has_count ? "" : "at least ", n,
             d->kind == HKR_DISCARDED_EVENTS ? "events" : "packets",
             d->stream_name ? d->stream_name : "?", d->has_times ? " (time window known)" : "");
    return fail(c, msg);
}

static int on_event(const struct hkr_event *ev, void *arg)
{
    struct conv *c = arg;
    c->read++;
    if (ev->provider == HKR_PROV_OTHER) return 0;
    if (c->only_pid >= 0 && ev->vpid != c->only_pid) { c->other_pid++; return 0; }
    struct th_ent *te = NULL;
    if (ev->provider == HKR_PROV_HAKMEM && HKR_HAS(ev, SEQ) && c->prov != HKR_PROV_LIBC) {
        struct hkr_gap g;
        if (hkr_seq_feed(c->seq, ev, &g) && g.got > g.expected) {
            c->lost += g.got - g.expected;
            if (!c->allow_gaps) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s: thread vtid %" PRId64 " lost %" PRIu64 " events "
                         "(seq %" PRIu64 " to %" PRIu64 ") before trace event %" PRIu64 "; a "
                         "replay needs every event (or --allow-gaps)", c->dir, g.vtid,
                         g.got - g.expected, g.expected, g.got - 1, ev->index);
                return fail(c, msg);
            }
        }
        te = tm_get(c, ev->vpid, ev->vtid);
        if (!te) return fail(c, "out of memory");
        /* The replay set's counter restarting: a new thread with a reused
         * tid (box events are numbered apart and start at 0 whenever a
         * session first enables them). */
        if (hkr_seq_stream(ev) == HKR_SEQ_REPLAY && ev->seq == 0 && te->idx != UINT32_MAX)
            te->renew = 1;
    }
    switch (ev->id) {
    case HKR_EV_MALLOC: case HKR_EV_FREE: case HKR_EV_CALLOC: case HKR_EV_REALLOC:
    case HKR_EV_MEMALIGN: case HKR_EV_POSIX_MEMALIGN: break;
    case HKR_EV_THREAD_START: case HKR_EV_THREAD_EXIT:
        if (ev->provider == HKR_PROV_HAKMEM) break;
        return 0;
    default: return 0;
    }
    if (!c->prov) c->prov = ev->provider;
    if (ev->provider != c->prov) { c->other_prov++; return 0; }
    c->replay_in++;
    if (!c->have_t0) { c->have_t0 = 1; c->t0 = ev->ts_ns; }
    if (ev->vtid < 0 && !c->warned_vtid) {
        c->warned_vtid = 1;
        warnmsg("convert: the trace has no vtid context: all events go to one replay thread");
    }
    if (!te && !(te = tm_get(c, ev->vpid, ev->vtid))) return fail(c, "out of memory");
    if (ev->id == HKR_EV_THREAD_START && te->exited) te->renew = 1;
    /* A new replay thread is declared when its first event is written (an
     * event may still be dropped below); until then it has the index it
     * will get. */
    const int new_thread = te->idx == UINT32_MAX || te->renew;
    uint16_t proc;
    if (proc_of(c, ev->vpid, &proc)) return fail(c, "more than 1024 processes in the trace");
    /* Held unknown frees stay held only across other unknown frees (the
     * FREE case decides), free(NULL) and thread exits. */
    if (ev->id != HKR_EV_FREE && ev->id != HKR_EV_THREAD_EXIT) release_unknown(c, proc);
    if (c->nprocs > 1 && !c->warned_procs) {
        c->warned_procs = 1;
        warnmsg("convert: the trace holds several processes; their events are replayed in one "
                "(use --pid to keep one)");
    }

    struct hkf_rec r;
    memset(&r, 0, sizeof r);
    r.thread = new_thread ? hkf_writer_threads_count(c->w) : te->idx;
    r.caller = ev->caller;
    r.ref = r.obj = HKF_NOOBJ;
    const uint64_t ptr = ev->ptr;
    switch (ev->id) {
    case HKR_EV_MALLOC: case HKR_EV_CALLOC: case HKR_EV_MEMALIGN: case HKR_EV_POSIX_MEMALIGN:
        r.kind = ev->id == HKR_EV_MALLOC ? HKF_MALLOC : ev->id == HKR_EV_CALLOC ? HKF_CALLOC
                                                                                : HKF_MEMALIGN;
        r.size = ev->size;
        r.arg = ev->id == HKR_EV_CALLOC ? ev->nmemb : ev->id == HKR_EV_MALLOC ? 0 : ev->align;
        if (ev->id == HKR_EV_POSIX_MEMALIGN) r.flags |= HKF_VARIANT;
        if (ptr == 0 || (ev->id == HKR_EV_POSIX_MEMALIGN && ev->result != 0)) {
            r.flags |= HKF_FAILED;
            c->failed_calls++;
        } else if (create_at(c, ev, r.thread, proc, ptr, hkf_bytes(&r), &r.obj)) {
            return 1;
        }
        break;
    case HKR_EV_FREE: {
        if (ptr == 0) { c->null_frees++; return 0; }
        struct addr_ent *e = am_get(c, proc, ptr, 0);
        if (!e || !e->live) {
            /* Two live objects at ptr (a live return): the current one is
             * already freed, so this free is the older one's. */
            if (has_displaced(c, proc, ptr)) {
                release_unknown(c, proc);
                uint32_t x = take_displaced(c, proc, ptr, 1);
                r.kind = HKF_FREE;
                r.ref = x;
                died(c, x);
                break;
            }
        }
        if (!e || e->obj == HKF_NOOBJ) {
            struct loc l = loc_of(c, ev, r.thread, 0);
            return hold_unknown(c, proc, &l, ptr) ? fail(c, "out of memory") : 0;
        }
        release_unknown(c, proc);
        r.kind = HKF_FREE;
        r.ref = e->obj;
        if (!e->live) {
            c->an.dead_ops++;
            struct loc l = loc_of(c, ev, r.thread, 1);
            anomaly(c, AN_DEAD, &l, "double free of", ptr, e->obj);
        } else {
            e->live = 0;
            died(c, e->obj);
            if (c->ovl) {
                ovl_remove(c->ovl, proc, ptr, e->obj);
                partial_end(c, e->obj, 1);
            }
        }
        break;
    }
    case HKR_EV_REALLOC: {
        const uint64_t old = ev->old_ptr;
        r.kind = HKF_REALLOC;
        r.size = ev->size;
        struct addr_ent *e = NULL;
        uint32_t x = HKF_NOOBJ;
        int live = 0;
        if (old) {
            x = take_displaced(c, proc, old, 0);
            live = x != HKF_NOOBJ;
            if (x == HKF_NOOBJ && (e = am_get(c, proc, old, 0)) && e->obj != HKF_NOOBJ) {
                x = e->obj;
                live = e->live;
            }
            if (x == HKF_NOOBJ) {
                c->an.unknown_frees++;
                struct loc l = loc_of(c, ev, r.thread, 0);
                anomaly(c, AN_UNKNOWN, &l, "realloc of a pointer the trace never returned "
                        "(coded as realloc(NULL)):", old, HKF_NOOBJ);
            }
        }
        if (x == HKF_NOOBJ) {                       /* realloc(NULL, n) */
            r.flags |= HKF_VARIANT;
            if (ptr == 0) {
                if (!old) { r.flags |= HKF_FAILED; c->failed_calls++; }
                else return 0;
            } else if (create_at(c, ev, r.thread, proc, ptr, r.size, &r.obj)) {
                return 1;
            }
            break;
        }
        r.ref = x;
        if (!live) {
            c->an.dead_ops++;
            struct loc l = loc_of(c, ev, r.thread, 1);
            anomaly(c, AN_DEAD, &l, "realloc of freed pointer", old, x);
        }
        if (c->ovl && (ptr != 0 || r.size == 0)) {   /* x ends */
            ovl_remove(c->ovl, proc, old, x);
            partial_end(c, x, 0);
        }
        if (ptr == 0) {
            r.flags |= HKF_FAILED;
            if (r.size == 0) {                      /* realloc(p, 0) freed p */
                if (e && e->obj == x) e->live = 0;
                died(c, x);
            } else {
                c->failed_calls++;
            }
            break;
        }
        if (e && e->obj == x) e->live = 0;
        died(c, x);
        if (create_at(c, ev, r.thread, proc, ptr, r.size, &r.obj)) return 1;
        break;
    }
    case HKR_EV_THREAD_START:
        r.kind = HKF_THREAD_START;
        break;
    case HKR_EV_THREAD_EXIT:
        r.kind = HKF_THREAD_EXIT;
        break;
    default:
        return 0;
    }
    if (new_thread) {
        if (hkf_writer_thread(c->w, ev->vpid, ev->vtid, &te->idx))
            return fail(c, hkf_writer_error(c->w));
        te->renew = 0;
        te->exited = 0;
    }
    if (r.kind == HKF_THREAD_EXIT) te->exited = 1;
    if (hkf_writer_add(c->w, &r, ev->ts_ns)) return fail(c, hkf_writer_error(c->w));
    return 0;
}

static void conv_usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " convert TRACE_DIR -o FILE.hkr [--allow-gaps] [--source hakmem|libc]\n"
        "                        [--pid PID] [--overlap] [--all-anomalies]\n"
        "  -o, --output FILE   the .hkr file to write (required)\n"
        "  -g, --allow-gaps    convert even when the trace lost events\n"
        "  -s, --source S      hakmem (hakmem:* replay set) or libc (lttng_ust_libc:*);\n"
        "                      default: whichever replay event comes first\n"
        "  -p, --pid PID       only the events of process PID (vpid)\n"
        "  -O, --overlap       also report blocks that overlap a live block (slower)\n"
        "  -a, --all-anomalies report every anomaly (default: the first 5 of each\n"
        "                      kind, then how many more)\n");
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "allow-gaps", no_argument, NULL, 'g' },
        { "source", required_argument, NULL, 's' },
        { "pid", required_argument, NULL, 'p' },
        { "overlap", no_argument, NULL, 'O' },
        { "all-anomalies", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct conv c;
    memset(&c, 0, sizeof c);
    c.only_pid = -1;
    c.show_max = SHOW_PER_KIND;
    const char *out = NULL;
    int ch;
    uint64_t v;
    opterr = 0;
    int want_overlap = 0;
    while ((ch = getopt_long(argc, argv, "o:gs:p:hOa", opts, NULL)) != -1) {
        switch (ch) {
        case 'O': want_overlap = 1; break;
        case 'a': c.show_max = UINT64_MAX; break;
        case 'o': out = optarg; break;
        case 'g': c.allow_gaps = 1; break;
        case 's':
            if (!strcmp(optarg, "hakmem")) c.prov = HKR_PROV_HAKMEM;
            else if (!strcmp(optarg, "libc") || !strcmp(optarg, "lttng_ust_libc")) c.prov = HKR_PROV_LIBC;
            else { errmsg("convert: --source is hakmem or libc, not '%s'", optarg); return EXIT_USAGE; }
            break;
        case 'p':
            if (parse_u64(optarg, &v) || v > INT32_MAX) {
                errmsg("convert: bad --pid '%s'", optarg);
                return EXIT_USAGE;
            }
            c.only_pid = (int64_t)v;
            break;
        case 'h': conv_usage(stdout); return 0;
        default:
            errmsg("convert: unknown or incomplete option '%s'", argv[optind - 1]);
            conv_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out) {
        errmsg("convert: expected TRACE_DIR and -o FILE.hkr");
        conv_usage(stderr);
        return EXIT_USAGE;
    }
    c.dir = argv[optind];
    char err[HKR_ERRLEN];
    c.seq = hkr_seq_new();
    if (!c.seq || (want_overlap && !(c.ovl = ovl_new()))) {
        errmsg("out of memory");
        hkr_seq_free(c.seq);
        return EXIT_USER;
    }
    /* The source is known only after reading; hakmem is the usual one. */
    c.w = hkf_writer_open(out, HKF_SRC_UNKNOWN, err, sizeof err);
    if (!c.w) {
        errmsg("convert: %s", err);
        hkr_seq_free(c.seq);
        return EXIT_USER;
    }
    struct hkr_callbacks cb = { .event = on_event, .discarded = on_discard, .arg = &c };
    struct hkr_stats st;
    double t0 = now_sec(), c0 = cpu_sec();
    int rc = hkr_read(c.dir, &cb, &st, err);
    int status = 0;
    if (rc < 0) {
        errmsg("convert: %s", err);
        status = EXIT_USER;
    } else if (c.failed || rc != 0) {
        status = EXIT_USER;
    } else if (c.replay_in == 0) {
        errmsg("convert: %s: no malloc/free events in the trace (record with hakmem-trace, or "
               "with liblttng-ust-libc-wrapper.so and lttng_ust_libc:* enabled)", c.dir);
        status = EXIT_USER;
    }
    if (status) {
        hkf_writer_abort(c.w);
        goto out;
    }
    for (size_t i = 0; i < c.ndisp; i++) report_live(&c, &c.disp[i]);
    for (unsigned i = 0; i < c.nprocs; i++) c.exit_frees += c.held[i].n;
    c.an.lost_events = c.lost;
    hkf_writer_set_source(c.w, c.prov == HKR_PROV_HAKMEM ? HKF_SRC_HAKMEM : HKF_SRC_LIBC);
    uint64_t events = hkf_writer_events(c.w), objects = hkf_writer_next_obj(c.w), bytes = 0;
    if (hkf_writer_close(c.w, &c.an, &bytes)) {
        errmsg("convert: %s", hkf_writer_error(c.w));
        hkf_writer_abort(c.w);
        status = EXIT_USER;
        goto out;
    }
    double secs = now_sec() - t0, cpu = cpu_sec() - c0;
    for (int k = 0; k < AN_NKIND; k++)
        if (c.shown[k] > c.show_max)
            warnmsg("convert: ... and %" PRIu64 " more like the above (--all-anomalies "
                    "shows them)", c.shown[k] - c.show_max);
    if (c.other_prov)
        warnmsg("convert: ignored %" PRIu64 " %s events (the trace has both providers; "
                "--source picks one)", c.other_prov,
                c.prov == HKR_PROV_HAKMEM ? "lttng_ust_libc" : "hakmem");
    if (c.lost)
        warnmsg("convert: the trace lost %" PRIu64 " events (--allow-gaps): expect anomalies",
                c.lost);
    printf("converted %s -> %s\n", c.dir, out);
    printf("  read %" PRIu64 " trace events in %.3f s (%.2f M events/s; CPU %.3f s, %.2f M "
           "events/s)\n", st.events, secs, secs > 0 ? (double)st.events / secs / 1e6 : 0.0, cpu,
           cpu > 0 ? (double)st.events / cpu / 1e6 : 0.0);
    printf("  source: %s; %" PRIu64 " events, %" PRIu64 " objects, %u threads\n",
           c.prov == HKR_PROV_HAKMEM ? "hakmem" : "lttng_ust_libc", events, objects,
           (unsigned)hkf_writer_threads_count(c.w));
    printf("  %s: %" PRIu64 " bytes (%.2f bytes/event)\n", out, bytes,
           events ? (double)bytes / (double)events : 0.0);
    printf("  anomalies: %" PRIu64 " double frees/reallocs of freed pointers (kept), %" PRIu64
           " unknown pointers (dropped), %" PRIu64 " pointers returned while live\n",
           c.an.dead_ops, c.an.unknown_frees, c.an.live_returns - c.overlaps);
    if (c.ovl) printf("  overlaps: %" PRIu64 " blocks overlapped a live block\n", c.overlaps);
    if (c.exit_frees)
        printf("  at exit: %" PRIu64 " frees of pointers the trace never returned, after "
               "their process's last call (liblttng-ust's exit-time frees; dropped)\n",
               c.exit_frees);
    if (c.null_frees || c.failed_calls)
        printf("  also: %" PRIu64 " free(NULL) (dropped), %" PRIu64 " failed calls (kept)\n",
               c.null_frees, c.failed_calls);
    hkf_writer_free(c.w);
out:
    hkr_seq_free(c.seq);
    ovl_free(c.ovl);
    free(c.am);
    free(c.tm);
    free(c.oi);
    for (unsigned i = 0; i < c.nprocs; i++) free(c.held[i].at);
    return status;
}
