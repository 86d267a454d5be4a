/* types.h - the shared vocabulary of hakmem's boxes.
 *
 * Design in one page (docs/architecture.md has the long form):
 *
 *  - All memory hakmem hands out lives in one reserved virtual range, the
 *    *arena* (arena.h).  The arena is carved into 2 MiB *segments*; a
 *    segment is a Tiny SuperSlab, a Mid or L2.5 pool segment, or part of a
 *    Large span.  Segments are handed out lowest-index-first, so with a fixed
 *    base (HAKMEM_ARENA_BASE) the same call sequence gets the same addresses.
 *
 *  - Ownership of a pointer is pure arithmetic: `p - arena_base < arena_size`
 *    says "ours"; `(p - base) >> 21` indexes the segment table and
 *    `(p - base) >> 16` indexes the slab table.  Both tables are side tables
 *    in reserved, lazily committed memory, never inside user segments, so
 *    deciding what a pointer is never reads user memory and never reads a
 *    byte that hakmem does not own.  A SuperSlab therefore has no header:
 *    all 32 slabs of 64 KiB are payload.
 *
 *  - Metadata never comes from hakmem itself: side tables, per-thread heaps
 *    and the stats segment are raw OS mappings (os.h).
 *
 *  - Every thread has a `hk_tls` (initial-exec TLS, small, hot) and a
 *    `hk_heap` (OS-mapped, cold: slab lists, inbox, tier state).  Thread ids
 *    are hakmem's own, never reused while the process lives (kernel tids
 *    are), and never 0 (0 marks an orphaned slab).
 */
#ifndef HAKMEM_TYPES_H
#define HAKMEM_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HK_INLINE      static inline __attribute__((always_inline))
#define HK_NOINLINE    __attribute__((noinline))
#define HK_COLD        __attribute__((noinline, cold))
#define HK_CACHELINE   64
#define HK_ALIGNED     __attribute__((aligned(HK_CACHELINE)))
#define HK_TLS         __thread __attribute__((tls_model("initial-exec")))

/* Per-operation counters of the fast paths.  `make COUNTERS=0` compiles
 * them out (HAKMEM_NO_COUNTERS), only to measure what they cost; slow-path
 * counters stay. */
#ifdef HAKMEM_NO_COUNTERS
#define HK_CTR(stmt) ((void)0)
#else
#define HK_CTR(stmt) stmt
#endif

/* ---- geometry -------------------------------------------------------- */
#define HK_SEG_SHIFT   21                         /* 2 MiB segments      */
#define HK_SEG_SIZE    ((size_t)1 << HK_SEG_SHIFT)
#define HK_SLAB_SHIFT  16                         /* 64 KiB tiny slabs   */
#define HK_SLAB_SIZE   ((size_t)1 << HK_SLAB_SHIFT)
#define HK_SLABS_PER_SEG (1u << (HK_SEG_SHIFT - HK_SLAB_SHIFT)) /* 32 */

/* ---- tiers ----------------------------------------------------------- */
#define HK_TINY_CLASSES 8                          /* C0..C7 = 8..1024 B  */
#define HK_TINY_MAX     1024u
#define HK_MID_MAX      (32u * 1024)               /* Mid: 1 KiB..32 KiB   */
#define HK_L25_MAX      (1024u * 1024)             /* L2.5: 32 KiB..1 MiB  */
#define HK_MIN_ALIGN    16u

/* Segment kinds, stored in the segment table (arena.h). */
enum hk_seg_kind {
    HK_SEG_FREE = 0,   /* not handed out (reserved, maybe decommitted) */
    HK_SEG_TINY,       /* SuperSlab: 32 tiny slabs                      */
    HK_SEG_MID,        /* Mid tier pool segment                         */
    HK_SEG_L25,        /* L2.5 pool segment                             */
    HK_SEG_LARGE,      /* first segment of a Large span                 */
    HK_SEG_LARGE_TAIL, /* further segments of a Large span              */
    HK_SEG_LRU,        /* empty SuperSlab parked in the LRU             */
    HK_SEG_KINDS
};

/* SP-SLOT states of a slab slot inside a SuperSlab. */
enum hk_slot_state {
    HK_SLOT_UNUSED = 0, /* never carved since the SuperSlab was (re)mapped */
    HK_SLOT_ACTIVE = 1, /* owned by a thread (or orphaned), may hold blocks */
    HK_SLOT_EMPTY  = 2, /* used == 0, keeps its class and free list; on a
                           stage-1 list for reuse                           */
};

/* ---- slab: one 64 KiB slab of one tiny class (slab table entry) -------
 * Invariant: `used` = blocks not on this slab's `free` list and not on its
 * `remote` stack and not yet carved, i.e. blocks held by users or parked in
 * some thread's UltraHot/SLL.  Only the owner thread changes `free`,
 * `used`, `carved` and the list links; other threads only push onto
 * `remote` (see remote.h). */
typedef struct hk_slab {
    /* owner-hot */
    void            *free;       /* local free list                       */
    uint16_t         used;
    uint16_t         carved;     /* blocks carved by bump so far          */
    uint16_t         capacity;   /* blocks in this slab (<= 8192)         */
    uint16_t         block_size; /* 0 = not an active tiny slab           */
    uint8_t          cls;        /* tiny class                            */
    uint8_t          list;       /* which owner list it is on (slab.h)    */
    _Atomic uint8_t  state;      /* hk_slot_state                         */
    _Atomic uint8_t  on_list;    /* on a stage-1 EMPTY list               */
    _Atomic uint32_t owner;      /* owner thread id, 0 = orphaned         */
    struct hk_slab  *prev, *next; /* owner's per-class partial/full list  */
    /* shared */
    _Atomic uintptr_t remote;    /* MPSC stack of remote frees; bit 0 =
                                    "notify owner on next push"           */
    struct hk_slab  *inbox_next; /* link in the owner's inbox             */
    _Atomic uint32_t empty_next; /* stage-1 list link: slab index + 1     */
    _Atomic uint8_t  in_inbox;   /* on its owner's inbox                  */
    _Atomic uint8_t  orphan_listed; /* on its class's orphan stack        */
    uint8_t          pad[2];
} HK_ALIGNED hk_slab;

_Static_assert(sizeof(hk_slab) == 64, "slab table entries are one cache line");

/* ---- segment table entry (one per 2 MiB of arena) --------------------- */
typedef struct hk_segmeta {
    _Atomic uint8_t  kind;       /* hk_seg_kind                           */
    uint8_t          committed;  /* pages may be resident                 */
    uint16_t         pad;
    uint32_t         span;       /* LARGE: segments in span; TAIL: offset */
    _Atomic uint32_t refs;       /* TINY: ACTIVE slots | HK_SS_RETIRED    */
    uint32_t         lru_prev, lru_next; /* LRU links: seg index + 1      */
    uint32_t         pad2;
    uint64_t         lru_stamp;  /* when it entered the LRU (ns)          */
    void            *owner_data; /* MID/L25/LARGE: the tier's own record  */
    uint8_t          pad3[24];
} hk_segmeta;

_Static_assert(sizeof(hk_segmeta) == 64, "segment table entries are one cache line");

#define HK_SS_RETIRED 0x80000000u

#endif
