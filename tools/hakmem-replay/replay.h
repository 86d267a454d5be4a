/* replay.h - the replay engine: decoded operations, the object model and
 * their execution against whatever malloc the process uses.
 *
 * Owns: the op table (32 bytes per event, mmap'ed), per-thread op lists,
 * the object slots (the pointer each object has in this replay), the
 * per-object progress counters used to order cross-thread operations,
 * and the replay threads.
 *
 * Modes:
 *  - threaded (default): one thread per recorded thread, each running its
 *    own events in recorded order; an operation on an object waits until
 *    every earlier operation on that object (in the recorded global
 *    order) has been replayed, so a free never overtakes its malloc.
 *  - serial: the recorded global order exactly, in lockstep: each event
 *    is executed by the replay thread of its recorded thread while every
 *    other thread waits; threads are created at their first event and
 *    joined right after their last one.  Which thread runs which call and
 *    in what order is therefore fixed, so an allocator with deterministic
 *    internals (hakmem with HAKMEM_ARENA_BASE) returns the same addresses
 *    on every run; the fingerprint hashes them.
 *  - serial + one_thread: the global order on the calling thread only.
 * Recorded thread 0 always runs on the calling (main) thread.
 *
 * The replayer calls plain malloc/calloc/realloc/memalign/posix_memalign/
 * free, so LD_PRELOAD decides which allocator is measured.  Nothing in
 * this file calls malloc for its own use once rp_run has started.
 */
#ifndef HKREPLAY_REPLAY_H
#define HKREPLAY_REPLAY_H

#include <stdint.h>
#include <stddef.h>

#include "hkf.h"

struct rp_op {           /* 32 bytes */
    uint64_t size;
    uint64_t arg;        /* calloc nmemb, memalign alignment              */
    uint32_t ref;        /* object operated on (free, realloc) or NOOBJ   */
    uint32_t ref_ord;    /* operations on ref before this one             */
    uint32_t obj;        /* object created, or HKF_NOOBJ                  */
    uint32_t tk;         /* thread << 8 | kind | flags                    */
};
#define RP_THREAD(op) ((op)->tk >> 8)
#define RP_KIND(op)   ((op)->tk & 0x0fu)
#define RP_FLAGS(op)  ((op)->tk & (HKF_FAILED | HKF_VARIANT))

/* Why the model rejects an operation (--check, reduce). */
enum rp_invalid {
    RP_OK = 0,
    RP_DOUBLE_FREE,       /* free of an object already freed            */
    RP_REALLOC_FREED,     /* realloc of an object already freed         */
    RP_ALLOC_ERROR,       /* the allocator misbehaved (check mode)      */
};
const char *rp_invalid_name(int code);

struct replay {
    struct rp_op *ops;
    uint64_t  n_ops, cap_ops;
    uint32_t  n_threads, n_objects;
    uint32_t *order;         /* per-thread op lists, concatenated        */
    uint64_t *th_first;      /* thread t: order[th_first[t] .. +th_count[t]) */
    uint64_t *th_count;
    uint64_t *th_last;       /* global index of thread t's last op       */
    void    **slot;          /* object -> pointer in this replay         */
    uint32_t *done;          /* object -> ops on it completed (threaded) */
    uint64_t *osize;         /* object -> requested bytes (check mode)   */
    /* model (rp_build) */
    uint64_t  calls;             /* allocator calls (events minus markers) */
    uint64_t  peak_live_bytes, peak_live_objects;
    uint64_t  first_invalid;     /* UINT64_MAX when the trace is clean     */
    int       invalid_code;
    /* where the events came from (history with times and callers) */
    const struct hkf_file *file;
    /* build-time scratch */
    uint8_t  *ostate;
    uint64_t  live_bytes, live_objects;
};

/* Allocate tables for up to n_events/n_threads/n_objects.  0 or -1. */
int  rp_init(struct replay *rp, uint64_t n_events, uint32_t n_threads, uint32_t n_objects);
/* Append one event (object ids dense, threads < n_threads). */
void rp_add(struct replay *rp, const struct hkf_rec *r);
/* Per-thread lists and the end of the model pass.  0 or -1. */
int  rp_finish(struct replay *rp);
void rp_free(struct replay *rp);
/* rp_init + every event of f + rp_finish. */
int  rp_load(struct replay *rp, const struct hkf_file *f, char *err, size_t errlen);

struct rp_opts {
    int      serial;
    int      one_thread;     /* serial on the calling thread only          */
    int      check;          /* verify the allocator's answers too         */
    uint64_t stop_at;        /* stop before this event (UINT64_MAX: none)  */
    uintptr_t arena_base;    /* fingerprint addresses relative to this     */
    size_t    arena_size;    /* (0: raw addresses)                         */
    /* Called on the main thread when the replay reaches stop_at, while
     * every replay thread is still alive (serial modes: parked). */
    void    (*at_stop)(struct replay *rp, uint64_t index);
};

struct rp_result {
    uint64_t executed;       /* events executed                          */
    uint64_t calls;          /* allocator calls made                     */
    uint64_t null_results;   /* recorded success, NULL in this replay    */
    double   seconds;
    uint64_t fingerprint;    /* serial modes                             */
    uint64_t stopped_at;     /* UINT64_MAX: ran to the end               */
    /* check mode: the first allocator error */
    uint64_t alloc_error_at; /* UINT64_MAX: none                         */
    char     alloc_error[160];
};

/* Execute.  Returns 0, or -1 when threads could not be created (message
 * in err).  A crash is handled by crash.c (rp_crash_install). */
int rp_run(struct replay *rp, const struct rp_opts *o, struct rp_result *res,
           char *err, size_t errlen);

/* Free every object still live after events [0, limit) were replayed
 * (a clean exit, e.g. for LeakSanitizer; not part of any measurement).
 * Only valid when exactly that prefix ran (no allocator error abort). */
void rp_release_live(struct replay *rp, uint64_t limit);

/* Index of the event the calling replay thread is executing
 * (UINT64_MAX outside the replay); read by the crash handler. */
uint64_t rp_current(void);

#endif
