/* l25.h - the L2.5 pool: blocks of 32 KiB < size <= 1 MiB, and aligned
 * requests that the Tiny tier cannot serve.
 *
 * Owns: L2.5 classes (about four per doubling) carved from 2 MiB arena
 * segments of kind HK_SEG_L25, per-thread caches, the owner's MPSC queue
 * for frees from other threads, the L2.5 counters (hks_tier[L25]) and the
 * tracepoint l25_refill.  Engine: the segment pool box (pool.c, shared
 * with Mid), where layout, invariants and protocols are described.
 */
#ifndef HAKMEM_L25_H
#define HAKMEM_L25_H

#include <stddef.h>
#include "thread.h"

void   l25_init(void);
/* HK_MID_MAX < size <= HK_L25_MAX; NULL with errno ENOMEM on failure. */
void  *l25_alloc(size_t size);
/* size <= HK_L25_MAX, align a power of two, 16 < align <= 64 KiB:
 * an aligned block of at least `size` bytes (may come from Mid or L2.5
 * segments, the tier decides), NULL + ENOMEM on failure. */
void  *l25_alloc_aligned(size_t size, size_t align);
/* p lies in a HK_SEG_L25 segment: 0 = freed, -1 = not a live block start. */
int    l25_free(void *p);
size_t l25_usable_size(const void *p);
void   l25_thread_exit(hk_heap *h);
size_t l25_trim(void);

#endif
