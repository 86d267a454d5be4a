/* summary.h - what hakmem-trace prints about a trace directory: events
 * per name, per-thread sequence check, discarded events (trace/reader.h).
 */
#ifndef HAKMEM_TRACE_SUMMARY_H
#define HAKMEM_TRACE_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

struct summary_opts {
    int threads;     /* print the per-thread table          */
    FILE *out;
};

struct summary {
    uint64_t events;
    uint64_t discarded_events;   /* from discarded-events messages */
    uint64_t discarded_packets;
    uint64_t seq_gaps, seq_lost;
};

/* Read `dir`, print the summary.  0 on success (loss is reported in *s,
 * not an error), -1 when the trace cannot be read (message printed). */
int summarize(const char *dir, const struct summary_opts *o, struct summary *s);

/* Format ns-from-origin as local time "YYYY-mm-dd HH:MM:SS.nnnnnnnnn". */
void fmt_ns(int64_t ns, char *buf, size_t len);

#endif
