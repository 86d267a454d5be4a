/* trace.c - load a trace directory: lock events through the reader
 * library (with its loss checks), then the statedump and lock stacks
 * through auxpass.c when the trace holds any, then aggregate.
 *
 * Loss: a discarded-events/packets message or a gap in a thread's `seq`
 * makes the figures wrong (a lost lock_acquired is a lost acquisition),
 * so it is an error unless --allow-gaps, as in the other tools.
 */
#include "lockstat.h"
#include "reader.h"
#include "trace_events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
    const ls_opts *o;
    ls_report     *r;
    struct hkr_seq *seq;
    lkev_vec      *evs;
    uint64_t       discarded;
    int            need_aux;
} loader;

static int on_discard(const struct hkr_discard *d, void *arg) {
    loader *L = arg;
    L->discarded += d->has_count ? d->count : 1;
    return 0;
}

/* A reader's message, printable, on one line. */
static void read_error(const char *err) {
    char one[HKR_ERRLEN];
    printable(one, sizeof one, err[0] ? err : "cannot read the trace");
    fprintf(stderr, "%s: %s\n", progname, one);
}

static int on_event(const struct hkr_event *ev, void *arg) {
    loader *L = arg;
    ls_report *r = L->r;
    r->events++;
    if (ev->provider == HKR_PROV_HAKMEM && HKR_HAS(ev, SEQ)) hkr_seq_feed(L->seq, ev, NULL);
    int kind;
    switch (ev->id) {
    case HKR_EV_LOCK_CONTENDED: kind = LK_CONTENDED; break;
    case HKR_EV_LOCK_ACQUIRED: kind = LK_ACQUIRED; break;
    case HKR_EV_LOCK_RELEASED: kind = LK_RELEASED; break;
    case HKR_EV_OTHER: {
        const char *n = ev->full_name ? ev->full_name : "";
        if (!strcmp(n, "hakmem:lock_stack")) {
            r->stack_events++;
            L->need_aux = 1;
        } else if (!strncmp(n, "lttng_ust_statedump:", 20) || !strncmp(n, "lttng_ust_lib:", 14) ||
                   !strncmp(n, "lttng_ust_dl:", 13)) {
            L->need_aux = 1;
        }
        return 0;
    }
    default: return 0;
    }
    if (L->o->vpid && ev->vpid != L->o->vpid) return 0;
    if (!HKR_HAS(ev, LOCK)) return 0;
    lkev e;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)kind;
    e.ts = HKR_HAS(ev, TS) ? ev->ts_ns : 0;
    e.seq = ev->seq;
    e.has_seq = HKR_HAS(ev, SEQ);
    e.caller = ev->caller;
    e.ns = kind == LK_RELEASED ? ev->hold_ns : ev->wait_ns;
    e.proc = procs_index(r->procs, ev->vpid);
    e.vtid = ev->vtid;
    e.lock_id = (uint32_t)ev->lock;
    e.owner = kind == LK_CONTENDED && HKR_HAS(ev, OWNER) ? (uint32_t)ev->owner : 0;
    ls_lock *l = report_lock(r, HKR_HAS(ev, LOCK_NAME) ? ev->lock_name : NULL, e.lock_id);
    e.lock = (uint32_t)(l - r->locks);
    procs_seen(r->procs, e.proc, e.ts);
    lkev_push(L->evs, &e);
    r->lock_events++;
    return 0;
}

int trace_load(const ls_opts *o, ls_report *r) {
    char err[HKR_ERRLEN] = "";
    loader L;
    memset(&L, 0, sizeof L);
    L.o = o;
    L.r = r;
    L.seq = hkr_seq_new();
    L.evs = lkev_new();
    if (!L.seq) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return 1;
    }
    r->trace_dir = o->trace_dir;
    struct hkr_callbacks cb = { on_event, on_discard, &L };
    struct hkr_stats st;
    memset(&st, 0, sizeof st);
    int rc = hkr_read(o->trace_dir, &cb, &st, err);
    if (rc != 0) {
        read_error(err);
        goto fail;
    }
    r->gaps = hkr_seq_gaps(L.seq);
    r->lost_events = L.discarded + hkr_seq_lost(L.seq);
    if (L.discarded || st.discarded_packets || r->gaps) {
        fprintf(stderr, "%s: %s: the trace is incomplete (%" PRIu64 " events discarded, %" PRIu64
                " packets lost, %" PRIu64 " sequence gaps): %s\n", progname, o->trace_dir,
                L.discarded, (uint64_t)st.discarded_packets, r->gaps,
                o->allow_gaps ? "figures are lower bounds" :
                "figures would be wrong (use --allow-gaps to report anyway)");
        if (!o->allow_gaps) goto fail;
    }
    if (!r->lock_events) {
        fprintf(stderr, "%s: %s: no lock events in the trace (capture with "
                "hakmem-trace --events boxes or all)\n", progname, o->trace_dir);
        goto fail;
    }
    stackmap *sm = stackmap_new(r);
    if (L.need_aux) {
        err[0] = 0;
        if (aux_read(o->trace_dir, r->procs, stackmap_add, sm, err) != 0) {
            read_error(err);
            stackmap_free(sm);
            goto fail;
        }
    }
    aggregate(r, L.evs, sm);
    stackmap_free(sm);
    r->symbols = procs_resolve(r->procs, o->verbose);
    lkev_free(L.evs);
    hkr_seq_free(L.seq);
    return 0;
fail:
    lkev_free(L.evs);
    hkr_seq_free(L.seq);
    return 1;
}
