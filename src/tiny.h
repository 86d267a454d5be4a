/* tiny.h - the Tiny tier: classes C0..C7 (8..1024 B).
 *
 * Owns the slow paths that tie the tiny boxes together: malloc miss
 * (UltraHot -> SLL -> refill from slabs -> SharedPool), free overflow and
 * the periodic drain, thread start/exit/abandon, flush and trim.  The fast
 * paths are inline in front.h.
 */
#ifndef HAKMEM_TINY_H
#define HAKMEM_TINY_H

#include "thread.h"

void   tiny_init(void);
void   tiny_thread_init(hk_tls_t *t);
/* malloc of class c missed the magazine and the SLL. */
void  *tiny_alloc_slow(unsigned c);
/* free of block p of class c could not take the fast path. */
void   tiny_free_slow(void *p, unsigned c);
/* Every drain interval (a class's free count crossed a multiple of it). */
void   tiny_free_periodic(void);
/* Calling thread exits: flush caches, release empty slabs, orphan the rest. */
void   tiny_thread_exit(hk_tls_t *t, hk_heap *h);
/* fork child: heap h belongs to a thread that does not exist here. */
void   tiny_thread_abandon(hk_heap *h);
/* hakmem_thread_flush: give every cached block back, release empty slabs. */
void   tiny_flush(void);
/* malloc_trim: flush, retire the current SuperSlab if empty, empty the LRU. */
size_t tiny_trim(void);

#endif
