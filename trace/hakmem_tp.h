/* hakmem_tp.h - the LTTng-UST provider `hakmem` (LTTng-UST 2.13 API).
 *
 * One event per box boundary plus the replay set.  Every event starts
 * with `seq`, the emitting thread's sequence number (0, 1, 2... per
 * thread, counting only events that thread emitted), so a reader can tell
 * exactly which thread lost which events.  Pointers are hex integers.
 *
 * Loglevels: box and lock events DEBUG, replay set INFO, so
 * `lttng enable-event -u 'hakmem:*' --loglevel=INFO` records exactly the
 * replay set.
 *
 * Linkage (docs/howto-capture.md): libhakmem.so includes this header in
 * src/tp.c with LTTNG_UST_TRACEPOINT_DEFINE and dynamic probe linkage (no
 * lttng DT_NEEDED); trace/hakmem_tp_probe.c includes it with
 * LTTNG_UST_TRACEPOINT_CREATE_PROBES and becomes libhakmem-tp.so.
 * Reference of every event and field: docs/events.md.  The call-site
 * signatures are in src/tp.h; the reader's field names in trace/reader.h.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER hakmem

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "hakmem_tp.h"

#if !defined(HAKMEM_TP_PROVIDER_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define HAKMEM_TP_PROVIDER_H

#include <stddef.h>
#include <stdint.h>
#include <lttng/tracepoint.h>

/* Shorthands for the field lists (the provider macros re-expand them, so
 * they must stay plain macros). */
#define HKTP_SEQ      lttng_ust_field_integer(uint64_t, seq, seq)
#define HKTP_PTR(f,v) lttng_ust_field_integer_hex(uint64_t, f, (uint64_t)(uintptr_t)(v))
#define HKTP_U64(f,v) lttng_ust_field_integer(uint64_t, f, (uint64_t)(v))
#define HKTP_U32(f,v) lttng_ust_field_integer(uint32_t, f, (uint32_t)(v))
#define HKTP_U16(f,v) lttng_ust_field_integer(uint16_t, f, (uint16_t)(v))
#define HKTP_U8(f,v)  lttng_ust_field_integer(uint8_t, f, (uint8_t)(v))

/* ---- Tiny: UltraHot magazine ---------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, cls_only,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, cls_only, hakmem, ultrahot_hit,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, ultrahot_hit, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, cls_only, hakmem, ultrahot_miss,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, ultrahot_miss, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Tiny: TLS SLL --------------------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, sll_refill,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, unsigned, blocks, unsigned, cap),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls) HKTP_U32(blocks, blocks)
        HKTP_U32(cap, cap)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, sll_refill, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, sll_drain,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, unsigned, blocks, unsigned, reason),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls) HKTP_U32(blocks, blocks)
        HKTP_U8(reason, reason)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, sll_drain, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Tiny: SharedPool ------------------------------------------------ */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, sp_acquire,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, unsigned, stage, const void *, slab),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls) HKTP_U8(stage, stage)
        HKTP_PTR(slab, slab)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, sp_acquire, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, sp_release,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, const void *, slab),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls) HKTP_PTR(slab, slab)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, sp_release, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Tiny: SuperSlab and LRU ---------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, ss_map,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss, unsigned, from_lru),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ss, ss) HKTP_U8(from_lru, from_lru)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, ss_map, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, ss_unmap,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ss, ss)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, ss_unmap, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, lru_op,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss, unsigned, count),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ss, ss) HKTP_U32(count, count)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, lru_op, hakmem, lru_push,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss, unsigned, count))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lru_push, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, lru_op, hakmem, lru_pop,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss, unsigned, count))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lru_pop, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, lru_op, hakmem, lru_evict,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ss, unsigned, count))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lru_evict, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Remote frees and orphaned slabs -------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, remote_push,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, slab, unsigned, cls, unsigned, blocks,
        unsigned, owner),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(slab, slab) HKTP_U16(cls, cls)
        HKTP_U32(blocks, blocks) HKTP_U32(owner, owner)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, remote_push, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, remote_drain,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, slab, unsigned, cls, unsigned, blocks),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(slab, slab) HKTP_U16(cls, cls)
        HKTP_U32(blocks, blocks)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, remote_drain, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, slab_owner,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, slab, unsigned, cls, unsigned, used),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(slab, slab) HKTP_U16(cls, cls)
        HKTP_U32(used, used)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, slab_owner, hakmem, slab_orphan,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, slab, unsigned, cls, unsigned, used))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, slab_orphan, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, slab_owner, hakmem, slab_adopt,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, slab, unsigned, cls, unsigned, used))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, slab_adopt, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Mid and L2.5 pools --------------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, pool_refill,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, size_t, size, unsigned, blocks),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U16(cls, cls) HKTP_U64(size, size)
        HKTP_U32(blocks, blocks)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, pool_refill, hakmem, mid_refill,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, size_t, size, unsigned, blocks))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, mid_refill, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, pool_refill, hakmem, l25_refill,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, cls, size_t, size, unsigned, blocks))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, l25_refill, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Large and BigCache --------------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, span,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ptr, ptr) HKTP_U64(size, size)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, span, hakmem, large_map,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, large_map, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, span, hakmem, large_unmap,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, large_unmap, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, span, hakmem, bigcache_hit,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, bigcache_hit, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, bigcache_miss,
    LTTNG_UST_TP_ARGS(uint64_t, seq, size_t, size),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U64(size, size)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, bigcache_miss, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Locks (lock.h) -------------------------------------------------- */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, lock_wait,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, id, const char *, name, uint64_t, wait_ns,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U32(lock, id)
        lttng_ust_field_string(name, name)
        HKTP_U64(wait_ns, wait_ns) HKTP_PTR(caller, caller)))
/* lock_contended: before blocking; owner = kernel tid of the thread
 * holding the lock (0 when unknown: its acquisition was not timed), so a
 * report can charge the wait to the holder's call site. */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, lock_contended,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, id, const char *, name, unsigned, owner,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U32(lock, id)
        lttng_ust_field_string(name, name)
        HKTP_U32(owner, owner) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lock_contended, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, lock_wait, hakmem, lock_acquired,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, id, const char *, name, uint64_t, wait_ns,
        const void *, caller))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lock_acquired, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, lock_released,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, id, const char *, name, uint64_t, hold_ns,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U32(lock, id)
        lttng_ust_field_string(name, name)
        HKTP_U64(hold_ns, hold_ns) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lock_released, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* lock_stack (HAKMEM_LOCK_STACKS=1): the call stack of one acquisition,
 * innermost first, stack[0] being the acquire call site; emitted on the
 * same thread just before that acquisition's lock_acquired
 * (docs/howto-locks.md). */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, lock_stack,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, id, const uint64_t *, frames, unsigned, depth),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U32(lock, id)
        lttng_ust_field_sequence_hex(uint64_t, stack, frames, uint16_t, depth)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, lock_stack, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* ---- Replay set (INFO) ---------------------------------------------- */
/* malloc: after it succeeded; cls is the size class that served it
 * (docs/events.md).  free: before the block is released; size is the
 * block's usable size. */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, alloc_op,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size, unsigned, cls,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ptr, ptr) HKTP_U64(size, size)
        HKTP_U16(cls, cls) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, alloc_op, hakmem, malloc,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size, unsigned, cls,
        const void *, caller))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, malloc, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, alloc_op, hakmem, free,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, size, unsigned, cls,
        const void *, caller))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, free, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, calloc,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, nmemb, size_t, size,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ptr, ptr) HKTP_U64(nmemb, nmemb)
        HKTP_U64(size, size) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, calloc, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* realloc: one event per call, old and new pointer (equal when resized in
 * place; ptr 0 when it failed, old_ptr 0 when it acted as malloc). */
LTTNG_UST_TRACEPOINT_EVENT(hakmem, realloc,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, old_ptr, const void *, ptr, size_t, size,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(old_ptr, old_ptr) HKTP_PTR(ptr, ptr)
        HKTP_U64(size, size) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, realloc, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

LTTNG_UST_TRACEPOINT_EVENT(hakmem, memalign,
    LTTNG_UST_TP_ARGS(uint64_t, seq, const void *, ptr, size_t, align, size_t, size,
        const void *, caller),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_PTR(ptr, ptr) HKTP_U64(align, align)
        HKTP_U64(size, size) HKTP_PTR(caller, caller)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, memalign, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

LTTNG_UST_TRACEPOINT_EVENT_CLASS(hakmem, thread_op,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, tid),
    LTTNG_UST_TP_FIELDS(HKTP_SEQ HKTP_U32(tid, tid)))
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, thread_op, hakmem, thread_start,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, tid))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, thread_start, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(hakmem, thread_op, hakmem, thread_exit,
    LTTNG_UST_TP_ARGS(uint64_t, seq, unsigned, tid))
LTTNG_UST_TRACEPOINT_LOGLEVEL(hakmem, thread_exit, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

#endif /* HAKMEM_TP_PROVIDER_H */

#include <lttng/tracepoint-event.h>
