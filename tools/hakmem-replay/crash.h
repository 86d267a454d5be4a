/* crash.h - what the replayer says when the allocator under test crashes,
 * and the shared report format (event descriptions, object histories)
 * used by the crash handler, --check and --stop-at alike.
 *
 * Owns: the SIGSEGV/SIGBUS/SIGABRT/SIGILL/SIGFPE handlers (on an
 * alternate stack per thread), the libunwind backtrace, and the optional
 * shared crash record a reducer reads from its forked children.
 * Everything reachable from the handler is async-signal-safe in practice:
 * no malloc, output through write(2) (util.h obuf), the file re-decoded
 * with the non-allocating hkf_next.
 */
#ifndef HKREPLAY_CRASH_H
#define HKREPLAY_CRASH_H

#include <stdint.h>

#include "replay.h"
#include "util.h"

/* Filled by the handler when set (a MAP_SHARED page in reduce). */
struct crash_record {
    int      sig;         /* 0: no crash                    */
    uint8_t  kind;        /* kind of the event being run    */
    uint64_t index;       /* event index (UINT64_MAX: none) */
};

void crash_install(void);              /* handlers + main thread's alt stack */
void crash_thread_init(void);          /* alt stack for a replay thread      */
void crash_thread_fini(void);
void crash_set_replay(struct replay *rp);
void crash_set_quiet(int quiet);       /* print nothing (reduce children)    */
void crash_set_record(struct crash_record *rec);

/* "free(#3)", "malloc(24) -> #3", "realloc(#3, 100) -> #9"... */
void rp_describe(struct obuf *o, const struct replay *rp, uint64_t idx);
void rp_describe_rec(struct obuf *o, const struct hkf_rec *r);
/* The object's events (and those of the objects it was realloc'ed from)
 * up to and including event `upto` (marked), with times and callers when
 * the replay came from a file. */
void rp_history(struct obuf *o, const struct replay *rp, uint32_t obj, uint64_t upto);

#endif
