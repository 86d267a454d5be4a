/* reader_seq.c - the per-thread sequence checker of the trace reader
 * (reader.h, hkr_seq_*).
 *
 * Every hakmem event carries `seq`, numbered 0, 1, 2... by the emitting
 * thread in one of two streams, the replay set's and the other events'
 * (src/tp.c; reader.h says which is which and why).  Discarded-events
 * messages only say "N events lost in this CPU buffer"; a jump in one of a
 * thread's streams says which thread lost which events, and between which
 * two timestamps.
 */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

struct hkr_seq {
    struct hkr_thread_seq *th;   /* every thread seen, first-seen order */
    size_t n, cap;
    uint32_t *tab;               /* (vpid, vtid) -> index + 1 (current)  */
    size_t tab_cap, tab_n;
    uint64_t gaps, lost;
    int oom;
};

static size_t key_hash(int64_t vpid, int64_t vtid, size_t cap)
{
    uint64_t x = (uint64_t)vpid * 0x9e3779b97f4a7c15ull ^ (uint64_t)vtid;
    x ^= x >> 31; x *= 0xbf58476d1ce4e5b9ull; x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

struct hkr_seq *hkr_seq_new(void)
{
    struct hkr_seq *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->tab_cap = 256;
    s->tab = calloc(s->tab_cap, sizeof *s->tab);
    if (!s->tab) { free(s); return NULL; }
    return s;
}

void hkr_seq_free(struct hkr_seq *s)
{
    if (!s) return;
    free(s->th);
    free(s->tab);
    free(s);
}

/* Find the table position for a key: either the entry or the empty slot. */
static size_t find(const struct hkr_seq *s, int64_t vpid, int64_t vtid)
{
    size_t i = key_hash(vpid, vtid, s->tab_cap);
    while (s->tab[i]) {
        const struct hkr_thread_seq *t = &s->th[s->tab[i] - 1];
        if (t->vpid == vpid && t->vtid == vtid) break;
        i = (i + 1) & (s->tab_cap - 1);
    }
    return i;
}

static int grow(struct hkr_seq *s)
{
    size_t ncap = s->tab_cap * 2;
    uint32_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t j = 0; j < s->tab_cap; j++) {
        if (!s->tab[j]) continue;
        const struct hkr_thread_seq *t = &s->th[s->tab[j] - 1];
        size_t k = key_hash(t->vpid, t->vtid, ncap);
        while (nt[k]) k = (k + 1) & (ncap - 1);
        nt[k] = s->tab[j];
    }
    free(s->tab);
    s->tab = nt;
    s->tab_cap = ncap;
    return 0;
}

int hkr_seq_stream(const struct hkr_event *ev)
{
    if (ev->provider != HKR_PROV_HAKMEM || !HKR_HAS(ev, SEQ)) return -1;
    return ev->id >= HKR_EV_MALLOC && ev->id <= HKR_EV_THREAD_EXIT ? HKR_SEQ_REPLAY
                                                                  : HKR_SEQ_BOX;
}

const char *hkr_seq_stream_name(int stream)
{
    return stream == HKR_SEQ_REPLAY ? "replay" : stream == HKR_SEQ_BOX ? "box" : "?";
}

static void span_start(struct hkr_seq_span *sp, const struct hkr_event *ev)
{
    sp->events = 1;
    sp->first_seq = sp->last_seq = ev->seq;
    sp->first_ns = sp->last_ns = ev->ts_ns;
}

static struct hkr_thread_seq *new_thread(struct hkr_seq *s, const struct hkr_event *ev,
                                         int stream)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct hkr_thread_seq *th = realloc(s->th, cap * sizeof *th);
        if (!th) return NULL;
        s->th = th;
        s->cap = cap;
    }
    struct hkr_thread_seq *t = &s->th[s->n++];
    memset(t, 0, sizeof *t);
    t->vpid = ev->vpid;
    t->vtid = ev->vtid;
    t->first_ns = t->last_ns = ev->ts_ns;
    t->events = 1;
    span_start(&t->stream[stream], ev);
    return t;
}

int hkr_seq_feed(struct hkr_seq *s, const struct hkr_event *ev, struct hkr_gap *gap)
{
    const int k = hkr_seq_stream(ev);
    if (k < 0 || s->oom) return 0;
    size_t i = find(s, ev->vpid, ev->vtid);
    if (!s->tab[i]) {
        if ((s->tab_n + 1) * 2 > s->tab_cap) {
            if (grow(s) != 0) { s->oom = 1; return 0; }
            i = find(s, ev->vpid, ev->vtid);
        }
        if (!new_thread(s, ev, k)) { s->oom = 1; return 0; }
        s->tab[i] = (uint32_t)s->n;
        s->tab_n++;
        return 0;
    }
    struct hkr_thread_seq *t = &s->th[s->tab[i] - 1];
    struct hkr_seq_span *sp = &t->stream[k];
    if (sp->events && ev->seq == 0) {
        /* A new thread with a reused tid (its counters start at 0).  Only
         * a stream this entry has seen tells: the first event of the other
         * stream has seq 0 in the same thread too. */
        if (!new_thread(s, ev, k)) { s->oom = 1; return 0; }
        s->tab[i] = (uint32_t)s->n;
        return 0;
    }
    t->events++;
    t->last_ns = ev->ts_ns;
    if (!sp->events) {
        /* The stream's first event: whatever its seq, not a gap (its
         * earlier events were not recorded by this session). */
        span_start(sp, ev);
        return 0;
    }
    uint64_t expected = sp->last_seq + 1;
    int64_t prev_ns = sp->last_ns;
    sp->events++;
    sp->last_seq = ev->seq;
    sp->last_ns = ev->ts_ns;
    if (ev->seq == expected) return 0;
    sp->gaps++;
    t->gaps++;
    s->gaps++;
    if (ev->seq > expected) {
        sp->lost += ev->seq - expected;
        t->lost += ev->seq - expected;
        s->lost += ev->seq - expected;
    }
    if (gap) {
        gap->vpid = ev->vpid;
        gap->vtid = ev->vtid;
        gap->stream = k;
        gap->expected = expected;
        gap->got = ev->seq;
        gap->prev_ns = prev_ns;
        gap->ts_ns = ev->ts_ns;
    }
    return 1;
}

uint64_t hkr_seq_gaps(const struct hkr_seq *s) { return s->gaps; }
uint64_t hkr_seq_lost(const struct hkr_seq *s) { return s->lost; }

size_t hkr_seq_threads(const struct hkr_seq *s, const struct hkr_thread_seq **out)
{
    *out = s->th;
    return s->n;
}
