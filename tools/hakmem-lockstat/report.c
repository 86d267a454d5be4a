/* report.c - the text report: one row per lock (by total wait), and in
 * trace mode its top waiter and holder call sites, each with its
 * symbolized stack when the trace has one. */
#include "lockstat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *fmt_ns(char *buf, size_t n, double ns) {
    if (ns < 1e3) snprintf(buf, n, "%.0fns", ns);
    else if (ns < 1e6) snprintf(buf, n, "%.2fus", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, n, "%.2fms", ns / 1e6);
    else snprintf(buf, n, "%.2fs", ns / 1e9);
    return buf;
}

static const char *base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *fmt_frame(char *buf, size_t n, const ls_sym *s, uint64_t pc) {
    char fn[256], obj[256];
    printable(fn, sizeof fn, s->function);
    printable(obj, sizeof obj, s->object ? base(s->object) : "");
    if (s->function)
        snprintf(buf, n, "%s+0x%" PRIx64 " (%s)", fn, s->offset, obj);
    else if (s->object)
        snprintf(buf, n, "%s+0x%" PRIx64, obj, s->offset);
    else
        snprintf(buf, n, "0x%" PRIx64, pc);
    return buf;
}

static const char *avg(char *buf, size_t n, uint64_t total, uint64_t count) {
    if (!count) return "-";
    return fmt_ns(buf, n, (double)total / (double)count);
}

static const char *pct(char *buf, size_t n, uint64_t part, uint64_t whole) {
    if (!whole) return "-";
    snprintf(buf, n, "%.1f%%", 100.0 * (double)part / (double)whole);
    return buf;
}

static void print_stack(FILE *f, ls_report *r, uint32_t id, int depth, const char *indent) {
    const ls_stack *st = stacks_get(r->stacks, id);
    char fr[600];
    if (!st || !st->depth) {
        fprintf(f, "%s(unknown site)\n", indent);
        return;
    }
    for (uint32_t i = 0; i < st->depth && (int)i < depth; i++) {
        ls_sym s;
        procs_symbolize(r->procs, st->proc, st->pc[i], &s);
        fprintf(f, "%s%s%s\n", i ? indent : "", i ? "  <- " : "", fmt_frame(fr, sizeof fr, &s, st->pc[i]));
    }
    if ((int)st->depth > depth)
        fprintf(f, "%s  <- ... (%u more frame%s)\n", indent, st->depth - (uint32_t)depth,
                st->depth - (uint32_t)depth == 1 ? "" : "s");
}

#define SITE_INDENT "                                                                 "

static void print_sites(FILE *f, ls_report *r, const ls_lock *l, const ls_opts *o) {
    char b1[32], b2[32], b3[32], b4[32];
    size_t n;
    ls_site **v = lock_sites_sorted(l, 0, &n);
    if (n) {
        fprintf(f, "  %-8s %10s %10s %7s %11s %10s %10s  %s\n", "waiters", "ACQUIRED", "CONTENDED",
                "CONT%", "WAIT-TOTAL", "WAIT-AVG", "WAIT-MAX", "CALL SITE");
        uint64_t oa = 0, oc = 0, ow = 0, om = 0;
        for (size_t i = 0; i < n; i++) {
            const ls_site *s = v[i];
            if (o->top > 0 && i >= (size_t)o->top) {
                oa += s->acquisitions; oc += s->contended; ow += s->wait_ns;
                if (s->wait_max_ns > om) om = s->wait_max_ns;
                continue;
            }
            fprintf(f, "  %-8s %10" PRIu64 " %10" PRIu64 " %7s %11s %10s %10s  ", "",
                    s->acquisitions, s->contended, pct(b1, sizeof b1, s->contended, s->acquisitions),
                    fmt_ns(b2, sizeof b2, (double)s->wait_ns), avg(b3, sizeof b3, s->wait_ns, s->contended),
                    fmt_ns(b4, sizeof b4, (double)s->wait_max_ns));
            print_stack(f, r, s->stack, o->depth, SITE_INDENT);
        }
        if (o->top > 0 && n > (size_t)o->top)
            fprintf(f, "  %-8s %10" PRIu64 " %10" PRIu64 " %7s %11s %10s %10s  (%zu other site%s)\n", "",
                    oa, oc, pct(b1, sizeof b1, oc, oa), fmt_ns(b2, sizeof b2, (double)ow),
                    avg(b3, sizeof b3, ow, oc), fmt_ns(b4, sizeof b4, (double)om), n - (size_t)o->top,
                    n - (size_t)o->top == 1 ? "" : "s");
    }
    free(v);
    v = lock_sites_sorted(l, 1, &n);
    if (n) {
        fprintf(f, "  %-8s %10s %10s %7s %11s %10s %10s  %s\n", "holders", "HOLDS", "BLOCKED", "",
                "HOLD-TOTAL", "HOLD-AVG", "HOLD-MAX", "CALL SITE");
        uint64_t oh = 0, ob = 0, ot = 0, om = 0;
        for (size_t i = 0; i < n; i++) {
            const ls_site *s = v[i];
            if (o->top > 0 && i >= (size_t)o->top) {
                oh += s->holds; ob += s->blocked; ot += s->hold_ns;
                if (s->hold_max_ns > om) om = s->hold_max_ns;
                continue;
            }
            fprintf(f, "  %-8s %10" PRIu64 " %10" PRIu64 " %7s %11s %10s %10s  ", "", s->holds,
                    s->blocked, "", fmt_ns(b2, sizeof b2, (double)s->hold_ns),
                    avg(b3, sizeof b3, s->hold_ns, s->holds), fmt_ns(b4, sizeof b4, (double)s->hold_max_ns));
            print_stack(f, r, s->stack, o->depth, SITE_INDENT);
        }
        if (o->top > 0 && n > (size_t)o->top)
            fprintf(f, "  %-8s %10" PRIu64 " %10" PRIu64 " %7s %11s %10s %10s  (%zu other site%s)\n", "",
                    oh, ob, "", fmt_ns(b2, sizeof b2, (double)ot), avg(b3, sizeof b3, ot, oh),
                    fmt_ns(b4, sizeof b4, (double)om), n - (size_t)o->top,
                    n - (size_t)o->top == 1 ? "" : "s");
        if (l->unattributed)
            fprintf(f, "  %-8s %10s %10" PRIu64 "  contentions no recorded hold covers\n", "", "",
                    l->unattributed);
    }
    free(v);
}

void print_text(FILE *f, ls_report *r, const ls_opts *o) {
    char b[8][32];
    if (r->live) {
        fprintf(f, "hakmem-lockstat: pid %" PRId64 " (%s): ", r->pid, r->command[0] ? r->command : "?");
        if (r->interval_s > 0)
            fprintf(f, "counters since start, rates over %.2f s%s\n", r->interval_s,
                    r->exited ? " (the process exited meanwhile)" : "");
        else
            fprintf(f, "counters since start (one sample, no rates)\n");
    } else {
        fprintf(f, "hakmem-lockstat: trace %s: %" PRIu64 " events, %" PRIu64 " lock events, %zu process%s",
                r->trace_dir, r->events, r->lock_events, r->npids, r->npids == 1 ? "" : "es");
        for (size_t i = 0; i < r->npids && i < 8; i++)
            fprintf(f, "%s%" PRId64, i ? "," : " (pid ", r->pids[i]);
        fprintf(f, "%s, symbols: %s%s\n", r->npids ? (r->npids > 8 ? ",...)" : ")") : "",
                r->symbols ? r->symbols : "none", r->stack_events ? ", call stacks" : "");
        if (r->lost_events || r->gaps)
            fprintf(f, "WARNING: the trace lost events: figures are lower bounds\n");
        for (size_t i = 0; i < r->nchanged; i++) {
            char p[512];
            printable(p, sizeof p, r->changed[i]);
            fprintf(f, "(%s changed since the trace (build id differs): its frames stay "
                       "object+offset)\n", p);
        }
        if (r->symbols && !strcmp(r->symbols, "none"))
            fprintf(f, "(addresses unsymbolized: the trace has no base-address statedump; record\n"
                       " lttng_ust_statedump:* and lttng_ust_lib:* too, see hakmem-lockstat(1))\n");
    }
    fprintf(f, "\n%-20s %10s %10s %7s %11s %10s %10s %11s %10s %10s %9s", "LOCK", "ACQUIRED",
            "CONTENDED", "CONT%", "WAIT-TOTAL", "WAIT-AVG", "WAIT-MAX", "HOLD-TOTAL", "HOLD-AVG",
            "HOLD-MAX", "SWITCHES");
    if (r->live && r->interval_s > 0) fprintf(f, " %10s %10s %10s", "ACQ/s", "CONT/s", "WAIT/s");
    fputc('\n', f);
    for (size_t i = 0; i < r->nlocks; i++) {
        const ls_lock *l = &r->locks[i];
        fprintf(f, "%-20s %10" PRIu64 " %10" PRIu64 " %7s %11s %10s %10s %11s %10s %10s %9" PRIu64,
                l->name, l->fig.acquisitions, l->fig.contended,
                pct(b[0], sizeof b[0], l->fig.contended, l->fig.acquisitions),
                fmt_ns(b[1], sizeof b[1], (double)l->fig.wait_ns),
                avg(b[2], sizeof b[2], l->fig.wait_ns, l->fig.contended),
                fmt_ns(b[3], sizeof b[3], (double)l->fig.wait_max_ns),
                fmt_ns(b[4], sizeof b[4], (double)l->fig.hold_ns),
                avg(b[5], sizeof b[5], l->fig.hold_ns, l->fig.hold_count),
                fmt_ns(b[6], sizeof b[6], (double)l->fig.hold_max_ns), l->fig.owner_switches);
        if (l->have_rate)
            fprintf(f, " %10.1f %10.1f %8s/s", l->fig.acq_rate, l->fig.cont_rate,
                    fmt_ns(b[7], sizeof b[7], l->fig.wait_rate));
        fputc('\n', f);
        if (!r->live) print_sites(f, r, l, o);
    }
    if (!r->nlocks) fprintf(f, "(no lock registered)\n");
    if (r->live)
        fprintf(f, "\nHOLD figures cover the timed acquisitions only (contended, or while a trace\n"
                   "session records lock events). Call sites need a trace: see hakmem-lockstat(1).\n");
}
