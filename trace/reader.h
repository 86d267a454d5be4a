/* reader.h - the trace reader library (libhkreader.a) over libbabeltrace2.
 *
 * Reads an LTTng (CTF) trace directory in timestamp order and hands each
 * event to a callback as a decoded, flat struct: provider, event, time,
 * vpid/vtid and every payload field as an integer.  Used by hakmem-trace
 * (stat), hakmem-replay (convert) and hakmem-lockstat.
 *
 * Graph: source.ctf.fs (inputs = every directory below DIR that holds a
 * `metadata` file; babeltrace 2.0 does not search below the directory it
 * is given) -> filter.utils.muxer -> a simple sink.  Field member indexes
 * are resolved once per event class, so decoding an event is a few
 * indexed borrows (> 2 M events/s).
 *
 * Providers understood: `hakmem` (trace/hakmem_tp.h) and `lttng_ust_libc`
 * (liblttng-ust-libc-wrapper.so: programs traced with any allocator);
 * other events are delivered with id HKR_EV_OTHER and whatever fields
 * match known names.
 *
 * Loss: discarded-events and discarded-packets messages are reported
 * through their own callback (count, stream, time window); a per-thread
 * sequence checker (hkr_seq_*) finds which thread lost which events from
 * the `seq` field of hakmem events (two streams per thread: the replay
 * set and the rest).  Callers decide whether loss is fatal
 * (the tools refuse it unless --allow-gaps).
 *
 * Not thread-safe per reader; separate reads may run in separate threads.
 */
#ifndef HAKMEM_TRACE_READER_H
#define HAKMEM_TRACE_READER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hkr_provider {
    HKR_PROV_OTHER = 0,
    HKR_PROV_HAKMEM,       /* hakmem:*          */
    HKR_PROV_LIBC,         /* lttng_ust_libc:*  */
};

/* Known events.  The same id is used for both providers where the
 * operation is the same (hakmem:malloc and lttng_ust_libc:malloc are both
 * HKR_EV_MALLOC); check `provider` when it matters. */
#define HKR_EVENTS(X)                                                   \
    X(ULTRAHOT_HIT, ultrahot_hit) X(ULTRAHOT_MISS, ultrahot_miss)       \
    X(SLL_REFILL, sll_refill) X(SLL_DRAIN, sll_drain)                   \
    X(SP_ACQUIRE, sp_acquire) X(SP_RELEASE, sp_release)                 \
    X(SS_MAP, ss_map) X(SS_UNMAP, ss_unmap)                             \
    X(LRU_PUSH, lru_push) X(LRU_POP, lru_pop) X(LRU_EVICT, lru_evict)   \
    X(REMOTE_PUSH, remote_push) X(REMOTE_DRAIN, remote_drain)           \
    X(SLAB_ORPHAN, slab_orphan) X(SLAB_ADOPT, slab_adopt)               \
    X(MID_REFILL, mid_refill) X(L25_REFILL, l25_refill)                 \
    X(LARGE_MAP, large_map) X(LARGE_UNMAP, large_unmap)                 \
    X(BIGCACHE_HIT, bigcache_hit) X(BIGCACHE_MISS, bigcache_miss)       \
    X(LOCK_CONTENDED, lock_contended) X(LOCK_ACQUIRED, lock_acquired)   \
    X(LOCK_RELEASED, lock_released)                                     \
    X(MALLOC, malloc) X(FREE, free) X(CALLOC, calloc)                   \
    X(REALLOC, realloc) X(MEMALIGN, memalign)                           \
    X(POSIX_MEMALIGN, posix_memalign)                                   \
    X(THREAD_START, thread_start) X(THREAD_EXIT, thread_exit)

enum hkr_event_id {
    HKR_EV_OTHER = 0,
#define HKR_X_(id, name) HKR_EV_##id,
    HKR_EVENTS(HKR_X_)
#undef HKR_X_
    HKR_EV_COUNT
};

/* Integer fields, by CTF field name.  A field present in the event sets
 * bit (1 << HKR_F_x) in `has`.  Aliases: lttng_ust_libc's in_ptr ->
 * old_ptr, out_ptr -> ptr, alignment -> align; the `ip` context ->
 * caller (a `caller` payload field wins). */
#define HKR_FIELDS(X)                                                   \
    X(SEQ, seq) X(PTR, ptr) X(OLD_PTR, old_ptr) X(SIZE, size)           \
    X(NMEMB, nmemb) X(ALIGN, align) X(CLS, cls) X(CALLER, caller)       \
    X(STAGE, stage) X(BLOCKS, blocks) X(CAP, cap) X(REASON, reason)     \
    X(SLAB, slab) X(SS, ss) X(FROM_LRU, from_lru) X(COUNT, count)       \
    X(OWNER, owner) X(USED, used) X(LOCK, lock) X(WAIT_NS, wait_ns)     \
    X(HOLD_NS, hold_ns) X(TID, tid) X(RESULT, result)

enum hkr_field {
#define HKR_X_(id, name) HKR_F_##id,
    HKR_FIELDS(HKR_X_)
#undef HKR_X_
    HKR_F_NINT,                 /* number of integer slots */
    /* not integer slots, but flagged in `has` too */
    HKR_F_VPID = HKR_F_NINT, HKR_F_VTID, HKR_F_TS, HKR_F_LOCK_NAME,
};

#define HKR_HAS(ev, f) (((ev)->has >> HKR_F_##f) & 1u)

struct hkr_event {
    enum hkr_provider  provider;
    enum hkr_event_id  id;
    const char        *name;       /* without provider: "malloc"         */
    const char        *full_name;  /* as recorded: "hakmem:malloc"       */
    uint64_t           index;      /* 0, 1, 2... in delivery order       */
    int64_t            ts_ns;      /* ns from the clock's origin (epoch)  */
    int64_t            vpid, vtid; /* -1 when the trace has no context   */
    uint32_t           has;        /* 1 << HKR_F_x for each field present */
    /* Integer fields (0 when absent). */
    uint64_t seq, ptr, old_ptr, size, nmemb, align, cls, caller;
    uint64_t stage, blocks, cap, reason, slab, ss, from_lru, count;
    uint64_t owner, used, lock, wait_ns, hold_ns, tid, result;
    const char        *lock_name;  /* lock events; valid during the callback */
};

enum hkr_discard_kind { HKR_DISCARDED_EVENTS = 1, HKR_DISCARDED_PACKETS = 2 };

/* A discarded-events (ring buffer full) or discarded-packets (lost
 * sub-buffer) message: loss somewhere in `stream` between begin and end.
 * Counts are per stream (per CPU buffer), not per thread. */
struct hkr_discard {
    enum hkr_discard_kind kind;
    uint64_t    count;       /* 0 when unknown (has_count == 0)        */
    int         has_count;
    int         has_times;
    int64_t     begin_ns, end_ns;
    const char *stream_name; /* e.g. "channel0_1" (may be NULL)        */
    uint64_t    stream_id;
    const char *trace_name;  /* may be NULL                            */
};

/* Return 0 to continue, non-zero to stop reading (hkr_read then returns
 * that value). */
typedef int (*hkr_event_fn)(const struct hkr_event *ev, void *arg);
typedef int (*hkr_discard_fn)(const struct hkr_discard *d, void *arg);

struct hkr_callbacks {
    hkr_event_fn   event;      /* required                              */
    hkr_discard_fn discarded;  /* NULL: loss is only counted (hkr_stats) */
    void          *arg;
};

struct hkr_stats {
    uint64_t events;            /* delivered to the callback          */
    uint64_t discarded_events;  /* sum of known discarded counts      */
    uint64_t discard_messages;  /* discarded-events messages          */
    uint64_t discarded_packets; /* sum of discarded-packets counts    */
    unsigned traces;            /* directories with a metadata file   */
};

#define HKR_ERRLEN 512

/* Read every trace below `dir`.  Returns 0 when the whole trace was read,
 * the callback's non-zero value when a callback stopped it, or -1 on error
 * with a one-line message in errbuf ("DIR: no LTTng trace below it",
 * "DIR: cannot read trace: <babeltrace's cause>").  stats may be NULL.
 * The input is hostile: metadata and index framing is checked first, and
 * babeltrace2 decodes in a child process (fork; the callbacks run in the
 * caller's), so its crashes, runaway allocations and start-up hangs on a
 * damaged trace are errors too ("babeltrace2 crashed (signal N...)"). */
int hkr_read(const char *dir, const struct hkr_callbacks *cb,
             struct hkr_stats *stats, char errbuf[HKR_ERRLEN]);

/* For what the decoder above does not give (strings other than lock names,
 * sequences): every babeltrace2 message (bt_message, of any type) of the
 * traces below `dir`, through the same graph, handed to fn in this
 * process, with no framing check and no child process.  Only for a trace
 * that hkr_read has just read to the end without an error: babeltrace2
 * then decodes the same bytes the same way.  fn returns 0 to continue.
 * Returns as hkr_read. */
struct bt_message;
typedef int (*hkr_message_fn)(const struct bt_message *msg, void *arg);
int hkr_read_messages(const char *dir, hkr_message_fn fn, void *arg, char errbuf[HKR_ERRLEN]);

/* The directories below `dir` holding a CTF `metadata` file, sorted.
 * Returns their number (0: none) or -1 (errno set, message in errbuf).
 * *out is a malloc'ed array of malloc'ed strings (hkr_free_dirs). */
int  hkr_find_traces(const char *dir, char ***out, char errbuf[HKR_ERRLEN]);
void hkr_free_dirs(char **dirs, int n);

/* Names for printing. */
const char *hkr_event_name(enum hkr_event_id id);   /* "malloc", "other" */
const char *hkr_field_name(enum hkr_field f);       /* "old_ptr"         */
const char *hkr_provider_name(enum hkr_provider p); /* "hakmem"          */
/* Integer field f of ev (0 when absent). */
uint64_t    hkr_field(const struct hkr_event *ev, enum hkr_field f);

/* ---- per-thread sequence checker ------------------------------------
 * hakmem events carry `seq`, numbered per thread in two independent
 * streams, each dense (0, 1, 2...) by itself:
 *   HKR_SEQ_REPLAY  the replay set: hakmem malloc, free, calloc, realloc,
 *                   memalign, thread_start, thread_exit (loglevel INFO);
 *   HKR_SEQ_BOX     every other hakmem event: box and lock events
 *                   (DEBUG), lock_stack and names this reader does not
 *                   know (HKR_EV_OTHER).
 * LTTng enables an event in every program as soon as any session enables
 * it, so a session recording one set while another records the other
 * still sees its own stream dense.  A session recording only part of a
 * set (say hakmem:lock_* alone) sees that set's other events as gaps.
 * Traces from before the split (one counter for every event) show gaps in
 * both streams unless only one set was recorded.
 * Feed every event (events without a hakmem `seq` are ignored).  A thread
 * is (vpid, vtid), one entry for both streams; a `seq` of 0 in a stream
 * the entry has already seen starts a new entry (the kernel reused the
 * tid: the new thread's counters start at 0).  A stream's first recorded
 * seq may be above 0 (its events from before the session started, or
 * from before any session enabled them, are not in the trace); that is
 * not a gap. */
enum hkr_seq_stream {
    HKR_SEQ_REPLAY = 0,
    HKR_SEQ_BOX = 1,
    HKR_SEQ_STREAMS
};
/* The stream ev is numbered in, or -1 when ev is not a hakmem event with
 * a `seq` field. */
int hkr_seq_stream(const struct hkr_event *ev);
const char *hkr_seq_stream_name(int stream);        /* "replay", "box"    */

struct hkr_gap {
    int64_t  vpid, vtid;
    int      stream;            /* enum hkr_seq_stream                   */
    uint64_t expected, got;     /* got > expected: got - expected lost;
                                   got < expected: out of order/duplicate */
    int64_t  prev_ns, ts_ns;    /* the window the loss happened in
                                   (prev_ns: the stream's previous event) */
};

struct hkr_seq_span {           /* one stream of one thread              */
    uint64_t events;            /* 0: the stream was not seen            */
    uint64_t first_seq, last_seq;
    uint64_t gaps, lost;
    int64_t  first_ns, last_ns;
};

struct hkr_thread_seq {
    int64_t  vpid, vtid;
    uint64_t events;            /* both streams                          */
    uint64_t gaps, lost;        /* both streams: gap count, events missing */
    int64_t  first_ns, last_ns;
    struct hkr_seq_span stream[HKR_SEQ_STREAMS];
};

struct hkr_seq;
struct hkr_seq *hkr_seq_new(void);
void hkr_seq_free(struct hkr_seq *s);
/* Returns 1 and fills *gap (if non-NULL) when ev reveals a gap, else 0. */
int  hkr_seq_feed(struct hkr_seq *s, const struct hkr_event *ev, struct hkr_gap *gap);
/* Totals over all threads and both streams. */
uint64_t hkr_seq_gaps(const struct hkr_seq *s);
uint64_t hkr_seq_lost(const struct hkr_seq *s);
/* Threads seen, in first-seen order (a reused tid is a separate entry). */
size_t hkr_seq_threads(const struct hkr_seq *s, const struct hkr_thread_seq **out);

#ifdef __cplusplus
}
#endif

#endif
