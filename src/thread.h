/* thread.h - the thread box: per-thread state, thread ids, start/exit and
 * fork.
 *
 * Owns: `hk_tls` (initial-exec TLS, only what the fast paths touch) and
 * the heap table (one cold `hk_heap` per live thread, OS memory, recycled,
 * never unmapped so a stale owner id can always be looked up safely).
 * Thread ids: (generation << 16) | slot, slot >= 1, so an id is unique for
 * 65536 reuses of a slot and 0 never names a thread.
 * Exit: a pthread key destructor flushes the tiers (tiny_thread_exit,
 * mid_thread_exit, l25_thread_exit) and retires the stats block.
 * Fork: the prepare handler takes every registered hak_lock in
 * registration order; the child re-initialises them, and abandons the
 * heaps of threads that do not exist in the child (their slabs are
 * orphaned and adopted later).
 * Tracepoints: thread_start, thread_exit.
 */
#ifndef HAKMEM_THREAD_H
#define HAKMEM_THREAD_H

#include "types.h"
#include "stats.h"

#define HK_UH_SLOTS 4

enum { HK_T_NEW = 0, HK_T_LIVE = 1, HK_T_EXITING = 2, HK_T_DEAD = 3 };

typedef struct hk_tls {
    void       *sll_head[HK_TINY_CLASSES];
    int32_t     sll_room[HK_TINY_CLASSES];  /* sll_cap - blocks on the list */
    uint32_t    sll_cap[HK_TINY_CLASSES];
    uint8_t     sll_misses[HK_TINY_CLASSES]; /* refills since the last drain */
    /* UltraHot state: 0 = no magazine (or thread not started), else
     * 1 + blocks in the magazine (1..HK_UH_SLOTS+1).  One byte answers
     * both "has a magazine?" and "how full?" with one load. */
    uint8_t     uh[HK_TINY_CLASSES];
    uint8_t     sll_busy[HK_TINY_CLASSES]; /* refill/overflow since drain */
    void       *uh_slot[HK_TINY_CLASSES][HK_UH_SLOTS];
    hks_class  *ctr[HK_TINY_CLASSES]; /* &st->cls[c]: one load to a counter */
    hks_thread *st;          /* this thread's counter block               */
    struct hk_heap *heap;
    uint32_t    id;          /* hakmem thread id (0 until started)        */
    uint32_t    free_tick;   /* COUNTERS=0 builds: the drain tick         */
    uint8_t     state;       /* HK_T_*                                    */
    uint8_t     busy;        /* inside malloc/free (signal re-entry check) */
    uint8_t     tp_guard;    /* inside a tracepoint: serve, don't trace   */
    uint8_t     pad;
    uint32_t    pad2;
    uint64_t    tp_seq;      /* per-thread event sequence number          */
    uint64_t    tp_seq_box;  /* box/lock events' seq; tp_seq: replay set  */
    uint64_t    drain_mask;  /* periodic drain when (frees & mask) == 0   */
} hk_tls_t;

extern HK_TLS hk_tls_t hk_tls;

typedef struct hk_heap {
    uint32_t         id;
    uint32_t         os_tid;
    _Atomic int      alive;
    uint32_t         pad;
    hk_slab         *partial[HK_TINY_CLASSES]; /* slabs with free blocks */
    hk_slab         *full[HK_TINY_CLASSES];    /* slabs with none        */
    hk_slab         *partial_tail[HK_TINY_CLASSES];
    _Atomic(hk_slab *) inbox;  /* slabs whose remote stack needs a merge  */
    void            *mid;      /* Mid tier's per-thread state             */
    void            *l25;      /* L2.5 tier's per-thread state            */
    void            *large;    /* Large tier's per-thread state           */
    uint64_t         period_hits[HK_TINY_CLASSES]; /* SLL: allocs at the last
                                                      periodic drain      */
    struct hk_heap  *next_free;
} hk_heap;

#define HK_MAX_THREADS 65535u

/* Make the calling thread usable (idempotent, cheap when done). */
void     thread_ensure(void);
/* The heap of live thread `id`, or NULL if that thread is gone. */
hk_heap *thread_heap_of(uint32_t id);
/* Process start-up (idempotent; the first caller does the work). */
void     thread_global_init(void);
extern _Atomic int hk_init_state;
/* thread_global_init() with its common case inline: one load. */
HK_INLINE void thread_ready(void) {
    if (HK_UNLIKELY(atomic_load_explicit(&hk_init_state, memory_order_acquire) < 2))
        thread_global_init();
}

/* Point the thread at counter block b (st and the per-class shortcuts). */
HK_INLINE void thread_set_stats(hk_tls_t *t, hks_thread *b) {
    t->st = b;
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) t->ctr[c] = &b->cls[c];
}

HK_INLINE hk_tls_t *hk_self(void) {
    if (HK_UNLIKELY(hk_tls.state != HK_T_LIVE)) thread_ensure();
    return &hk_tls;
}

#endif
