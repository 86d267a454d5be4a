/* remote.h - the Remote box: lock-free frees into another thread's slab.
 *
 * Owns: the MPSC stack `hk_slab.remote` (bit 0 = "notify the owner on the
 * next push", armed by the owner when the slab goes to its full list) and
 * the per-heap inbox of slabs whose owner must merge their stack.
 * A push is one CAS for a whole chain of blocks of one slab (frees are
 * batched per destination slab when a thread drains its SLL).  If the
 * notify bit was set, the pusher puts the slab on its owner's inbox; if
 * the slab is orphaned (owner 0), the pusher adopts it.
 * Counters: cls[].remote_sent (pusher), cls[].remote_recv (owner merge),
 * box.inbox_recv.  Tracepoints: remote_push, remote_drain.
 */
#ifndef HAKMEM_REMOTE_H
#define HAKMEM_REMOTE_H

#include "types.h"
#include "thread.h"

#define HK_REMOTE_NOTIFY ((uintptr_t)1)

/* Push a chain head..tail of n blocks of slab s (not owned by caller). */
void     remote_push(hk_slab *s, void *head, void *tail, unsigned n);
/* Owner: take the whole stack (NULL-terminated chain), clearing it. */
HK_INLINE void *remote_take(hk_slab *s) {
    if (!atomic_load_explicit(&s->remote, memory_order_relaxed)) return NULL;
    uintptr_t v = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
    return (void *)(v & ~HK_REMOTE_NOTIFY);
}
/* Owner: arm the notification if the stack is empty (returns 1), else 0. */
HK_INLINE int remote_arm(hk_slab *s) {
    uintptr_t z = 0;
    return atomic_compare_exchange_strong_explicit(&s->remote, &z, HK_REMOTE_NOTIFY,
                                                   memory_order_acq_rel, memory_order_relaxed);
}
/* Owner: process the inbox (merge notified slabs).  Returns slabs seen. */
unsigned remote_inbox_drain(hk_heap *h);

#endif
