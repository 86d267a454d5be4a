/* hkf.h - the .hkr replay file: records, writer and validating reader.
 *
 * Owns the on-disk format described in docs/replay-format.md: a 16-byte
 * preamble (magic, version), then blocks (tag, u32 length, payload,
 * CRC-32C): event blocks 'E', one thread table 'T', one summary 'S' that
 * ends the file.  Events are varint-coded; new objects take the next dense
 * id implicitly, references to existing objects are coded as a distance
 * back from the newest id.
 *
 * Invariants the reader enforces before anyone sees an event (so the
 * replayer can index its tables without further checks): every block's
 * CRC, every varint's length, counts bounded by the file size, thread
 * ids < n_threads, object references < the next id, caller indexes <=
 * callers defined so far, per-block and per-file totals equal to what the
 * summary and thread table say.  A file failing any of them gets a
 * one-line message naming the offset and what was wrong.
 *
 * Prefix hkf_ (the trace reader library owns hkr_).
 */
#ifndef HKREPLAY_HKF_H
#define HKREPLAY_HKF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HKF_MAGIC        "\x89HKR\r\n\x1a\n"
#define HKF_VERSION_MAJOR 1
#define HKF_VERSION_MINOR 0
#define HKF_PREAMBLE     16
#define HKF_BLOCK_MAX    (16u << 20)   /* payload bytes per block */
#define HKF_MAX_THREADS  (1u << 20)
#define HKF_NOOBJ        UINT32_MAX

/* Operation kinds (low nibble of an event's first byte). */
enum hkf_kind {
    HKF_MALLOC = 1, HKF_CALLOC, HKF_REALLOC, HKF_MEMALIGN, HKF_FREE,
    HKF_THREAD_START, HKF_THREAD_EXIT,
    HKF_KIND_MAX = HKF_THREAD_EXIT
};

/* Record flags (also the high-nibble bits in the file). */
#define HKF_FAILED   0x20u  /* the recorded call returned NULL/an error    */
#define HKF_VARIANT  0x40u  /* realloc: old pointer NULL (creates object);
                               memalign: it was posix_memalign            */
/* file-only bits */
#define HKF_EV_THREAD 0x10u /* a thread index follows                     */
#define HKF_EV_CALLER 0x80u /* a caller reference follows                 */

enum hkf_source { HKF_SRC_UNKNOWN = 0, HKF_SRC_HAKMEM = 1, HKF_SRC_LIBC = 2,
                  HKF_SRC_SYNTHETIC = 3 };

/* One event.  Object ids are dense, in creation order.  A realloc that
 * returned a block ends the old object (ref) and creates a new one (obj):
 * a later free of the stale pointer is then a free of a dead object, as
 * it was in the traced program. */
struct hkf_rec {
    uint64_t index;    /* position in the file, 0-based                   */
    int64_t  ts;       /* ns since the summary's t_first                  */
    uint64_t size;     /* bytes (calloc: element size)                    */
    uint64_t arg;      /* calloc: nmemb; memalign: alignment; else 0      */
    uint64_t caller;   /* return address in the traced program, 0 unknown */
    uint32_t ref;      /* existing object operated on, or HKF_NOOBJ       */
    uint32_t obj;      /* object created, or HKF_NOOBJ                    */
    uint32_t thread;   /* replay thread index                             */
    uint8_t  kind;     /* enum hkf_kind                                   */
    uint8_t  flags;    /* HKF_FAILED | HKF_VARIANT                        */
};

/* Does r create an object (obj is then the next dense id)? */
static inline int hkf_creates(const struct hkf_rec *r)
{
    if (r->flags & HKF_FAILED) return 0;
    return r->kind >= HKF_MALLOC && r->kind <= HKF_MEMALIGN;
}

/* Does r operate on an existing object (free, realloc of a pointer)? */
static inline int hkf_refers(const struct hkf_rec *r)
{
    return r->kind == HKF_FREE || (r->kind == HKF_REALLOC && !(r->flags & HKF_VARIANT));
}

/* Does r end ref's life?  free, and realloc unless it failed (a failed
 * realloc leaves the block alone; realloc(p, 0) returning NULL freed p). */
static inline int hkf_ends(const struct hkf_rec *r)
{
    if (r->kind == HKF_FREE) return 1;
    if (r->kind != HKF_REALLOC || (r->flags & HKF_VARIANT)) return 0;
    return !((r->flags & HKF_FAILED) && r->size != 0);
}

/* Requested bytes of a creating op (calloc saturates). */
static inline uint64_t hkf_bytes(const struct hkf_rec *r)
{
    if (r->kind == HKF_CALLOC) {
        uint64_t b;
        return __builtin_mul_overflow(r->size, r->arg, &b) ? UINT64_MAX : b;
    }
    return r->size;
}

const char *hkf_kind_name(unsigned kind);    /* "malloc", "thread_exit" */
const char *hkf_source_name(unsigned src);

/* Counters kept by convert (what it found and how it coded it). */
struct hkf_anomalies {
    uint64_t dead_ops;      /* free/realloc of a freed object (kept)         */
    uint64_t unknown_frees; /* free/realloc of a never-seen pointer (dropped) */
    uint64_t live_returns;  /* a pointer returned while still live            */
    uint64_t lost_events;   /* events lost (only with --allow-gaps)          */
};

struct hkf_thread {
    int64_t  vpid, vtid;    /* -1 unknown                                 */
    uint64_t events;
    uint32_t flags;         /* HKF_TH_*                                   */
};
#define HKF_TH_STARTED 1u   /* a thread_start event was recorded          */
#define HKF_TH_EXITED  2u   /* a thread_exit event was recorded           */

struct hkf_summary {
    uint64_t n_events, n_objects, n_threads, n_callers, n_blocks;
    uint64_t source;
    int64_t  t_first_ns, t_last_ns;  /* absolute (trace clock), 0 unknown */
    struct hkf_anomalies an;
};

/* ---- writer --------------------------------------------------------- */
struct hkf_writer;

/* Creates PATH.tmp; hkf_writer_close renames it to PATH. */
struct hkf_writer *hkf_writer_open(const char *path, unsigned source, char *err, size_t errlen);
/* Thread index for a new replay thread (dense, in call order). */
int hkf_writer_thread(struct hkf_writer *w, int64_t vpid, int64_t vtid, uint32_t *idx);
/* Append r (index ignored; obj of a creating op must be the next id;
 * ts absolute in the trace clock, non-decreasing: earlier values are
 * clamped). */
int hkf_writer_add(struct hkf_writer *w, const struct hkf_rec *r, int64_t abs_ts);
uint64_t hkf_writer_events(const struct hkf_writer *w);
uint32_t hkf_writer_next_obj(const struct hkf_writer *w);
void hkf_writer_set_source(struct hkf_writer *w, unsigned source);
uint32_t hkf_writer_threads_count(const struct hkf_writer *w);
/* Thread table, summary, rename.  Returns 0, or -1 (hkf_writer_error);
 * either way the writer is then released with hkf_writer_free (success)
 * or hkf_writer_abort (failure: removes the temporary file). */
int hkf_writer_close(struct hkf_writer *w, const struct hkf_anomalies *an,
                     uint64_t *bytes_out);
void hkf_writer_free(struct hkf_writer *w);
void hkf_writer_abort(struct hkf_writer *w);
const char *hkf_writer_error(const struct hkf_writer *w);

/* ---- reader --------------------------------------------------------- */
struct hkf_file {
    int                fd;
    const uint8_t     *map;
    size_t             len;
    struct hkf_summary sum;
    struct hkf_thread *threads;   /* n_threads (mmap)                     */
    uint64_t          *callers;   /* n_callers, filled while decoding     */
    const uint8_t    **blocks;    /* payload start of each 'E' block      */
    uint32_t          *block_len;
    uint64_t           n_blocks;
    uint16_t           ver_major, ver_minor;
};

/* Map and validate the whole file (structure, CRCs, every event).
 * Returns 0, or -1 with a one-line message in err. */
int  hkf_open(const char *path, struct hkf_file *f, char *err, size_t errlen);
void hkf_close(struct hkf_file *f);

/* Sequential decoding (no allocation: usable in a signal handler). */
struct hkf_iter {
    const struct hkf_file *f;
    uint64_t blk;          /* next block to open                     */
    const uint8_t *p, *end;
    uint64_t left;         /* events left in the current block       */
    uint64_t index;        /* index of the next event                */
    uint64_t next_obj;
    uint64_t n_callers;
    int64_t  ts;
    uint32_t thread;
    const char *err;       /* set when hkf_next returns -1           */
    size_t   err_off;      /* file offset of the problem             */
};
void hkf_iter_init(struct hkf_iter *it, const struct hkf_file *f);
/* 1: *r filled; 0: end; -1: corrupt (it->err, it->err_off). */
int  hkf_next(struct hkf_iter *it, struct hkf_rec *r);

/* ---- codec (hkf_codec.c) -------------------------------------------- */
uint32_t hkf_crc32c(uint32_t crc, const void *buf, size_t n);

static inline size_t hkf_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decode a varint from [*pp, end): 0 and *pp advanced, or -1 (truncated,
 * longer than 10 bytes, or more than 64 bits). */
static inline int hkf_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) { *out = *p; *pp = p + 1; return 0; }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = v; *pp = p; return 0; }
    }
    return -1;
}

static inline uint32_t hkf_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void hkf_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

#endif
