/* large.h - the Large tier: size > 1 MiB and alignments > 64 KiB.
 *
 * Owns: Large spans (runs of arena segments, kind HK_SEG_LARGE +
 * HK_SEG_LARGE_TAIL) and, when the arena cannot hold a request, plain OS
 * mappings outside it kept in a registry (so ownership is still decided
 * without reading foreign memory); BigCache, a resizable hash of freed
 * mappings bounded in bytes (HAKMEM_BIGCACHE_BYTES) so repeated large
 * buffers are reused instead of unmapped and re-faulted; realloc by
 * mremap.  Counters: hks_tier[LARGE] (BigCache hits/misses in
 * cache_hits/cache_misses).  Tracepoints: large_map, large_unmap,
 * bigcache_hit, bigcache_miss.  Lock: "bigcache".
 */
#ifndef HAKMEM_LARGE_H
#define HAKMEM_LARGE_H

#include <stddef.h>

void   large_init(void);
/* NULL + ENOMEM on failure.  With `zero`, the block reads as zeros (fresh
 * mappings are not cleared again). */
void  *large_alloc(size_t size, int zero);
/* align: power of two, any size up to at least 2 MiB... up to 1 GiB. */
void  *large_alloc_aligned(size_t size, size_t align);
/* 0 = freed; -1 = p is not the start of a live Large block. */
int    large_free(void *p);
/* Resize a live Large block (mremap when it moves); NULL + ENOMEM keeps
 * the old block.  new_size > HK_L25_MAX. */
void  *large_realloc(void *p, size_t new_size);
size_t large_usable_size(const void *p);
/* Is p the start of a Large block living outside the arena? */
int    large_owns_external(const void *p);
/* malloc_trim: empty BigCache.  Returns bytes released. */
size_t large_trim(void);

#endif
