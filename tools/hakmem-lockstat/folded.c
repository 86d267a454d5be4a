/* folded.c - `--folded`: one "frame;frame;... value" line per call stack,
 * the input of flame graph tools (flamegraph.pl, inferno, speedscope).
 * The first frame is the lock, then the stack from the outermost caller
 * to the acquire call site, so each lock is one tower whose width is its
 * weight: wait ns (default), hold ns, acquisitions or contentions
 * (--weight).  Frames are function names (no offsets, so one function's
 * sites merge); unknown ones are "object+0xOFF" or the raw address.
 * Live mode has no stacks: one "lock value" line per lock. */
#include "lockstat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Flame graph tools split on ';' and on the last blank. */
static void put_frame(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p == ';' || *p <= ' ' || *p >= 0x7f ? '_' : *p, f);
}

/* The figure --weight w names, of a lock or of a site. */
static uint64_t weight(int w, uint64_t wait_ns, uint64_t hold_ns, uint64_t acquisitions,
                       uint64_t contended) {
    switch (w) {
    case W_HOLD: return hold_ns;
    case W_ACQ: return acquisitions;
    case W_CONT: return contended;
    default: return wait_ns;
    }
}

static uint64_t lock_weight(const ls_lock *l, int w) {
    return weight(w, l->fig.wait_ns, l->fig.hold_ns, l->fig.acquisitions, l->fig.contended);
}

static uint64_t site_weight(const ls_site *s, int w) {
    return weight(w, s->wait_ns, s->hold_ns, s->acquisitions, s->contended);
}

void print_folded(FILE *f, ls_report *r, const ls_opts *o) {
    uint64_t lines = 0;
    for (size_t i = 0; i < r->nlocks; i++) {
        const ls_lock *l = &r->locks[i];
        if (r->live) {
            uint64_t v = lock_weight(l, o->weight);
            if (!v) continue;
            put_frame(f, l->name);
            fprintf(f, " %" PRIu64 "\n", v);
            lines++;
            continue;
        }
        size_t n;
        ls_site **v = lock_sites_sorted(l, o->weight == W_HOLD, &n);
        for (size_t k = 0; k < n; k++) {
            uint64_t w = site_weight(v[k], o->weight);
            const ls_stack *st = stacks_get(r->stacks, v[k]->stack);
            if (!w || !st) continue;
            put_frame(f, l->name);
            for (uint32_t d = st->depth; d-- > 0;) {
                ls_sym s;
                char buf[600];
                procs_symbolize(r->procs, st->proc, st->pc[d], &s);
                if (s.function) {
                    snprintf(buf, sizeof buf, "%s", s.function);
                } else if (s.object) {
                    const char *b = strrchr(s.object, '/');
                    snprintf(buf, sizeof buf, "%s+0x%" PRIx64, b ? b + 1 : s.object, s.offset);
                } else {
                    snprintf(buf, sizeof buf, "0x%" PRIx64, st->pc[d]);
                }
                fputc(';', f);
                put_frame(f, buf);
            }
            fprintf(f, " %" PRIu64 "\n", w);
            lines++;
        }
        free(v);
    }
    if (!lines)
        fprintf(stderr, "%s: nothing to fold: no lock has any %s\n", progname,
                o->weight == W_HOLD ? "timed hold" : o->weight == W_ACQ ? "acquisition" :
                "contention (try --weight hold or acquisitions)");
}
