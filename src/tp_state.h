/* tp_state.h - the "is anyone listening?" check behind HK_TP (tp.h).
 *
 * HK_TP_ENABLED(ev) is exactly what lttng_ust_tracepoint_enabled(hakmem,
 * ev) expands to: one volatile load of the tracepoint's `state` word,
 * which LTTng-UST sets while a session records that event.  It is spelled
 * out here instead of including the provider header so that the allocator's
 * .c files do not pull in <lttng/tracepoint.h>: that header adds stdio,
 * dlfcn and, in every translation unit that includes it, a constructor
 * that dlopen()s liblttng-ust-tracepoint (and so calls malloc) at load
 * time.  Only src/tp.c includes the provider; it also includes this file,
 * so the compiler checks that these declarations match its definitions.
 *
 * The tracepoint structures are hidden symbols of libhakmem.so
 * (LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION in tp.c).
 */
#ifndef HAKMEM_TP_STATE_H
#define HAKMEM_TP_STATE_H

#include <lttng/tracepoint-types.h>

/* Every event of the provider (trace/hakmem_tp.h). */
#define HK_TP_EVENTS(X) \
    X(ultrahot_hit) X(ultrahot_miss) X(sll_refill) X(sll_drain)          \
    X(sp_acquire) X(sp_release) X(ss_map) X(ss_unmap)                     \
    X(lru_push) X(lru_pop) X(lru_evict) X(remote_push) X(remote_drain)    \
    X(slab_orphan) X(slab_adopt) X(mid_refill) X(l25_refill)              \
    X(large_map) X(large_unmap) X(bigcache_hit) X(bigcache_miss)          \
    X(lock_contended) X(lock_acquired) X(lock_released) X(lock_stack)     \
    X(malloc) X(free) X(calloc) X(realloc) X(memalign)                    \
    X(thread_start) X(thread_exit)

#define HK_TP_DECLARE_STATE(ev) \
    extern struct lttng_ust_tracepoint lttng_ust_tracepoint_hakmem___##ev \
        __attribute__((visibility("hidden")));
HK_TP_EVENTS(HK_TP_DECLARE_STATE)
#undef HK_TP_DECLARE_STATE

#define HK_TP_ENABLED(ev) \
    (*(const volatile int *)&lttng_ust_tracepoint_hakmem___##ev.state)

#endif
