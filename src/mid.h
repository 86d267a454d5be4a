/* mid.h - the Mid tier: blocks of 1 KiB < size <= 32 KiB.
 *
 * Owns: Mid size classes, per-thread pools carved from arena segments of
 * kind HK_SEG_MID, the lock-free MPSC queue through which other threads
 * return blocks to their owner, and the Mid counters (hks_tier[MID]) and
 * tracepoint mid_refill.  The engine (shared with L2.5) is the segment
 * pool box, pool.c: layout, invariants and protocols are described there.
 */
#ifndef HAKMEM_MID_H
#define HAKMEM_MID_H

#include <stddef.h>
#include "thread.h"

void   mid_init(void);
/* 1024 < size <= HK_MID_MAX; NULL with errno ENOMEM on failure. */
void  *mid_alloc(size_t size);
/* For l25_alloc_aligned: size <= HK_MID_MAX, align a power of two <=
 * HK_MID_MAX: a Mid block of at least `size` bytes aligned to `align`, from
 * the smallest Mid class whose blocks all have that alignment (32 KiB's
 * do).
 * NULL + ENOMEM on failure. */
void  *mid_alloc_aligned(size_t size, size_t align);
/* p lies in a HK_SEG_MID segment.  0 = freed; -1 = p is not the start of
 * a live Mid block (the caller reports it; nothing was changed). */
int    mid_free(void *p);
/* Usable size of a live Mid block (0 if p is not one). */
size_t mid_usable_size(const void *p);
/* Calling thread exits (or, in a fork child, `h` names a vanished
 * thread): give its cached blocks back, hand its pools over. */
void   mid_thread_exit(hk_heap *h);
/* malloc_trim: return cached memory of the calling thread and empty
 * segments to the arena.  Returns bytes released. */
size_t mid_trim(void);

#endif
