/* trace_events.h - lock events copied out of the trace (trace.c) and the
 * call stacks found for them (aggregate.c). */
#ifndef HAKMEM_LOCKSTAT_TRACE_EVENTS_H
#define HAKMEM_LOCKSTAT_TRACE_EVENTS_H

#include "lockstat.h"

enum { LK_CONTENDED = 1, LK_ACQUIRED = 2, LK_RELEASED = 3 };

typedef struct lkev {
    int64_t  ts;                 /* ns, 0 when the trace has no clock    */
    int64_t  vtid;
    uint64_t seq, caller, ns;    /* ns: wait (acquired) or hold (released) */
    uint32_t proc, lock;         /* process index, report lock index     */
    uint32_t lock_id;            /* id as recorded                       */
    uint32_t owner;              /* contended: the holder's tid (0 = ?)  */
    uint8_t  kind, has_seq;
} lkev;

typedef struct lkev_vec lkev_vec;
lkev_vec *lkev_new(void);
void      lkev_push(lkev_vec *v, const lkev *e);
void      lkev_free(lkev_vec *v);

/* lock_stack events by (process, thread, seq). */
typedef struct stackmap stackmap;
stackmap *stackmap_new(ls_report *r);
void      stackmap_free(stackmap *m);
/* aux_stack_fn: arg is the stackmap. */
void      stackmap_add(void *arg, int64_t vpid, int64_t vtid, uint64_t seq, int64_t ts,
                       uint32_t lock, const uint64_t *pc, uint32_t depth);

/* Fill r's locks and sites from the events (in trace order). */
void aggregate(ls_report *r, const lkev_vec *v, const stackmap *m);

#endif
