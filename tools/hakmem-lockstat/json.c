/* json.c - the JSON report (one object; times in ns; every site, not just
 * the top ones, so that sums can be checked).  Strings from the trace or
 * from ELF files are escaped: control and non-ASCII bytes as \u00XX. */
#include "lockstat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void javg(FILE *f, uint64_t total, uint64_t count) {
    if (count) fprintf(f, "%" PRIu64, total / count);
    else fputs("null", f);
}

static void jstack(FILE *f, ls_report *r, uint32_t id) {
    const ls_stack *st = stacks_get(r->stacks, id);
    fputc('[', f);
    for (uint32_t i = 0; st && i < st->depth; i++) {
        ls_sym s;
        procs_symbolize(r->procs, st->proc, st->pc[i], &s);
        fprintf(f, "%s{\"addr\": \"0x%" PRIx64 "\", \"function\": ", i ? ", " : "", st->pc[i]);
        if (s.function) jstr(f, s.function); else fputs("null", f);
        fputs(", \"offset\": ", f);
        if (s.function || s.object) fprintf(f, "%" PRIu64, s.offset); else fputs("null", f);
        fputs(", \"object\": ", f);
        if (s.object) jstr(f, s.object); else fputs("null", f);
        fputc('}', f);
    }
    fputc(']', f);
}

static void jsites(FILE *f, ls_report *r, const ls_lock *l) {
    size_t n;
    ls_site **v = lock_sites_sorted(l, 0, &n);
    fputs(",\n     \"waiter_sites\": [", f);
    for (size_t i = 0; i < n; i++) {
        const ls_site *s = v[i];
        fprintf(f, "%s\n       {\"pid\": %" PRId64 ", \"acquisitions\": %" PRIu64 ", \"contended\": %" PRIu64
                ", \"wait_ns\": {\"total\": %" PRIu64 ", \"avg\": ", i ? "," : "",
                procs_vpid(r->procs, stacks_get(r->stacks, s->stack)->proc), s->acquisitions,
                s->contended, s->wait_ns);
        javg(f, s->wait_ns, s->contended);
        fprintf(f, ", \"max\": %" PRIu64 "},\n        \"stack\": ", s->wait_max_ns);
        jstack(f, r, s->stack);
        fputc('}', f);
    }
    fputs(n ? "\n     ]" : "]", f);
    free(v);
    v = lock_sites_sorted(l, 1, &n);
    fputs(",\n     \"holder_sites\": [", f);
    for (size_t i = 0; i < n; i++) {
        const ls_site *s = v[i];
        fprintf(f, "%s\n       {\"pid\": %" PRId64 ", \"holds\": %" PRIu64 ", \"blocked\": %" PRIu64
                ", \"hold_ns\": {\"total\": %" PRIu64 ", \"avg\": ", i ? "," : "",
                procs_vpid(r->procs, stacks_get(r->stacks, s->stack)->proc), s->holds, s->blocked,
                s->hold_ns);
        javg(f, s->hold_ns, s->holds);
        fprintf(f, ", \"max\": %" PRIu64 "},\n        \"stack\": ", s->hold_max_ns);
        jstack(f, r, s->stack);
        fputc('}', f);
    }
    fputs(n ? "\n     ]" : "]", f);
    fprintf(f, ",\n     \"unattributed_blocked\": %" PRIu64, l->unattributed);
    free(v);
}

void print_json(FILE *f, ls_report *r, const ls_opts *o) {
    (void)o;
    fputs("{\n", f);
    if (r->live) {
        fprintf(f, "  \"source\": \"live\",\n  \"pid\": %" PRId64 ",\n  \"command\": ", r->pid);
        jstr(f, r->command);
        fprintf(f, ",\n  \"interval_s\": %.6f,\n  \"exited\": %s,\n", r->interval_s,
                r->exited ? "true" : "false");
    } else {
        fputs("  \"source\": \"trace\",\n  \"trace\": ", f);
        jstr(f, r->trace_dir);
        fprintf(f, ",\n  \"events\": %" PRIu64 ",\n  \"lock_events\": %" PRIu64
                ",\n  \"stack_events\": %" PRIu64 ",\n  \"lost_events\": %" PRIu64
                ",\n  \"sequence_gaps\": %" PRIu64 ",\n  \"symbols\": ",
                r->events, r->lock_events, r->stack_events, r->lost_events, r->gaps);
        jstr(f, r->symbols ? r->symbols : "none");
        fputs(",\n  \"changed_objects\": [", f);
        for (size_t i = 0; i < r->nchanged; i++) {
            if (i) fputs(", ", f);
            jstr(f, r->changed[i]);
        }
        fputs("],\n  \"pids\": [", f);
        for (size_t i = 0; i < r->npids; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", r->pids[i]);
        fputs("],\n", f);
    }
    fputs("  \"locks\": [", f);
    for (size_t i = 0; i < r->nlocks; i++) {
        const ls_lock *l = &r->locks[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        jstr(f, l->name);
        fprintf(f, ", \"id\": %u, \"acquisitions\": %" PRIu64 ", \"contended\": %" PRIu64
                ", \"contention_pct\": ", l->id, l->fig.acquisitions, l->fig.contended);
        if (l->fig.acquisitions)
            fprintf(f, "%.3f", 100.0 * (double)l->fig.contended / (double)l->fig.acquisitions);
        else fputs("null", f);
        fprintf(f, ",\n     \"wait_ns\": {\"total\": %" PRIu64 ", \"avg\": ", l->fig.wait_ns);
        javg(f, l->fig.wait_ns, l->fig.contended);
        fprintf(f, ", \"max\": %" PRIu64 "},\n     \"hold_ns\": {\"total\": %" PRIu64
                ", \"avg\": ", l->fig.wait_max_ns, l->fig.hold_ns);
        javg(f, l->fig.hold_ns, l->fig.hold_count);
        fprintf(f, ", \"max\": %" PRIu64 ", \"count\": %" PRIu64 "},\n     \"owner_switches\": %" PRIu64,
                l->fig.hold_max_ns, l->fig.hold_count, l->fig.owner_switches);
        if (l->have_rate)
            fprintf(f, ",\n     \"rate\": {\"acquisitions_per_s\": %.3f, \"contended_per_s\": %.3f, "
                    "\"wait_ns_per_s\": %.3f, \"hold_ns_per_s\": %.3f}",
                    l->fig.acq_rate, l->fig.cont_rate, l->fig.wait_rate, l->fig.hold_rate);
        if (!r->live) jsites(f, r, l);
        fputc('}', f);
    }
    fputs(r->nlocks ? "\n  ]\n}\n" : "]\n}\n", f);
}
