/* lock.h - the lock box: every lock in hakmem is a named hak_lock.
 *
 * Owns: the lock registry (name -> record in the stats segment), the
 * counters of each lock (acquisitions, contended, wait and hold time,
 * owner switches) and the lock tracepoints (lock_contended,
 * lock_acquired, lock_released, lock_stack).  docs/howto-locks.md.
 * Cost: the uncontended, untraced path is one trylock, two loads of
 * tracepoint state, the acquisitions counter and the owner check; the
 * release is one load and the unlock.  Clocks are read only when the lock
 * is contended or a session records lock_acquired/lock_released, so
 * hold_ns covers only those "timed" acquisitions (hold_count of them).
 * Call stacks (HAKMEM_LOCK_STACKS=1) are taken with libgcc's unwinder,
 * found with dlopen at load time (no DT_NEEDED), and only while a session
 * records lock_stack; they are taken before the lock, so they never
 * lengthen a hold.
 * Invariant: counters and the holder fields of a lock are written only
 * while holding it.  Events are emitted after the unlock.
 */
#ifndef HAKMEM_LOCK_H
#define HAKMEM_LOCK_H

#include <pthread.h>
#include <stdint.h>

struct hks_lock;

#define HK_LOCK_STACK_MAX 32   /* frames kept per acquisition */

typedef struct hak_lock {
    pthread_mutex_t  mu;
    const char      *name;
    struct hks_lock *rec;          /* counters (stats segment or static)  */
    uint32_t         id;
    uint32_t         last_owner;   /* hakmem tid of the previous holder   */
    /* Holder fields, valid while held and timed (t_acquired != 0). */
    uint64_t         t_acquired;   /* ns; 0 = this hold is not timed      */
    uint64_t         wait_pending; /* the holder's wait (ns)              */
    const void      *site;         /* the holder's acquire call site      */
    uint32_t         depth;        /* frames in stack (0 = none)          */
    uint32_t         holder;       /* kernel tid of a timed holder, else 0;
                                      read (racily) by waiters for the
                                      lock_contended event              */
    uint64_t         stack[HK_LOCK_STACK_MAX]; /* stack[0] == site       */
} hak_lock;

#define HAK_LOCK_INIT(nm) { .mu = PTHREAD_MUTEX_INITIALIZER, .name = (nm) }

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
