/* top.h - hakmem-top: a top-like view of a process's hakmem counters.
 *
 * Files: main.c (options, modes), sample.c (snapshots -> rows with rates,
 * sorting), batch.c (text/CSV/JSON output), screen.c (the curses loop,
 * header, keys, prompts), classes.c / threads.c / locks.c (the three
 * views), list.c (processes that have a segment).
 * Everything read from a segment goes through trace/stats_reader.h, which
 * validates it; the figures here are derived from validated copies only.
 */
#ifndef HAKMEM_TOP_H
#define HAKMEM_TOP_H

#include "stats_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "0.0.0"
#endif

enum top_format { FMT_TEXT = 0, FMT_CSV = 1, FMT_JSON = 2 };
enum top_view_kind { VIEW_CLASSES = 0, VIEW_THREADS = 1, VIEW_LOCKS = 2 };

typedef struct top_opts {
    pid_t       pid;          /* 0: list processes                        */
    double      delay;        /* seconds between samples                  */
    int         batch;
    long        count;        /* samples to print; 0 = until the end      */
    int         format;
    int         sort;         /* column index of the classes view         */
    int         sort_reverse;
    const char *segment_file; /* --segment FILE                           */
} top_opts;

/* ---- rows ------------------------------------------------------------ */
#define TOP_ROWS (HKS_TINY_CLASSES + HKS_TIERS)   /* C0..C7, Mid, L2.5, Large */

typedef struct top_row {
    char     name[8];
    int      tier;            /* -1 for a tiny class, else HKS_TIER_*     */
    uint32_t size;            /* class size, tier's largest size, 0: Large */
    uint64_t allocs, frees, refills, drains, remote;
    double   alloc_rate, free_rate, refill_rate, drain_rate, remote_rate;
    double   uh_pct, sll_pct; /* -1: not applicable / no events           */
    uint64_t live_blocks, live_bytes, slabs;
} top_row;

typedef struct top_thread_row {
    uint32_t index, tid, os_tid;
    const char *label;        /* "retired", "shared" or NULL              */
    uint64_t allocs, frees;
    double   alloc_rate, free_rate, refill_rate, drain_rate, remote_rate, recv_rate;
    double   uh_pct, sll_pct;
    int64_t  net;             /* allocs - frees made by this thread       */
} top_thread_row;

typedef struct top_lock_row {
    char     name[HKS_LOCK_NAME];
    uint32_t id;
    hkss_lock_figures fig;    /* counters and rates                       */
    double   contended_pct;
} top_lock_row;

/* One sample turned into figures. */
typedef struct top_view {
    uint32_t pid;
    char     cmd[HKS_CMDLINE];
    double   time;            /* unix seconds                              */
    double   uptime;          /* seconds since the segment was created     */
    double   interval;        /* seconds the rates cover (0: none)         */
    long     sample;          /* 1, 2, ...                                 */
    uint64_t rss, live_bytes;
    uint64_t threads_live, threads_total, threads_overflow;
    top_row  rows[TOP_ROWS];
    hks_tier tier[HKS_TIERS]; /* raw tier counters (JSON "tiers")         */
    /* boxes */
    uint64_t ss_live, ss_map, ss_unmap, slots_unused, slots_active, slots_empty;
    uint64_t sp_stage[3], sp_release, slab_orphan, slab_adopt, inbox_recv;
    uint64_t lru_count, lru_bytes, lru_push, lru_pop, lru_evict;
    uint64_t os_map, os_unmap, os_map_bytes, os_unmap_bytes, committed, arena_base, arena_size;
    uint64_t large_live_bytes, bigcache_bytes;
    double   os_map_rate, os_unmap_rate;
    uint64_t lock_acq, lock_contended;
    double   lock_acq_rate, lock_contended_pct;
    int      consistent;
    /* views */
    top_thread_row *threads;
    uint32_t        nthreads, threads_alloc;
    top_lock_row   *locks;
    uint32_t        nlocks, locks_alloc;
} top_view;

/* ---- sample.c: views of a sampler's samples (stats_reader.h) ---------- */
/* hkss_sampler_open on -p PID or --segment FILE. */
int  sampler_open(hkss_sampler *s, const top_opts *o, char *err, size_t errlen);
/* Take a sample and build `v`.  Returns HKSS_OK or an error. */
int  sampler_next(hkss_sampler *s, top_view *v, char *err, size_t errlen);
void view_free(top_view *v);

/* Sort columns of the classes view. */
enum {
    COL_CLASS, COL_SIZE, COL_ALLOC, COL_FREE, COL_UH, COL_SLL, COL_REFILL, COL_DRAIN,
    COL_REMOTE, COL_LIVE, COL_BYTES, COL_SLABS, COL_COUNT
};
extern const char *const col_key[COL_COUNT];     /* -s names            */
extern const char *const col_title[COL_COUNT];   /* screen headings     */
int  col_parse(const char *key);                  /* -1 if unknown       */
/* Row order for display: indexes into v->rows. */
void sort_rows(const top_view *v, int col, int reverse, int order[TOP_ROWS]);
/* Threads view and locks view orders (by alloc/s, by wait). */
void sort_threads(top_view *v, int reverse);
void sort_locks(top_view *v, int reverse);

/* ---- formatting helpers (batch.c) ------------------------------------ */
/* "12.3M" style, into buf. */
const char *fmt_bytes(char *buf, size_t n, uint64_t v);
const char *fmt_count(char *buf, size_t n, double v);
const char *fmt_pct(char *buf, size_t n, double pct);
const char *fmt_uptime(char *buf, size_t n, double secs);

/* The classes table as text (shared by the screen and text batch). */
void row_header(char *buf, size_t n);
void row_format(char *buf, size_t n, const top_row *r);
/* The summary lines above the table: line 0..3, "" past the end. */
int  header_line(char *buf, size_t n, int line, const top_view *v);

/* ---- batch.c --------------------------------------------------------- */
int  batch_run(const top_opts *o);
int  batch_list(const top_opts *o);

/* ---- screen.c -------------------------------------------------------- */
int  screen_run(const top_opts *o);

/* ---- list.c ---------------------------------------------------------- */
typedef struct top_proc {
    pid_t    pid;
    char     comm[64];
    uint64_t rss, live_bytes, threads;
    int      readable;        /* its segment could be read                */
    char     note[HKSS_ERRLEN]; /* why not                                */
} top_proc;
/* Processes with a segment; returns count, -1 on error (err set). */
int  list_procs(top_proc **out, char *err, size_t errlen);

/* ---- views (curses) --------------------------------------------------
 * Each draws into lines [y0, y0 + rows) of the screen, `cols` wide;
 * `scroll` is the first row shown (clamped and written back). */
void classes_draw(int y0, int rows, int cols, const top_view *v, int sort, int reverse);
void threads_draw(int y0, int rows, int cols, top_view *v, int reverse, int *scroll);
void locks_draw(int y0, int rows, int cols, top_view *v, int reverse, int *scroll);
/* One line, truncated to cols and padded (curses helper, screen.c). */
void put_line(int y, int cols, int attr, const char *s);
/* The top of a view's table (screen.c): its title (bold) on line y0 and,
 * when rows > 1, its column heading (reverse) on y0 + 1.  With `scroll`,
 * clamps *scroll so that n table rows fill the lines below.  Returns the
 * lines left below the heading, or -1 when it did not fit. */
int  table_top(int y0, int rows, int cols, const char *title, const char *heading, uint32_t n,
               int *scroll);

#endif
