/* tp.h - tracepoint call sites of the allocator.
 *
 * HK_TP(event, args...) costs one load and one branch when no session
 * listens; the enabled path is a cold, noinline `hk_tp_emit_<event>` in
 * tp.c (which owns the per-thread guard and sequence numbers).  With
 * TRACE=0 (HAKMEM_TRACE undefined) the macro is `if (0)`, so arguments
 * are still type-checked but no code is emitted.
 * Events and fields: docs/events.md.  Provider: trace/hakmem_tp.h.
 */
#ifndef HAKMEM_TP_H
#define HAKMEM_TP_H

#include <stddef.h>
#include <stdint.h>

/* Box events (loglevel DEBUG). */
void hk_tp_emit_ultrahot_hit(unsigned cls);
void hk_tp_emit_ultrahot_miss(unsigned cls);
void hk_tp_emit_sll_refill(unsigned cls, unsigned blocks, unsigned cap);
void hk_tp_emit_sll_drain(unsigned cls, unsigned blocks, unsigned reason);
void hk_tp_emit_sp_acquire(unsigned cls, unsigned stage, const void *slab);
void hk_tp_emit_sp_release(unsigned cls, const void *slab);
void hk_tp_emit_ss_map(const void *ss, unsigned from_lru);
void hk_tp_emit_ss_unmap(const void *ss);
void hk_tp_emit_lru_push(const void *ss, unsigned count);
void hk_tp_emit_lru_pop(const void *ss, unsigned count);
void hk_tp_emit_lru_evict(const void *ss, unsigned count);
void hk_tp_emit_remote_push(const void *slab, unsigned cls, unsigned blocks, unsigned owner);
void hk_tp_emit_remote_drain(const void *slab, unsigned cls, unsigned blocks);
void hk_tp_emit_slab_orphan(const void *slab, unsigned cls, unsigned used);
void hk_tp_emit_slab_adopt(const void *slab, unsigned cls, unsigned used);
void hk_tp_emit_mid_refill(unsigned cls, size_t size, unsigned blocks);
void hk_tp_emit_l25_refill(unsigned cls, size_t size, unsigned blocks);
void hk_tp_emit_large_map(const void *p, size_t size);
void hk_tp_emit_large_unmap(const void *p, size_t size);
void hk_tp_emit_bigcache_hit(const void *p, size_t size);
void hk_tp_emit_bigcache_miss(size_t size);
/* Lock events (loglevel DEBUG). */
void hk_tp_emit_lock_contended(unsigned id, const char *name, unsigned owner, const void *caller);
void hk_tp_emit_lock_acquired(unsigned id, const char *name, uint64_t wait_ns, const void *caller);
void hk_tp_emit_lock_released(unsigned id, const char *name, uint64_t hold_ns, const void *caller);
void hk_tp_emit_lock_stack(unsigned id, const uint64_t *frames, unsigned depth);
/* Replay set (loglevel INFO). */
void hk_tp_emit_malloc(const void *p, size_t size, unsigned cls, const void *caller);
void hk_tp_emit_free(const void *p, size_t size, unsigned cls, const void *caller);
void hk_tp_emit_calloc(const void *p, size_t nmemb, size_t size, const void *caller);
void hk_tp_emit_realloc(const void *old, const void *p, size_t size, const void *caller);
void hk_tp_emit_memalign(const void *p, size_t align, size_t size, const void *caller);
void hk_tp_emit_thread_start(void);
void hk_tp_emit_thread_exit(void);

#ifdef HAKMEM_TRACE
/* tp_state.h defines HK_TP_ENABLED(ev): one load of LTTng-UST's state for
 * that tracepoint (lttng_ust_tracepoint_enabled). */
#include "tp_state.h"
#define HK_TP(ev, ...) \
    do { if (HK_UNLIKELY(HK_TP_ENABLED(ev))) hk_tp_emit_##ev(__VA_ARGS__); } while (0)
#else
#define HK_TP(ev, ...) do { if (0) hk_tp_emit_##ev(__VA_ARGS__); } while (0)
#endif

#endif
