/* overlap.h - the live blocks of each traced process as address
 * intervals, for `convert --overlap`: a block that overlaps another live
 * block means the recorded allocator handed out memory twice (or the
 * trace lost a free).
 *
 * Owns: one balanced tree (glibc tsearch) of non-overlapping intervals
 * [addr, addr + max(size, 1)) per process, keyed so that any two
 * overlapping intervals compare equal; a lookup finds an overlapping
 * block in O(log n).  Convert-time only: it allocates with malloc.
 */
#ifndef HKREPLAY_OVERLAP_H
#define HKREPLAY_OVERLAP_H

#include <stdint.h>

struct ovl;

struct ovl *ovl_new(void);
void ovl_free(struct ovl *s);

/* Object obj now lives at [addr, addr+size) in process proc.  Blocks it
 * overlaps are taken out of the set; the first one that does not start at
 * addr (a partial overlap) is returned in *other (HKF_NOOBJ: none; a block
 * at the same address is the caller's "returned while live" case).
 * Returns 0, or -1 when out of memory. */
int ovl_add(struct ovl *s, uint16_t proc, uint64_t addr, uint64_t size, uint32_t obj,
            uint32_t *other, uint64_t *other_addr);

/* Object obj (at addr) ended; its interval goes if it is still there. */
void ovl_remove(struct ovl *s, uint16_t proc, uint64_t addr, uint32_t obj);

#endif
