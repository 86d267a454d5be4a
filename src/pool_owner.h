/* pool_owner.h - the pool ownership box: who owns a Mid / L2.5 segment
 * and how blocks and segments change hands between threads.
 *
 * Owns: the per-thread MPSC queues of remote frees (push, drain, re-route
 * of misrouted blocks), the kind's orphan lists (segments of exited
 * threads, FIFO, split by "has room"), frees into orphans (in place),
 * adoption (by a thread that needs a page), the thread-state life cycle
 * (creation for the calling thread, close at thread exit, abandon in a
 * fork child) and malloc_trim of the calling thread's pools.  The
 * per-thread engine (pages, segments, caches, the park) is pool.c; design
 * and invariants are in the header comments of pool.c and pool_owner.c.
 * Counters: remote_sent (freer), remote_recv (owner), segments_freed.
 * Lock: the kind lock ("mid_pool" / "l25_pool").
 */
#ifndef HAKMEM_POOL_OWNER_H
#define HAKMEM_POOL_OWNER_H

#include "pool.h"

/* The calling thread's state of kind k, created on first use; NULL if the
 * thread may not own anything (it is exiting) or out of memory. */
pool_tstate *pool_tstate_get(pool_kind *k);
/* Deliver a tagged block to whoever owns its segment now (the caller is
 * not that owner): the owner's queue, or in place if it is orphaned. */
void         pool_route(pool_kind *k, pool_seg *s, pool_block *b);
/* Take every block of t's queue back to its page; `closing`: and close
 * the queue for good. */
void         pool_drain(pool_kind *k, pool_tstate *t, int closing);
/* An orphan with room, now t's (owner and t's segment list set), or NULL;
 * then pool_adopt links its pages (1 = the segment was released). */
pool_seg    *pool_orphan_pop(pool_kind *k, pool_tstate *t);
int          pool_adopt(pool_kind *k, pool_tstate *t, pool_seg *s);
/* Close t: everything flushed, queue closed, segments released or
 * orphaned, t recycled; *slot (if given) cleared in the same critical
 * section that recycles t. */
void         pool_tstate_close(pool_kind *k, pool_tstate *t, void **slot);
/* Thread exit of h's thread (the caller), or in a fork child a thread that
 * vanished (h is not the caller's heap): hand its pools over. */
void         pool_thread_exit(pool_kind *k, hk_heap *h);
/* Purge the dirty units that in-place frees left in orphans (any thread's
 * decay pass, malloc_trim): bytes. */
size_t       pool_orphans_purge(pool_kind *k);
/* malloc_trim for the calling thread's pools of kind k, the kind's park
 * and its orphans' pending purges: bytes released. */
size_t       pool_trim(pool_kind *k);

#endif
