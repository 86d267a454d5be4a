/* stats_reader.h - a validated reader of hakmem stats segments, shared by
 * hakmem-top, hakmem-lockstat and the tests.
 *
 * Owns: finding the segments of processes (/proc/PID/fd links to
 * "/memfd:hakmem-stats"), attaching to one read-only, validating every
 * size, offset and count of its header before use, summing its blocks
 * into a snapshot, and successive samples with the rates between them
 * (hkss_sampler, per-lock figures).  The segment is written by the observed process,
 * which may be compromised, so:
 *   - the header is copied once and validated; only the copy's geometry is
 *     used afterwards (the writer cannot move a section under us);
 *   - a live segment is mapped only if it is sealed against shrinking (no
 *     SIGBUS) and owned by the target process's uid (and by ours unless we
 *     are root); a segment from a file is read into private memory;
 *   - every word is loaded once (64-bit, atomically) and only used as a
 *     value, strings are NUL-terminated and made printable here.
 * Errors: every function returns an HKSS_* status and writes a one-line
 * message (no trailing newline) into err.
 */
#ifndef HAKMEM_STATS_READER_H
#define HAKMEM_STATS_READER_H

#include "hakmem_stats.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum hkss_status {
    HKSS_OK = 0,
    HKSS_ENOPROC,    /* no such process                                    */
    HKSS_ENOSEG,     /* the process has no hakmem segment                   */
    HKSS_EPERM,      /* another user's process or segment                   */
    HKSS_EVERSION,   /* an ABI version this reader does not know            */
    HKSS_ECORRUPT,   /* a header that fails validation                      */
    HKSS_EIO,        /* a system call failed                                */
    HKSS_ENOMEM,
};

#define HKSS_MAX_SEGMENT   (64u << 20)   /* larger segments are refused     */
#define HKSS_MAX_LOCKS     4096u
#define HKSS_ERRLEN        256

/* The validated, static part of a header. */
typedef struct hkss_info {
    uint32_t pid;
    uint32_t uid;
    uint32_t abi_version;
    uint64_t start_time_ns;          /* CLOCK_REALTIME                     */
    uint64_t total_size;
    uint32_t class_size[HKS_TINY_CLASSES];
    uint32_t ultrahot_mask;
    uint32_t tier_max[HKS_TIERS];
    uint32_t thread_capacity;
    uint32_t lock_count;
    char     cmdline[HKS_CMDLINE];   /* printable, NUL-terminated          */
} hkss_info;

typedef struct hkss_thread {
    uint32_t   index;                /* block index in the segment         */
    hks_thread c;                    /* copy (state, tid, os_tid, counts)  */
} hkss_thread;

typedef struct hkss_lock {
    char     name[HKS_LOCK_NAME];    /* printable, NUL-terminated          */
    hks_lock c;                      /* copy (c.name is not to be used)    */
} hkss_lock;

typedef struct hkss_snapshot {
    uint64_t    mono_ns;             /* when it was taken (CLOCK_MONOTONIC) */
    uint64_t    real_ns;             /* ... (CLOCK_REALTIME)               */
    hks_global  global;
    hks_thread  sum;                 /* live + retired + shared blocks     */
    hks_thread  retired;             /* block 0                            */
    hks_thread  shared;              /* block 1                            */
    hkss_thread *threads;             /* live blocks, by index              */
    uint32_t    nthreads, threads_alloc;
    hkss_lock   *locks;               /* records in use                     */
    uint32_t    nlocks, locks_alloc;
    uint64_t    threads_overflow;    /* live threads not in the segment    */
    int         consistent;          /* no fold raced with the sum         */
    uint32_t    bad_blocks;          /* blocks with an unknown state       */
} hkss_snapshot;

typedef struct hkss_segment hkss_segment;

/* Attach to the segment of a live process. */
int  hkss_open_pid(pid_t pid, hkss_segment **out, char *err, size_t errlen);
/* Read a segment saved in a file (cp /proc/PID/fd/N FILE), or held in
 * memory (fuzzing).  Both are copied: later changes are not seen. */
int  hkss_open_file(const char *path, hkss_segment **out, char *err, size_t errlen);
int  hkss_open_buffer(const void *buf, size_t len, hkss_segment **out, char *err, size_t errlen);
const hkss_info *hkss_info_of(const hkss_segment *s);
/* "/proc/PID/fd/N" or the file name. */
const char *hkss_path_of(const hkss_segment *s);
/* Take a snapshot (reuses snap's arrays; zero-initialise snap first). */
int  hkss_read(hkss_segment *s, hkss_snapshot *snap, char *err, size_t errlen);
/* 1 while the process runs, 0 once it has exited, -1 for a file. */
int  hkss_alive(hkss_segment *s);
void hkss_close(hkss_segment *s);
void hkss_snapshot_free(hkss_snapshot *snap);

/* Pids of the processes that have a hakmem segment we may read (sorted). */
int  hkss_list(pid_t **pids, size_t *n, char *err, size_t errlen);
/* /proc/PID/comm, printable; "?" when unreadable. */
void hkss_proc_comm(pid_t pid, char *buf, size_t n);
/* Resident set size in bytes, 0 when unknown. */
uint64_t hkss_proc_rss(pid_t pid);

/* ---- derived figures (docs/counters.md) ------------------------------ */
static inline uint64_t hkss_class_allocs(const hks_class *c) {
    return c->uh_hits + c->sll_hits + c->sll_misses;
}
static inline uint64_t hkss_sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
static inline uint64_t hkss_class_live(const hks_class *c) {
    return hkss_sub0(hkss_class_allocs(c), c->frees);
}
static inline uint64_t hkss_class_slabs(const hks_class *c) {
    return hkss_sub0(c->slabs_acquired, c->slabs_released);
}
/* Percent, or -1 when there were no events. */
static inline double hkss_pct(uint64_t part, uint64_t whole) {
    return whole ? 100.0 * (double)part / (double)whole : -1.0;
}
/* Bytes held by users and thread caches, all tiers. */
uint64_t hkss_live_bytes(const hkss_info *info, const hks_thread *sum);

/* ---- successive samples (hakmem-top, hakmem-lockstat -p) -------------
 * A sampler holds a segment and its last two snapshots; a rate is the
 * difference between them over the time between them. */
typedef struct hkss_sampler {
    hkss_segment *seg;
    pid_t         pid;          /* 0 for a file                           */
    hkss_snapshot cur, prev;    /* the last sample and the one before it  */
    int           have_prev;    /* prev holds a sample                    */
    long          samples;      /* taken so far                           */
} hkss_sampler;

/* Attach to the segment of process pid, or read the saved segment `file`
 * when it is not NULL. */
int    hkss_sampler_open(hkss_sampler *s, pid_t pid, const char *file, char *err, size_t errlen);
/* Take a sample into cur; the one before moves to prev. */
int    hkss_sampler_next(hkss_sampler *s, char *err, size_t errlen);
/* Seconds from prev to cur; 0 before the second sample. */
double hkss_sampler_interval(const hkss_sampler *s);
void   hkss_sampler_close(hkss_sampler *s);

/* Per second over dt seconds: 0 when dt <= 0 or when the count did not
 * grow (one that goes backwards is a hostile writer's: never negative). */
static inline double hkss_rate(uint64_t cur, uint64_t prev, double dt) {
    if (dt <= 0 || cur <= prev) return 0;
    return (double)(cur - prev) / dt;
}

/* A lock's figures: the counters of its record, and their rates since
 * `prev` (the same lock in an earlier sample; NULL: since 0) over dt
 * seconds (0: no rates). */
typedef struct hkss_lock_figures {
    uint64_t acquisitions, contended, wait_ns, wait_max_ns;
    uint64_t hold_count, hold_ns, hold_max_ns, owner_switches;
    double   acq_rate, cont_rate, wait_rate, hold_rate;   /* per second */
} hkss_lock_figures;
void hkss_lock_figures_of(const hkss_lock *cur, const hkss_lock *prev, double dt,
                          hkss_lock_figures *out);
/* The first record of lock `id` in s, NULL when none. */
const hkss_lock *hkss_lock_by_id(const hkss_snapshot *s, uint32_t id);

/* Grow *arr (*alloc elements of elem bytes) to hold `need`: 0, or -1 when
 * out of memory (the snapshot's arrays and the tools' rows of them). */
int hkss_grow(void **arr, uint32_t *alloc, uint32_t need, size_t elem);

#endif
