/* summary.c - events per name, sequence gaps and discarded events of a
 * trace directory (summary.h), on top of the reader library. */
#include "summary.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reader.h"

#define MAX_NAMES 256
#define MAX_SHOWN 20      /* loss lines printed before "... and N more" */

struct name_count {
    const char *key;      /* the reader's name pointer (stable per class) */
    char       *name;
    uint64_t    n;
};

struct ctx {
    const struct summary_opts *o;
    struct name_count names[MAX_NAMES];
    int nnames, last;
    uint64_t other_names;  /* events beyond MAX_NAMES distinct names */
    struct hkr_seq *seq;
    uint64_t shown;
};

void fmt_ns(int64_t ns, char *buf, size_t len)
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) { frac += 1000000000; sec--; }
    struct tm tm;
    char d[32];
    if (!localtime_r(&sec, &tm) || !strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(d, sizeof d, "%lld", (long long)sec);
    snprintf(buf, len, "%s.%09ld", d, frac);
}

static int on_event(const struct hkr_event *ev, void *arg)
{
    struct ctx *c = arg;
    struct name_count *nc = NULL;
    if (c->nnames && c->names[c->last].key == ev->full_name) {
        nc = &c->names[c->last];
    } else {
        for (int i = 0; i < c->nnames; i++)
            if (c->names[i].key == ev->full_name || !strcmp(c->names[i].name, ev->full_name)) {
                c->names[i].key = ev->full_name;
                nc = &c->names[i];
                c->last = i;
                break;
            }
        if (!nc && c->nnames < MAX_NAMES) {
            char *dup = strdup(ev->full_name);
            if (!dup) return -1;
            c->last = c->nnames++;
            nc = &c->names[c->last];
            nc->key = ev->full_name;
            nc->name = dup;
            nc->n = 0;
        }
    }
    if (nc) nc->n++;
    else c->other_names++;

    struct hkr_gap g;
    if (hkr_seq_feed(c->seq, ev, &g) && c->shown++ < MAX_SHOWN) {
        char a[64], b[64];
        fmt_ns(g.prev_ns, a, sizeof a);
        fmt_ns(g.ts_ns, b, sizeof b);
        const char *set = hkr_seq_stream_name(g.stream);
        if (g.got > g.expected)
            fprintf(c->o->out, "GAP: thread vpid %lld vtid %lld lost %llu %s events "
                    "(seq %llu..%llu) between %s and %s\n",
                    (long long)g.vpid, (long long)g.vtid,
                    (unsigned long long)(g.got - g.expected), set,
                    (unsigned long long)g.expected, (unsigned long long)(g.got - 1), a, b);
        else
            fprintf(c->o->out, "GAP: thread vpid %lld vtid %lld: %s seq %llu after %llu "
                    "(out of order or duplicated) at %s\n",
                    (long long)g.vpid, (long long)g.vtid, set, (unsigned long long)g.got,
                    (unsigned long long)(g.expected - 1), b);
    }
    return 0;
}

static int on_discard(const struct hkr_discard *d, void *arg)
{
    struct ctx *c = arg;
    if (c->shown++ >= MAX_SHOWN) return 0;
    char cnt[32] = "an unknown number of";
    if (d->has_count) snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)d->count);
    char win[160] = "";
    if (d->has_times) {
        char a[64], b[64];
        fmt_ns(d->begin_ns, a, sizeof a);
        fmt_ns(d->end_ns, b, sizeof b);
        snprintf(win, sizeof win, " between %s and %s", a, b);
    }
    fprintf(c->o->out, "DISCARDED: %s %s in stream %s (id %llu)%s\n", cnt,
            d->kind == HKR_DISCARDED_EVENTS ? "events" : "packets",
            d->stream_name ? d->stream_name : "?", (unsigned long long)d->stream_id, win);
    return 0;
}

static int cmp_count(const void *a, const void *b)
{
    const struct name_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return strcmp(x->name, y->name);
}

int summarize(const char *dir, const struct summary_opts *o, struct summary *s)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    memset(s, 0, sizeof *s);
    c.o = o;
    c.seq = hkr_seq_new();
    if (!c.seq) {
        fprintf(stderr, "hakmem-trace: out of memory\n");
        return -1;
    }
    struct hkr_callbacks cb = { on_event, on_discard, &c };
    struct hkr_stats st;
    char err[HKR_ERRLEN];
    int rc = hkr_read(dir, &cb, &st, err);
    if (rc != 0) {
        if (rc < 0 && err[0]) fprintf(stderr, "hakmem-trace: %s\n", err);
        else fprintf(stderr, "hakmem-trace: %s: out of memory while reading\n", dir);
        for (int i = 0; i < c.nnames; i++) free(c.names[i].name);
        hkr_seq_free(c.seq);
        return -1;
    }
    s->events = st.events;
    s->discarded_events = st.discarded_events;
    s->discarded_packets = st.discarded_packets;
    s->seq_gaps = hkr_seq_gaps(c.seq);
    s->seq_lost = hkr_seq_lost(c.seq);
    if (c.shown > MAX_SHOWN)
        fprintf(o->out, "... and %llu more loss reports\n",
                (unsigned long long)(c.shown - MAX_SHOWN));

    qsort(c.names, (size_t)c.nnames, sizeof c.names[0], cmp_count);
    /* One column for the counts: the names' width is the longest name's
     * (at least 28, the usual table's). */
    int w = 28;
    for (int i = 0; i < c.nnames; i++) {
        size_t l = strlen(c.names[i].name);
        if (l > (size_t)w) w = l > 200 ? 200 : (int)l;
    }
    fprintf(o->out, "events recorded: %llu\n", (unsigned long long)st.events);
    for (int i = 0; i < c.nnames; i++)
        fprintf(o->out, "  %-*s %12llu\n", w, c.names[i].name, (unsigned long long)c.names[i].n);
    if (c.other_names)
        fprintf(o->out, "  %-*s %12llu\n", w, "(other names)", (unsigned long long)c.other_names);

    const struct hkr_thread_seq *th;
    size_t nth = hkr_seq_threads(c.seq, &th);
    size_t nproc = 0;
    for (size_t i = 0; i < nth; i++) {
        size_t j = 0;
        while (j < i && th[j].vpid != th[i].vpid) j++;
        nproc += j == i;
    }
    fprintf(o->out, "threads: %zu in %zu process%s\n", nth, nproc, nproc == 1 ? "" : "es");
    if (o->threads && nth) {
        /* Each thread's two sequences (reader.h): first and last seq of the
         * replay set and of the other (box) events, "-" when none. */
        fprintf(o->out, "  %8s %8s %12s %12s %12s %12s %12s %6s %10s\n", "vpid", "vtid",
                "events", "replay_first", "replay_last", "box_first", "box_last", "gaps", "lost");
        for (size_t i = 0; i < nth; i++) {
            char sq[HKR_SEQ_STREAMS][2][24];
            for (int k = 0; k < HKR_SEQ_STREAMS; k++) {
                const struct hkr_seq_span *sp = &th[i].stream[k];
                if (!sp->events) {
                    strcpy(sq[k][0], "-");
                    strcpy(sq[k][1], "-");
                    continue;
                }
                snprintf(sq[k][0], sizeof sq[k][0], "%llu", (unsigned long long)sp->first_seq);
                snprintf(sq[k][1], sizeof sq[k][1], "%llu", (unsigned long long)sp->last_seq);
            }
            fprintf(o->out, "  %8lld %8lld %12llu %12s %12s %12s %12s %6llu %10llu\n",
                    (long long)th[i].vpid, (long long)th[i].vtid,
                    (unsigned long long)th[i].events, sq[HKR_SEQ_REPLAY][0],
                    sq[HKR_SEQ_REPLAY][1], sq[HKR_SEQ_BOX][0], sq[HKR_SEQ_BOX][1],
                    (unsigned long long)th[i].gaps, (unsigned long long)th[i].lost);
        }
    }
    fprintf(o->out, "events discarded: %llu\n", (unsigned long long)st.discarded_events);
    if (st.discarded_packets)
        fprintf(o->out, "packets discarded: %llu\n", (unsigned long long)st.discarded_packets);
    fprintf(o->out, "sequence gaps: %llu (%llu events missing)\n",
            (unsigned long long)s->seq_gaps, (unsigned long long)s->seq_lost);
    if (s->seq_gaps) {
        /* Which of the two sequences lost events (reader.h). */
        static const char *const what[HKR_SEQ_STREAMS] = { "replay set", "box events" };
        for (int k = 0; k < HKR_SEQ_STREAMS; k++) {
            uint64_t g = 0, l = 0;
            for (size_t i = 0; i < nth; i++) {
                g += th[i].stream[k].gaps;
                l += th[i].stream[k].lost;
            }
            fprintf(o->out, "  %s: %llu gaps (%llu events missing)\n", what[k],
                    (unsigned long long)g, (unsigned long long)l);
        }
    }

    for (int i = 0; i < c.nnames; i++) free(c.names[i].name);
    hkr_seq_free(c.seq);
    return 0;
}
