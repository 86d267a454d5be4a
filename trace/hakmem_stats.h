/* hakmem_stats.h - ABI of the stats segment shared by libhakmem.so (writer)
 * and the tools (hakmem-top, hakmem-lockstat, tests) that read it.
 *
 * The segment is a memfd named "hakmem-stats" (one per process, mode 0600,
 * sealed against shrinking and growing), found by another process through
 * the /proc/PID/fd/N link whose target starts with "/memfd:hakmem-stats".
 * It lives exactly as long as something holds it: no file is left behind.
 * docs/counters.md describes every counter.
 *
 * Layout (offsets from the segment start, little endian, every section
 * 64-byte aligned; the header says where each section is):
 *
 *   hks_header                      magic, version, sizes, class table, and
 *                                   a few live control words
 *   hks_global                      process-wide gauges (slow paths only)
 *   hks_lock[lock_count]            one record per named hak_lock
 *   hks_thread[thread_capacity]     per-thread counter blocks:
 *       block 0 (HKS_BLOCK_RETIRED) the counts of threads that exited
 *       block 1 (HKS_BLOCK_SHARED)  counts made by threads that have no
 *                                   block of their own (before their claim,
 *                                   after their retire)
 *       blocks 2.. (LIVE or FREE)   one per live thread
 *
 * Writers: each thread increments only its own block with plain stores (no
 * lock, no atomic read-modify-write).  A thread that exits folds its block
 * into block 0 with atomic adds, between fold_begin++ and fold_end++, then
 * zeroes it and marks it FREE.  Readers sum every block whose state is
 * LIVE, RETIRED or SHARED among the first thread_high blocks; a sum is
 * consistent when fold_end read before it equals fold_begin read after it
 * (a sequence lock that any number of exiting threads can enter at once).
 * Counts only grow, except the fields named gauges.
 *
 * Readers must validate every size, offset and count of the header before
 * use: the segment is written by the observed process, which may be
 * compromised.  Bump HKS_ABI_VERSION on any layout change; readers refuse
 * versions they do not know.
 */
#ifndef HAKMEM_STATS_ABI_H
#define HAKMEM_STATS_ABI_H

#include <stdint.h>

#define HKS_MAGIC        0x5354534d4b4148ULL /* "HAKMSTS\0" little endian */
#define HKS_ABI_VERSION  1u
#define HKS_TINY_CLASSES 8
#define HKS_MAX_LOCKS    32
#define HKS_LOCK_NAME    24
#define HKS_CMDLINE      64
#define HKS_MEMFD_NAME   "hakmem-stats"

enum { HKS_RETIRED_BLOCK = 0, HKS_SHARED_BLOCK = 1, HKS_FIRST_THREAD_BLOCK = 2 };

/* Per tiny class, per thread.  allocs = uh_hits + sll_hits + sll_misses. */
typedef struct hks_class {
    uint64_t uh_hits;        /* malloc served by the UltraHot magazine    */
    uint64_t uh_misses;      /* UltraHot class, magazine empty            */
    uint64_t sll_hits;       /* malloc served by the TLS SLL              */
    uint64_t sll_misses;     /* malloc that needed a refill               */
    uint64_t frees;          /* free() of a block of this class           */
    uint64_t refills;        /* SLL refills from slabs                    */
    uint64_t refill_blocks;  /* blocks moved slab -> SLL                  */
    uint64_t drains;         /* SLL drains                                */
    uint64_t drain_blocks;   /* blocks moved SLL -> slabs                 */
    uint64_t remote_sent;    /* blocks pushed onto another thread's slab  */
    uint64_t remote_recv;    /* blocks merged from this thread's remote stacks */
    uint64_t slabs_acquired; /* slabs taken from the SharedPool           */
    uint64_t slabs_released; /* slabs given back (EMPTY)                  */
    uint64_t sll_cap;        /* gauge: current adaptive SLL capacity      */
    uint64_t pad[2];
} hks_class;

/* Per tier (Mid, L2.5, Large), per thread. */
typedef struct hks_tier {
    uint64_t allocs;
    uint64_t frees;
    uint64_t bytes_alloc;    /* bytes handed out (block sizes)            */
    uint64_t bytes_freed;
    uint64_t refills;        /* pool refills from segments                */
    uint64_t remote_sent;    /* frees sent to another thread's queue      */
    uint64_t remote_recv;    /* frees received from other threads         */
    uint64_t cache_hits;     /* Large: BigCache hits                      */
    uint64_t cache_misses;   /* Large: BigCache misses                    */
    uint64_t segments;       /* segments/mappings acquired                */
    uint64_t segments_freed; /* segments/mappings given back              */
    uint64_t pad[5];
} hks_tier;

enum { HKS_TIER_MID = 0, HKS_TIER_L25 = 1, HKS_TIER_LARGE = 2, HKS_TIERS = 3 };

/* Per box, per thread: slow-path events. */
typedef struct hks_box {
    uint64_t sp_stage1;      /* SharedPool acquire served by EMPTY reuse  */
    uint64_t sp_stage2;      /* ... by claiming an UNUSED slot            */
    uint64_t sp_stage3;      /* ... by a new SuperSlab (LRU or OS)        */
    uint64_t sp_release;     /* slabs released to the pool                */
    uint64_t ss_map;         /* SuperSlabs taken from the arena           */
    uint64_t ss_unmap;       /* SuperSlabs given back to the arena         */
    uint64_t lru_push;
    uint64_t lru_pop;
    uint64_t lru_evict;
    uint64_t slab_orphan;
    uint64_t slab_adopt;
    uint64_t os_map;         /* OS mapping / commit calls                 */
    uint64_t os_unmap;       /* OS unmap / decommit calls                 */
    uint64_t os_map_bytes;
    uint64_t os_unmap_bytes;
    uint64_t inbox_recv;     /* slabs notified through the inbox          */
} hks_box;

enum {
    HKS_BLOCK_FREE = 0,      /* unclaimed; all counters zero              */
    HKS_BLOCK_LIVE = 1,      /* owned by a running thread                 */
    HKS_BLOCK_RETIRED = 2,   /* block 0: folded counts of exited threads  */
    HKS_BLOCK_SHARED = 3,    /* block 1: threads without a block          */
};

typedef struct hks_thread {
    uint32_t  state;         /* HKS_BLOCK_*                               */
    uint32_t  tid;           /* hakmem thread id                          */
    uint32_t  os_tid;        /* kernel tid                                */
    uint32_t  pad0;
    uint64_t  pad1[6];       /* the counters start on the second line   */
    hks_class cls[HKS_TINY_CLASSES];
    hks_tier  tier[HKS_TIERS];
    hks_box   box;
} __attribute__((aligned(64))) hks_thread;

/* The counters of a block are the 64-bit words from HKS_COUNTER_WORD0 to
 * the end; every one is summed except the gauge sll_cap (a reader's sum
 * holds the largest sll_cap of the summed blocks). */
#define HKS_COUNTER_WORD0  (__builtin_offsetof(hks_thread, cls) / 8)
#define HKS_THREAD_WORDS   (sizeof(hks_thread) / 8)
#define HKS_IS_GAUGE_WORD(w) \
    ((w) >= HKS_COUNTER_WORD0 && (w) < __builtin_offsetof(hks_thread, tier) / 8 && \
     ((w) - HKS_COUNTER_WORD0) % (sizeof(hks_class) / 8) == \
         __builtin_offsetof(hks_class, sll_cap) / 8)

/* Process-wide gauges, updated with relaxed atomics on slow paths. */
typedef struct hks_global {
    uint64_t ss_live;        /* SuperSlabs in use (not in the LRU)        */
    uint64_t slots_unused;   /* slab slots by state, in live SuperSlabs   */
    uint64_t slots_active;
    uint64_t slots_empty;
    uint64_t lru_count;
    uint64_t lru_bytes;
    uint64_t arena_base;
    uint64_t arena_size;
    uint64_t segs_used;      /* arena segments handed out                 */
    uint64_t committed_bytes;
    uint64_t threads_live;
    uint64_t threads_total;
    uint64_t large_live_bytes;
    uint64_t bigcache_bytes;
    uint64_t pad[2];
} __attribute__((aligned(64))) hks_global;

typedef struct hks_lock {
    char     name[HKS_LOCK_NAME]; /* NUL-terminated                      */
    uint32_t id;
    uint32_t in_use;         /* set (release) once name and id are written */
    uint64_t acquisitions;
    uint64_t contended;
    uint64_t wait_ns;        /* total wait of contended acquisitions      */
    uint64_t wait_max_ns;
    uint64_t hold_ns;        /* total hold (timed when contended/traced)  */
    uint64_t hold_max_ns;
    uint64_t owner_switches;
    uint64_t hold_count;     /* acquisitions whose hold was timed: avg
                                hold = hold_ns / hold_count (was pad)     */
    uint64_t pad[3];
} __attribute__((aligned(64))) hks_lock;

typedef struct hks_header {
    /* Written once at creation (and in a fork child). */
    uint64_t magic;
    uint32_t abi_version;
    uint32_t header_size;     /* sizeof(hks_header)                       */
    uint64_t total_size;      /* bytes of the whole segment               */
    uint32_t pid;
    uint32_t uid;
    uint64_t start_time_ns;   /* CLOCK_REALTIME at creation               */
    uint32_t class_count;     /* HKS_TINY_CLASSES                         */
    uint32_t class_size[HKS_TINY_CLASSES];
    uint32_t ultrahot_mask;   /* classes with an UltraHot magazine        */
    uint32_t global_offset;
    uint32_t global_size;
    uint32_t locks_offset;
    uint32_t lock_size;
    uint32_t lock_count;      /* capacity of the lock table               */
    uint32_t threads_offset;
    uint32_t thread_size;     /* sizeof(hks_thread)                       */
    uint32_t thread_capacity;
    uint32_t tier_max[HKS_TIERS]; /* largest request of Mid, L2.5 (Large: 0) */
    uint32_t pad0;
    char     cmdline[HKS_CMDLINE]; /* command line, NUL-terminated        */
    /* Live control words (own cache line), atomics. */
    uint64_t thread_high __attribute__((aligned(64)));
                              /* blocks [0, thread_high) were ever used   */
    uint64_t fold_begin;      /* folds started (see the top of this file) */
    uint64_t fold_end;        /* folds finished                           */
    uint64_t threads_overflow; /* live threads counting in private blocks
                                  (segment full): not visible until exit  */
    uint64_t pad1[4];
} __attribute__((aligned(64))) hks_header;

_Static_assert(sizeof(hks_thread) == 1600, "hks_thread layout (ABI 1)");
_Static_assert(__builtin_offsetof(hks_thread, cls) == 64, "counters start on line 2");
_Static_assert(sizeof(hks_class) == 128 && sizeof(hks_tier) == 128 && sizeof(hks_box) == 128,
               "hks_class/hks_tier/hks_box layout (ABI 1)");
_Static_assert(sizeof(hks_global) == 128 && sizeof(hks_lock) == 128, "hks_global/hks_lock (ABI 1)");
_Static_assert(sizeof(hks_header) == 256, "hks_header layout (ABI 1)");

#endif
