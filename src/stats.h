/* stats.h - the counters box: per-thread counter blocks in the stats
 * segment (ABI in trace/hakmem_stats.h, description in docs/counters.md).
 *
 * Owns: the segment (a sealed 0600 memfd created at init, found by other
 * processes through /proc/PID/fd, gone with the process; private memory
 * with HAKMEM_STATS=0), the claim of a block per thread and its folding
 * into the retired block at thread exit, the shared block for threads
 * without one, private overflow blocks when the segment is full, the lock
 * records, the global gauges, and the segment of a fork child.
 * Fast path: `hk_tls.ctr[c]->sll_hits++` - a plain increment through
 * a TLS pointer (ctr[c] = &st->cls[c], thread_set_stats); never a lock or
 * an atomic RMW.  Claims, folds (atomic
 * adds inside a fold_begin/fold_end sequence) and gauges are slow paths.
 * Nothing here calls malloc: raw system calls only.
 */
#ifndef HAKMEM_STATS_H
#define HAKMEM_STATS_H

#include "../trace/hakmem_stats.h"
#include <stdint.h>

/* Create the segment (idempotent; call after config_init, which decides
 * HAKMEM_STATS).  Never allocates with malloc: raw syscalls only. */
void        stats_init(void);
/* Claim a block for the calling thread; never NULL. */
hks_thread *stats_thread_claim(uint32_t tid, uint32_t os_tid);
/* Fold a thread's block into the retired block and free it.  If the
 * calling thread's hk_tls.st is `b`, it is pointed at the shared block, so
 * counts made later by this thread (late frees) still land somewhere. */
void        stats_thread_retire(hks_thread *b);
/* The shared block: counts of threads without a block of their own (before
 * their claim, after their retire).  Never NULL once stats_init ran. */
hks_thread *stats_shared_block(void);
/* Process-wide gauges (relaxed atomics, slow paths only). */
hks_global *stats_global(void);
/* A lock record for `name` (static fallback when the segment is full). */
hks_lock   *stats_lock_record(const char *name, uint32_t *id);
/* Sum every live and retired block into `out`. */
void        stats_sum(hks_thread *out);
/* After fork, in the child: a new segment for the new pid, mapped at the
 * same address (pointers to blocks, gauges and lock records stay valid),
 * holding the parent's counts; blocks of threads that do not exist in the
 * child (every live block but hk_tls.st) are folded into the retired one. */
void        stats_fork_child(void);
/* "/proc/PID/fd/N" naming the segment, or NULL when the counters are
 * private (HAKMEM_STATS=0, or no memfd could be created). */
const char *stats_path(void);

#define HKS_GAUGE_ADD(field, v) \
    __atomic_fetch_add(&stats_global()->field, (uint64_t)(v), __ATOMIC_RELAXED)
#define HKS_GAUGE_SUB(field, v) \
    __atomic_fetch_sub(&stats_global()->field, (uint64_t)(v), __ATOMIC_RELAXED)

#endif
