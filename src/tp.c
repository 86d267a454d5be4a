/* tp.c - the tracepoint box: definitions of the `hakmem` provider's
 * tracepoints and the cold emit helpers behind HK_TP (tp.h).
 *
 * Owns: the tracepoint structures (dynamic probe linkage: libhakmem.so
 * has no DT_NEEDED on any lttng library; the probes live in
 * libhakmem-tp.so, preloaded only for a capture), the per-thread
 * sequence numbers hk_tls.tp_seq (replay set) and hk_tls.tp_seq_box
 * (every other event), and the per-thread guard hk_tls.tp_guard.
 * Invariants:
 *  - A call-site reaches hk_tp_emit_<ev> only when HK_TP_ENABLED(ev).
 *  - While an event is being written (tp_guard set), nested allocations
 *    made by liblttng-ust are served but not traced, and no nested event
 *    is emitted, so sequence numbers stay dense per thread.
 *  - tp_seq counts the replay-set events this thread emitted (malloc,
 *    free, calloc, realloc, memalign, thread_start, thread_exit: loglevel
 *    INFO), tp_seq_box the others (box and lock events, DEBUG): 0, 1, 2...
 *    each.  Two counters because LTTng enables an event in every program
 *    as soon as any session enables it: a session recording one set would
 *    otherwise see the other set's numbers as gaps.  A reader that sees a
 *    jump in one of them knows that thread lost events of that set
 *    (trace/reader.h, hkr_seq_stream).
 *  - errno is preserved: free() and successful allocations must not
 *    change it, and the ring buffer's slow paths may.
 * Helpers are noinline and cold so the enabled path never costs the fast
 * path registers.
 * hakmem_tp_guard(on) is the one exported entry: it lets libhakmem-tp.so
 * keep the guard set across fork() (trace/hakmem_tp_probe.c explains why);
 * it is an ABI between the two libraries, not part of hakmem.h.  Without HAKMEM_TRACE (make TRACE=0) the helpers are
 * empty: HK_TP is `if (0)` there, so they are only referenced, never
 * called.
 * Tracepoints: all of them (trace/hakmem_tp.h, docs/events.md).
 */
#include "tp.h"

#ifdef HAKMEM_TRACE

#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#define LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#include "../trace/hakmem_tp.h"

#include <errno.h>
#include "thread.h"

/* Open the guarded region: returns from the helper when already inside
 * one (an event emitted while liblttng-ust itself allocates). */
#define HKTP_ENTER(ctr)                               \
    hk_tls_t *const t_ = &hk_tls;                     \
    if (HK_UNLIKELY(t_->tp_guard)) return;            \
    t_->tp_guard = 1;                                 \
    const int errno_ = errno;                         \
    const uint64_t seq_ = t_->ctr++
#define HKTP_LEAVE()                                  \
    errno = errno_;                                   \
    t_->tp_guard = 0

/* ctr: the counter of the event's set (tp_seq or tp_seq_box). */
#define HKTP_EMIT_IN(ctr, ev, ...)                    \
    do {                                              \
        HKTP_ENTER(ctr);                              \
        lttng_ust_do_tracepoint(hakmem, ev, seq_, __VA_ARGS__); \
        HKTP_LEAVE();                                 \
    } while (0)
/* Box and lock events (loglevel DEBUG) / the replay set (INFO). */
#define HKTP_EMIT_BOX(ev, ...)    HKTP_EMIT_IN(tp_seq_box, ev, __VA_ARGS__)
#define HKTP_EMIT_REPLAY(ev, ...) HKTP_EMIT_IN(tp_seq, ev, __VA_ARGS__)

#define HK_TP_FN HK_COLD __attribute__((visibility("hidden")))

HK_TP_FN void hk_tp_emit_ultrahot_hit(unsigned cls) { HKTP_EMIT_BOX(ultrahot_hit, cls); }
HK_TP_FN void hk_tp_emit_ultrahot_miss(unsigned cls) { HKTP_EMIT_BOX(ultrahot_miss, cls); }
HK_TP_FN void hk_tp_emit_sll_refill(unsigned cls, unsigned blocks, unsigned cap)
{ HKTP_EMIT_BOX(sll_refill, cls, blocks, cap); }
HK_TP_FN void hk_tp_emit_sll_drain(unsigned cls, unsigned blocks, unsigned reason)
{ HKTP_EMIT_BOX(sll_drain, cls, blocks, reason); }
HK_TP_FN void hk_tp_emit_sp_acquire(unsigned cls, unsigned stage, const void *slab)
{ HKTP_EMIT_BOX(sp_acquire, cls, stage, slab); }
HK_TP_FN void hk_tp_emit_sp_release(unsigned cls, const void *slab)
{ HKTP_EMIT_BOX(sp_release, cls, slab); }
HK_TP_FN void hk_tp_emit_ss_map(const void *ss, unsigned from_lru)
{ HKTP_EMIT_BOX(ss_map, ss, from_lru); }
HK_TP_FN void hk_tp_emit_ss_unmap(const void *ss) { HKTP_EMIT_BOX(ss_unmap, ss); }
HK_TP_FN void hk_tp_emit_lru_push(const void *ss, unsigned count)
{ HKTP_EMIT_BOX(lru_push, ss, count); }
HK_TP_FN void hk_tp_emit_lru_pop(const void *ss, unsigned count)
{ HKTP_EMIT_BOX(lru_pop, ss, count); }
HK_TP_FN void hk_tp_emit_lru_evict(const void *ss, unsigned count)
{ HKTP_EMIT_BOX(lru_evict, ss, count); }
HK_TP_FN void hk_tp_emit_remote_push(const void *slab, unsigned cls, unsigned blocks,
                                     unsigned owner)
{ HKTP_EMIT_BOX(remote_push, slab, cls, blocks, owner); }
HK_TP_FN void hk_tp_emit_remote_drain(const void *slab, unsigned cls, unsigned blocks)
{ HKTP_EMIT_BOX(remote_drain, slab, cls, blocks); }
HK_TP_FN void hk_tp_emit_slab_orphan(const void *slab, unsigned cls, unsigned used)
{ HKTP_EMIT_BOX(slab_orphan, slab, cls, used); }
HK_TP_FN void hk_tp_emit_slab_adopt(const void *slab, unsigned cls, unsigned used)
{ HKTP_EMIT_BOX(slab_adopt, slab, cls, used); }
HK_TP_FN void hk_tp_emit_mid_refill(unsigned cls, size_t size, unsigned blocks)
{ HKTP_EMIT_BOX(mid_refill, cls, size, blocks); }
HK_TP_FN void hk_tp_emit_l25_refill(unsigned cls, size_t size, unsigned blocks)
{ HKTP_EMIT_BOX(l25_refill, cls, size, blocks); }
HK_TP_FN void hk_tp_emit_large_map(const void *p, size_t size)
{ HKTP_EMIT_BOX(large_map, p, size); }
HK_TP_FN void hk_tp_emit_large_unmap(const void *p, size_t size)
{ HKTP_EMIT_BOX(large_unmap, p, size); }
HK_TP_FN void hk_tp_emit_bigcache_hit(const void *p, size_t size)
{ HKTP_EMIT_BOX(bigcache_hit, p, size); }
HK_TP_FN void hk_tp_emit_bigcache_miss(size_t size) { HKTP_EMIT_BOX(bigcache_miss, size); }

HK_TP_FN void hk_tp_emit_lock_contended(unsigned id, const char *name, unsigned owner,
                                        const void *caller)
{ HKTP_EMIT_BOX(lock_contended, id, name ? name : "?", owner, caller); }
HK_TP_FN void hk_tp_emit_lock_acquired(unsigned id, const char *name, uint64_t wait_ns,
                                       const void *caller)
{ HKTP_EMIT_BOX(lock_acquired, id, name ? name : "?", wait_ns, caller); }
HK_TP_FN void hk_tp_emit_lock_released(unsigned id, const char *name, uint64_t hold_ns,
                                       const void *caller)
{ HKTP_EMIT_BOX(lock_released, id, name ? name : "?", hold_ns, caller); }
HK_TP_FN void hk_tp_emit_lock_stack(unsigned id, const uint64_t *frames, unsigned depth)
{ HKTP_EMIT_BOX(lock_stack, id, frames, depth); }

HK_TP_FN void hk_tp_emit_malloc(const void *p, size_t size, unsigned cls, const void *caller)
{ HKTP_EMIT_REPLAY(malloc, p, size, cls, caller); }
HK_TP_FN void hk_tp_emit_free(const void *p, size_t size, unsigned cls, const void *caller)
{ HKTP_EMIT_REPLAY(free, p, size, cls, caller); }
HK_TP_FN void hk_tp_emit_calloc(const void *p, size_t nmemb, size_t size, const void *caller)
{ HKTP_EMIT_REPLAY(calloc, p, nmemb, size, caller); }
HK_TP_FN void hk_tp_emit_realloc(const void *old, const void *p, size_t size,
                                 const void *caller)
{ HKTP_EMIT_REPLAY(realloc, old, p, size, caller); }
HK_TP_FN void hk_tp_emit_memalign(const void *p, size_t align, size_t size,
                                  const void *caller)
{ HKTP_EMIT_REPLAY(memalign, p, align, size, caller); }
HK_TP_FN void hk_tp_emit_thread_start(void) { HKTP_EMIT_REPLAY(thread_start, hk_tls.id); }
HK_TP_FN void hk_tp_emit_thread_exit(void) { HKTP_EMIT_REPLAY(thread_exit, hk_tls.id); }

__attribute__((visibility("default"))) int hakmem_tp_guard(int on)
{
    int old = hk_tls.tp_guard;
    hk_tls.tp_guard = (uint8_t)(on != 0);
    return old;
}

#else /* !HAKMEM_TRACE: referenced by `if (0)` call sites only. */

#define U_ __attribute__((unused))
void hk_tp_emit_ultrahot_hit(U_ unsigned cls) {}
void hk_tp_emit_ultrahot_miss(U_ unsigned cls) {}
void hk_tp_emit_sll_refill(U_ unsigned cls, U_ unsigned blocks, U_ unsigned cap) {}
void hk_tp_emit_sll_drain(U_ unsigned cls, U_ unsigned blocks, U_ unsigned reason) {}
void hk_tp_emit_sp_acquire(U_ unsigned cls, U_ unsigned stage, U_ const void *slab) {}
void hk_tp_emit_sp_release(U_ unsigned cls, U_ const void *slab) {}
void hk_tp_emit_ss_map(U_ const void *ss, U_ unsigned from_lru) {}
void hk_tp_emit_ss_unmap(U_ const void *ss) {}
void hk_tp_emit_lru_push(U_ const void *ss, U_ unsigned count) {}
void hk_tp_emit_lru_pop(U_ const void *ss, U_ unsigned count) {}
void hk_tp_emit_lru_evict(U_ const void *ss, U_ unsigned count) {}
void hk_tp_emit_remote_push(U_ const void *slab, U_ unsigned cls, U_ unsigned blocks,
                            U_ unsigned owner) {}
void hk_tp_emit_remote_drain(U_ const void *slab, U_ unsigned cls, U_ unsigned blocks) {}
void hk_tp_emit_slab_orphan(U_ const void *slab, U_ unsigned cls, U_ unsigned used) {}
void hk_tp_emit_slab_adopt(U_ const void *slab, U_ unsigned cls, U_ unsigned used) {}
void hk_tp_emit_mid_refill(U_ unsigned cls, U_ size_t size, U_ unsigned blocks) {}
void hk_tp_emit_l25_refill(U_ unsigned cls, U_ size_t size, U_ unsigned blocks) {}
void hk_tp_emit_large_map(U_ const void *p, U_ size_t size) {}
void hk_tp_emit_large_unmap(U_ const void *p, U_ size_t size) {}
void hk_tp_emit_bigcache_hit(U_ const void *p, U_ size_t size) {}
void hk_tp_emit_bigcache_miss(U_ size_t size) {}
void hk_tp_emit_lock_contended(U_ unsigned id, U_ const char *name, U_ unsigned owner,
                               U_ const void *caller) {}
void hk_tp_emit_lock_acquired(U_ unsigned id, U_ const char *name, U_ uint64_t wait_ns,
                              U_ const void *caller) {}
void hk_tp_emit_lock_released(U_ unsigned id, U_ const char *name, U_ uint64_t hold_ns,
                              U_ const void *caller) {}
void hk_tp_emit_lock_stack(U_ unsigned id, U_ const uint64_t *frames, U_ unsigned depth) {}
void hk_tp_emit_malloc(U_ const void *p, U_ size_t size, U_ unsigned cls,
                       U_ const void *caller) {}
void hk_tp_emit_free(U_ const void *p, U_ size_t size, U_ unsigned cls,
                     U_ const void *caller) {}
void hk_tp_emit_calloc(U_ const void *p, U_ size_t nmemb, U_ size_t size,
                       U_ const void *caller) {}
void hk_tp_emit_realloc(U_ const void *old, U_ const void *p, U_ size_t size,
                        U_ const void *caller) {}
void hk_tp_emit_memalign(U_ const void *p, U_ size_t align, U_ size_t size,
                         U_ const void *caller) {}
void hk_tp_emit_thread_start(void) {}
void hk_tp_emit_thread_exit(void) {}
__attribute__((visibility("default"))) int hakmem_tp_guard(U_ int on) { return 0; }

#endif
