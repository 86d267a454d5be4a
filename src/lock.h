/* lock.h - the lock box: every lock in hakmem is a named hak_lock.
 *
 * Owns: the lock registry (name -> record in the stats segment), the
 * counters of each lock (acquisitions, contended, wait and hold time,
 * owner switches) and the lock tracepoints (lock_contended,
 * lock_acquired, lock_released).
 * Cost: the uncontended path is one trylock plus two counter updates done
 * by the holder; clocks are read only when the lock is contended or a
 * tracing session listens.
 * Invariant: counters of a lock are written only while holding it.
 */
#ifndef HAKMEM_LOCK_H
#define HAKMEM_LOCK_H

#include <pthread.h>
#include <stdint.h>

struct hks_lock;

typedef struct hak_lock {
    pthread_mutex_t  mu;
    const char      *name;
    struct hks_lock *rec;        /* counters (stats segment or static)   */
    uint32_t         id;
    uint32_t         last_owner; /* hakmem tid of the previous holder    */
    uint64_t         t_acquired; /* ns, when timed                       */
    uint64_t         wait_pending; /* wait of the current holder (ns)     */
} hak_lock;

#define HAK_LOCK_INIT(nm) { PTHREAD_MUTEX_INITIALIZER, nm, 0, 0, 0, 0, 0 }

void hak_lock_acquire(hak_lock *l);
void hak_lock_release(hak_lock *l);
/* Re-initialise in a fork child (the mutex was held across fork). */
void hak_lock_reinit(hak_lock *l);
/* Register a lock's counters in the stats segment (called at init).
 * Registration order is the lock order used by fork. */
void hak_lock_register(hak_lock *l);
/* fork: take every registered lock in order / release / re-init. */
void lock_fork_prepare(void);
void lock_fork_parent(void);
void lock_fork_child(void);

#endif
