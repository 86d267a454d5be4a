/* lock.c - the lock box (see lock.h).
 *
 * Registration order is the global lock order: the fork prepare handler
 * takes every registered lock in that order, so a lock registered later
 * must never be held while taking one registered earlier.  Boxes register
 * at init in the order shared_pool, lru, arena, then the tiers.
 *
 * Tracepoints are emitted after the unlock (events outside locks): the
 * lock_acquired event carries the wait measured at acquisition.
 */
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "thread.h"
#include "tp.h"

#define HK_MAX_LOCKS 32

static hak_lock *registry[HK_MAX_LOCKS];
static int nregistered;
static hks_lock fallback[HK_MAX_LOCKS];

void hak_lock_register(hak_lock *l) {
    if (l->rec) return;
    uint32_t id = 0;
    l->rec = stats_lock_record(l->name, &id);
    if (!l->rec) l->rec = &fallback[nregistered < HK_MAX_LOCKS ? nregistered : HK_MAX_LOCKS - 1];
    l->id = id;
    if (nregistered < HK_MAX_LOCKS) registry[nregistered++] = l;
}

static inline int tracing_locks(void) {
#ifdef HAKMEM_TRACE
    return HK_TP_ENABLED(lock_acquired) || HK_TP_ENABLED(lock_contended) ||
           HK_TP_ENABLED(lock_released);
#else
    return 0;
#endif
}

void hak_lock_acquire(hak_lock *l) {
    uint64_t wait = 0;
    int contended = 0;
    if (HK_UNLIKELY(pthread_mutex_trylock(&l->mu) != 0)) {
        uint64_t t0 = os_now_ns();
        HK_TP(lock_contended, l->id, l->name, 0, __builtin_return_address(0));
        pthread_mutex_lock(&l->mu);
        uint64_t t1 = os_now_ns();
        wait = t1 - t0;
        l->t_acquired = t1;
        contended = 1;
    } else {
        l->t_acquired = tracing_locks() ? os_now_ns() : 0;
    }
    hks_lock *r = l->rec;
    uint32_t me = hk_tls.id;
    if (r) {
        r->acquisitions++;
        if (contended) {
            r->contended++;
            r->wait_ns += wait;
            if (wait > r->wait_max_ns) r->wait_max_ns = wait;
        }
        if (l->last_owner != me) r->owner_switches++;
    }
    l->last_owner = me;
    l->wait_pending = wait;
}

void hak_lock_release(hak_lock *l) {
    uint64_t t = l->t_acquired, hold = 0, wait = l->wait_pending;
    if (t) {
        hold = os_now_ns() - t;
        hks_lock *r = l->rec;
        if (r) {
            r->hold_ns += hold;
            if (hold > r->hold_max_ns) r->hold_max_ns = hold;
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (t) {
        HK_TP(lock_acquired, l->id, l->name, wait, __builtin_return_address(0));
        HK_TP(lock_released, l->id, l->name, hold, __builtin_return_address(0));
    }
}

void hak_lock_reinit(hak_lock *l) {
    pthread_mutex_init(&l->mu, NULL);
}

void lock_fork_prepare(void) {
    for (int i = 0; i < nregistered; i++) pthread_mutex_lock(&registry[i]->mu);
}

void lock_fork_parent(void) {
    for (int i = nregistered - 1; i >= 0; i--) pthread_mutex_unlock(&registry[i]->mu);
}

void lock_fork_child(void) {
    for (int i = 0; i < nregistered; i++) hak_lock_reinit(registry[i]);
}
