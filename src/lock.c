/* lock.c - the lock box (see lock.h).
 *
 * Registration order is the global lock order: the fork prepare handler
 * takes every registered lock in that order, so a lock registered later
 * must never be held while taking one registered earlier.  Boxes register
 * at init in the order shared_pool, lru, arena, then the tiers.
 *
 * Paths:
 *  - untraced, uncontended: trylock, counters, t_acquired = 0; the release
 *    sees t_acquired == 0 and only unlocks.
 *  - contended: the wait is timed around pthread_mutex_lock and the hold
 *    from the acquisition to the release (hold_count counts such holds).
 *  - traced (a session records lock_acquired or lock_released): every
 *    acquisition is timed; lock_acquired (acquire call site, wait),
 *    lock_released (release call site, hold) and, with stacks, lock_stack
 *    (the acquirer's call stack, emitted just before lock_acquired on the
 *    same thread) are emitted after the unlock.  lock_contended (acquire
 *    site, and the kernel tid of the holder when its acquisition was
 *    timed) is emitted before blocking, while not holding this lock.
 *
 * HAKMEM_LOCK_STACKS=1: read here at load time (same rules as config.c:
 * environ, ignored when AT_SECURE) because the unwinder must be found
 * with dlopen, and dlopen allocates: it cannot run inside malloc.  The
 * constructor runs outside any allocation; libgcc_s.so.1 then stays
 * loaded.  The unwinder does not allocate; a per-thread guard still stops
 * a nested traced acquisition from unwinding again.
 *
 * Re-entry: each thread keeps the locks it is taking or holds in a small
 * TLS stack (pushed before the trylock, popped after the unlock).  When a
 * lock cannot be taken and is already on the calling thread's stack below
 * the new entry, waiting would deadlock: the thread itself holds it, which
 * only happens when a signal handler interrupted the allocator and called
 * it again.  That is reported on one line and the process aborts, instead
 * of hanging silently.  Cost: two TLS stores per acquire/release.
 */
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "thread.h"
#include "tp.h"
#include "types.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unwind.h>

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

/* ---- call stacks (HAKMEM_LOCK_STACKS=1) ------------------------------ */

typedef _Unwind_Reason_Code (*unwind_backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*unwind_getip_fn)(struct _Unwind_Context *);

static unwind_backtrace_fn lock_unwind;   /* NULL: stacks off */
static unwind_getip_fn lock_getip;
static HK_TLS int lock_unwinding;

extern char **environ;

__attribute__((constructor)) static void lock_stacks_setup(void) {
    if (getauxval(AT_SECURE) || !environ) return;
    static const char key[] = "HAKMEM_LOCK_STACKS=";
    const char *v = NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, key, sizeof key - 1) == 0) { v = *e + sizeof key - 1; break; }
    if (!v || (v[0] == '0' && !v[1])) return;
    /* a bad value is reported once, by config.c's table */
    if (!(v[0] == '1' && !v[1])) return;
    void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    void *bt = h ? dlsym(h, "_Unwind_Backtrace") : NULL;
    void *ip = h ? dlsym(h, "_Unwind_GetIP") : NULL;
    if (!bt || !ip) {
        os_write_err("hakmem: HAKMEM_LOCK_STACKS=1 but libgcc_s.so.1 cannot be loaded; "
                     "lock events carry the call site only\n");
        return;
    }
    lock_getip = (unwind_getip_fn)ip;
    __atomic_store_n(&lock_unwind, (unwind_backtrace_fn)bt, __ATOMIC_RELEASE);
}

#define UNWIND_SKIP_MAX 6   /* frames above the call site: ours */

typedef struct unwind_buf {
    uint64_t pc[HK_LOCK_STACK_MAX + UNWIND_SKIP_MAX];
    uint32_t n;
} unwind_buf;

static _Unwind_Reason_Code unwind_one(struct _Unwind_Context *ctx, void *arg) {
    unwind_buf *b = arg;
    uint64_t pc = (uint64_t)lock_getip(ctx);
    if (!pc) return _URC_END_OF_STACK;
    b->pc[b->n++] = pc;
    return b->n < HK_LOCK_STACK_MAX + UNWIND_SKIP_MAX ? _URC_NO_REASON : _URC_END_OF_STACK;
}

/* The caller's stack, innermost first, starting at `site` (the return
 * address into the box that called hak_lock_acquire).  Returns the depth,
 * 0 when stacks are off or the walk did not reach the site. */
static HK_NOINLINE uint32_t stack_capture(const void *site, uint64_t *out) {
    unwind_backtrace_fn bt = __atomic_load_n(&lock_unwind, __ATOMIC_ACQUIRE);
    if (!bt || lock_unwinding) return 0;
    lock_unwinding = 1;
    unwind_buf b;
    b.n = 0;
    bt(unwind_one, &b);
    lock_unwinding = 0;
    uint32_t first = 0;
    while (first < b.n && first < UNWIND_SKIP_MAX && b.pc[first] != (uint64_t)(uintptr_t)site)
        first++;
    if (first >= b.n || b.pc[first] != (uint64_t)(uintptr_t)site) return 0;
    uint32_t n = b.n - first;
    if (n > HK_LOCK_STACK_MAX) n = HK_LOCK_STACK_MAX;
    memcpy(out, &b.pc[first], n * sizeof *out);
    return n;
}

/* ---- re-entry detection ---------------------------------------------- */

#define HELD_MAX 8   /* hakmem nests at most a few locks */

static HK_TLS hak_lock *held[HELD_MAX];
static HK_TLS uint32_t nheld;

static inline void held_push(hak_lock *l) {
    uint32_t n = nheld;
    if (HK_LIKELY(n < HELD_MAX)) held[n] = l;
    nheld = n + 1;
}

static inline void held_pop(hak_lock *l) {
    uint32_t n = nheld;
    if (HK_UNLIKELY(n == 0)) return;
    if (HK_LIKELY(n <= HELD_MAX && held[n - 1] == l)) { nheld = n - 1; return; }
    /* released out of order: remove it where it is */
    for (uint32_t i = n < HELD_MAX ? n : HELD_MAX; i-- > 0;) {
        if (held[i] != l) continue;
        for (uint32_t k = i; k + 1 < n && k + 1 < HELD_MAX; k++) held[k] = held[k + 1];
        break;
    }
    nheld = n - 1;
}

static HK_COLD __attribute__((noreturn)) void reentered(const hak_lock *l) {
    char buf[256];
    snprintf(buf, sizeof buf,
             "hakmem: lock \"%s\" is already held by this thread: the allocator was re-entered, "
             "probably by malloc/free from a signal handler that interrupted it (not "
             "async-signal-safe); aborting instead of deadlocking\n", l->name);
    os_write_err(buf);
    abort();
}

/* The lock is taken: does this thread hold it already (below its own,
 * just pushed, entry)? */
static inline void check_reentry(const hak_lock *l) {
    uint32_t n = nheld;
    if (n > HELD_MAX) n = HELD_MAX;
    for (uint32_t i = 0; i + 1 < n; i++)
        if (held[i] == l) reentered(l);
}

/* ---- acquire / release ---------------------------------------------- */

static inline int tracing_locks(void) {
#ifdef HAKMEM_TRACE
    return HK_TP_ENABLED(lock_acquired) || HK_TP_ENABLED(lock_released);
#else
    return 0;
#endif
}

static inline int tracing_stacks(void) {
#ifdef HAKMEM_TRACE
    return HK_TP_ENABLED(lock_stack) && lock_unwind;
#else
    return 0;
#endif
}

/* Counters and holder fields; called with the lock held. */
static inline void acquired(hak_lock *l, int contended, uint64_t wait) {
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
}

/* Contended or traced acquisition: everything timed.  try_first: the
 * lock has not been tried yet (traced path); else the untraced fast path
 * found it taken. */
static HK_COLD void acquire_slow(hak_lock *l, const void *site, int try_first) {
    uint64_t stack[HK_LOCK_STACK_MAX];
    uint32_t depth = 0;
    int contended = 0;
    uint64_t wait = 0, t1;
    if (try_first && tracing_stacks()) depth = stack_capture(site, stack);
    if (try_first && pthread_mutex_trylock(&l->mu) == 0) {
        t1 = os_now_ns();
    } else {
        check_reentry(l);
        uint64_t t0 = os_now_ns();
        HK_TP(lock_contended, l->id, l->name, __atomic_load_n(&l->holder, __ATOMIC_RELAXED), site);
        pthread_mutex_lock(&l->mu);
        t1 = os_now_ns();
        wait = t1 - t0;
        contended = 1;
    }
    acquired(l, contended, wait);
    l->t_acquired = t1 ? t1 : 1;
    l->wait_pending = wait;
    l->site = site;
    l->depth = depth;
    __atomic_store_n(&l->holder, hk_tls.heap ? hk_tls.heap->os_tid : 0, __ATOMIC_RELAXED);
    if (depth) memcpy(l->stack, stack, depth * sizeof stack[0]);
}

void hak_lock_acquire(hak_lock *l) {
    const void *site = __builtin_return_address(0);
    held_push(l);
    if (HK_UNLIKELY(tracing_locks())) { acquire_slow(l, site, 1); return; }
    if (HK_UNLIKELY(pthread_mutex_trylock(&l->mu) != 0)) { acquire_slow(l, site, 0); return; }
    acquired(l, 0, 0);
    l->t_acquired = 0;
}

static HK_COLD void release_timed(hak_lock *l, const void *site) {
    uint64_t hold = os_now_ns() - l->t_acquired;
    hks_lock *r = l->rec;
    if (r) {
        r->hold_ns += hold;
        r->hold_count++;
        if (hold > r->hold_max_ns) r->hold_max_ns = hold;
    }
    /* Copy the holder fields before the unlock: the next holder owns them. */
    uint64_t wait = l->wait_pending;
    const void *acq_site = l->site;
    uint32_t depth = l->depth;
    uint64_t stack[HK_LOCK_STACK_MAX];
    if (depth) memcpy(stack, l->stack, depth * sizeof stack[0]);
    l->t_acquired = 0;
    __atomic_store_n(&l->holder, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&l->mu);
    held_pop(l);
    if (depth) HK_TP(lock_stack, l->id, stack, depth);
    HK_TP(lock_acquired, l->id, l->name, wait, acq_site);
    HK_TP(lock_released, l->id, l->name, hold, site);
}

void hak_lock_release(hak_lock *l) {
    if (HK_UNLIKELY(l->t_acquired)) { release_timed(l, __builtin_return_address(0)); return; }
    pthread_mutex_unlock(&l->mu);
    held_pop(l);
}

void hak_lock_reinit(hak_lock *l) {
    pthread_mutex_init(&l->mu, NULL);
    l->t_acquired = 0;
    l->depth = 0;
    l->holder = 0;
}

void lock_fork_prepare(void) {
    /* fork() from a signal handler that interrupted the allocator would
     * wait here for a lock this thread holds */
    for (uint32_t i = 0; i < nheld && i < HELD_MAX; i++) reentered(held[i]);
    for (int i = 0; i < nregistered; i++) pthread_mutex_lock(&registry[i]->mu);
}

void lock_fork_parent(void) {
    for (int i = nregistered - 1; i >= 0; i--) pthread_mutex_unlock(&registry[i]->mu);
}

void lock_fork_child(void) {
    for (int i = 0; i < nregistered; i++) hak_lock_reinit(registry[i]);
}
