/* arena.h - the arena box: one reserved virtual range, carved into 2 MiB
 * segments, plus the two side tables that make ownership arithmetic.
 *
 * Owns: the reservation (HAKMEM_ARENA_BASE / HAKMEM_ARENA_SIZE), the
 * segment bitmap (lowest free index first, so carving is deterministic),
 * the segment table (hk_segmeta per 2 MiB) and the slab table (hk_slab per
 * 64 KiB).  Both tables are lazily committed OS memory; entries of unused
 * parts read as zero (kind FREE, owner 0).
 * Invariants: a segment handed out is committed read-write; a freed
 * segment is decommitted (RSS falls) and kind FREE; the side tables are
 * never unmapped, so a stale slab index can always be read safely.
 * Lock: "arena" (segment bitmap).  Counters: os_map/os_unmap (via os.h),
 * global segs_used / committed_bytes.
 */
#ifndef HAKMEM_ARENA_H
#define HAKMEM_ARENA_H

#include "types.h"

typedef struct hk_arena {
    uintptr_t   base;      /* 2 MiB aligned                               */
    size_t      size;      /* bytes reserved; 0 before arena_init         */
    uint32_t    nsegs;
    hk_segmeta *segs;      /* segment table, nsegs entries               */
    hk_slab    *slabs;     /* slab table, nsegs * 32 entries             */
} hk_arena_t;

extern hk_arena_t hk_arena;

/* Reserve the arena and tables; 0 on success, -1 if no reservation could be
 * made (the arena stays empty and every allocation reports ENOMEM). */
int   arena_init(void);
/* `n` contiguous committed segments of `kind`, lowest address first; NULL
 * with errno = ENOMEM when the arena is full or the commit fails. */
void *arena_seg_alloc(uint32_t n, uint8_t kind);
/* Return segments to the arena (decommitted). */
void  arena_seg_free(void *seg, uint32_t n);
/* Decommit the pages of [p, p+len) inside a handed-out segment (keeps it
 * handed out; pages come back zeroed on next touch). */
void  arena_purge(void *p, size_t len);

HK_INLINE int arena_owns(const void *p) {
    return (uintptr_t)p - hk_arena.base < hk_arena.size;
}
HK_INLINE uint32_t arena_seg_index(const void *p) {
    return (uint32_t)(((uintptr_t)p - hk_arena.base) >> HK_SEG_SHIFT);
}
HK_INLINE void *arena_seg_addr(uint32_t idx) {
    return (void *)(hk_arena.base + ((uintptr_t)idx << HK_SEG_SHIFT));
}
HK_INLINE hk_segmeta *arena_segmeta(const void *p) {
    return &hk_arena.segs[arena_seg_index(p)];
}
/* Slab table entry of the 64 KiB granule holding p (p must be owned). */
HK_INLINE hk_slab *arena_slab(const void *p) {
    return &hk_arena.slabs[((uintptr_t)p - hk_arena.base) >> HK_SLAB_SHIFT];
}
HK_INLINE uint32_t arena_slab_index(const hk_slab *s) {
    return (uint32_t)(s - hk_arena.slabs);
}
HK_INLINE void *arena_slab_addr(const hk_slab *s) {
    return (void *)(hk_arena.base + ((uintptr_t)arena_slab_index(s) << HK_SLAB_SHIFT));
}

#endif
