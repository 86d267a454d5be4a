/* lru.h - the LRU box: a bounded cache of fully empty SuperSlabs.
 *
 * Owns: the list of retired SuperSlabs (segment kind HK_SEG_LRU), newest
 * first, bounded by HAKMEM_LRU_MAX (count) and HAKMEM_LRU_MAX_BYTES;
 * eviction decommits the oldest and returns it to the arena (RSS falls).
 * Lock: "lru".  Counters: box.lru_push / lru_pop / lru_evict, gauges
 * lru_count / lru_bytes.  Tracepoints: lru_push, lru_pop, lru_evict
 * (emitted after the lock is released).
 */
#ifndef HAKMEM_LRU_H
#define HAKMEM_LRU_H

#include <stddef.h>

void   lru_init(void);
/* Park an empty, retired SuperSlab; may evict older ones. */
void   lru_push(void *ss);
/* The most recently parked SuperSlab, or NULL. */
void  *lru_pop(void);
/* Evict everything (malloc_trim).  Returns bytes given back. */
size_t lru_trim(void);

#endif
