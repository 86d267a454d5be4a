/* large.h - the Large tier: size > 1 MiB and alignments > 64 KiB.
 *
 * Owns: Large blocks.  Inside the arena a block is a span of whole 2 MiB
 * segments (kind HK_SEG_LARGE, then HK_SEG_LARGE_TAIL) and starts at the
 * span start: no header, 2 MiB aligned, usable size = the whole span.
 * Freed spans go to BigCache (bigcache.h), which reuses, splits and merges
 * them.  When the arena cannot serve (full, no reservation, too large a
 * request), a block is a plain OS mapping outside it, kept in a registry
 * so that ownership is still decided without reading foreign memory;
 * those are unmapped on free and resized with mremap.
 * Invariants: a block pointer is the start of a live span (or a
 * registered mapping); everything a block's owner could write is bounded
 * by its usable size, which is what a zeroed reuse clears.
 * Counters: hks_tier[LARGE] (BigCache hits/misses in cache_hits /
 * cache_misses, segments taken/given back), gauges large_live_bytes and
 * bigcache_bytes.  Tracepoints: large_map, large_unmap, bigcache_hit,
 * bigcache_miss.  Locks: "bigcache", "large_registry" (never nested).
 */
#ifndef HAKMEM_LARGE_H
#define HAKMEM_LARGE_H

#include <stddef.h>

/* Register the locks (core init, after the arena). */
void   large_init(void);
/* Any size (the front sends > 1 MiB); NULL + ENOMEM on failure, sizes
 * near SIZE_MAX included.  With `zero`, the block reads as zeros (fresh
 * memory is not cleared again). */
void  *large_alloc(size_t size, int zero);
/* align: a power of two, any size; up to 1 GiB and beyond while the
 * arena (or the address space) has room.  NULL + ENOMEM on failure. */
void  *large_alloc_aligned(size_t size, size_t align);
/* 0 = freed; -1 = p is not the start of a live Large block (nothing
 * changed; the caller reports it). */
int    large_free(void *p);
/* Resize a live Large block to new_size > HK_L25_MAX: in place when the
 * segment count stays or shrinks or the next span is cached, else moved
 * (mremap of the pages, memcpy as fallback).  NULL + ENOMEM keeps the old
 * block; NULL + EINVAL if p is not a live Large block. */
void  *large_realloc(void *p, size_t new_size);
/* Usable size of a live Large block (0 if p is not one). */
size_t large_usable_size(const void *p);
/* Is p the start of a live Large block living outside the arena? */
int    large_owns_external(const void *p);
/* malloc_trim: empty BigCache.  Returns bytes released. */
size_t large_trim(void);

#endif
