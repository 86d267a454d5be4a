/* lockstat.h - hakmem-lockstat's shared types.
 *
 * Data flow:
 *   trace.c    reads a trace directory with the reader library (trace/
 *              reader.h): lock events are copied into an array, loss is
 *              checked;
 *   auxpass.c  reads it again (only when the first pass saw them) for what
 *              the reader does not decode: the statedump's object base
 *              addresses and lock_stack call stacks;
 *   aggregate.c turns the events into per-lock and per-site figures;
 *   live.c     fills the same per-lock figures from a live process's
 *              stats segment (two samples of trace/stats_reader.h's
 *              sampler, figured as hakmem-top figures them);
 *   addrspace.c + elfsym.c symbolize addresses (statedump or
 *              /proc/PID/maps, then the objects' ELF symbol tables);
 *   report.c / json.c / folded.c print.
 */
#ifndef HAKMEM_LOCKSTAT_H
#define HAKMEM_LOCKSTAT_H

#include "stats_reader.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LS_NAME 64               /* lock names are shorter (HKS_LOCK_NAME) */
#define LS_MAX_FRAMES 64         /* frames kept per stack                  */

/* ---- small utilities (util.c) --------------------------------------- */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* Grow *v (element size `size`) so that it holds at least `need`. */
void  grow(void **v, size_t *cap, size_t need, size_t size);
uint64_t hash64(uint64_t x);
/* Copy s into out (n bytes) with anything not printable ASCII as '?'. */
void  printable(char *out, size_t n, const char *s);
extern const char *progname;

/* ---- stacks (stacks.c): interned address sequences, per process ----- */
typedef struct ls_stack {
    uint32_t proc;               /* index into the process table           */
    uint32_t depth;
    uint64_t pc[];               /* innermost first; pc[0] = call site     */
} ls_stack;

typedef struct ls_stacks ls_stacks;
ls_stacks *stacks_new(void);
void       stacks_free(ls_stacks *t);
/* Intern a stack: returns its id (0, 1, 2...). */
uint32_t   stacks_intern(ls_stacks *t, uint32_t proc, const uint64_t *pc, uint32_t depth);
const ls_stack *stacks_get(const ls_stacks *t, uint32_t id);
uint32_t   stacks_count(const ls_stacks *t);

/* ---- processes and symbols (addrspace.c, elfsym.c) ----------------- */
typedef struct ls_sym {
    const char *function;        /* NULL when unknown                      */
    uint64_t    offset;          /* from the function (or object) start    */
    const char *object;          /* path, NULL when unknown                */
} ls_sym;

typedef struct ls_procs ls_procs;
ls_procs *procs_new(void);
void      procs_free(ls_procs *p);
/* Index of a vpid (-1 = unknown process), created on first use. */
uint32_t  procs_index(ls_procs *p, int64_t vpid);
int64_t   procs_vpid(const ls_procs *p, uint32_t idx);
uint32_t  procs_count(const ls_procs *p);
/* A statedump/dlopen record: object `path` loaded at [baddr, baddr+memsz). */
void      procs_add_object(ls_procs *p, int64_t vpid, uint64_t baddr, uint64_t memsz,
                           const char *path, int is_pic);
void      procs_add_build_id(ls_procs *p, int64_t vpid, uint64_t baddr,
                             const uint8_t *id, size_t len);
/* A lock event of process idx at ts_ns (0: no clock): marks it reported
 * and keeps its first event time (for the /proc fallback). */
void      procs_seen(ls_procs *p, uint32_t idx, int64_t ts_ns);
/* Resolve the address spaces: statedump where recorded, else the
 * /proc/PID/maps of a process that still runs and started before the
 * trace.  Returns a one-word summary: "statedump", "proc-maps", "mixed",
 * "none". */
const char *procs_resolve(ls_procs *p, int verbose);
/* Symbolize a return address (looked up at pc - 1) of process idx. */
void      procs_symbolize(ls_procs *p, uint32_t idx, uint64_t pc, ls_sym *out);
/* Objects whose file on disk has another build id than the traced one
 * (rebuilt since): their frames keep object+offset only.  Valid after
 * symbolization; returns the count, *paths[i] valid until procs_free. */
size_t    procs_changed_objects(const ls_procs *p, const char ***paths);

/* ELF objects (elfsym.c). */
typedef struct ls_elf ls_elf;
/* Open (cached by path); NULL when unreadable or not an ELF object. */
ls_elf   *elf_get(const char *path);
void      elf_cache_free(void);
/* Lowest PT_LOAD p_vaddr (aligned down to the page). */
uint64_t  elf_first_vaddr(const ls_elf *e);
/* File offset -> link-time virtual address; 0 on success. */
int       elf_offset_to_vaddr(const ls_elf *e, uint64_t off, uint64_t *vaddr);
/* Build id, or len 0. */
const uint8_t *elf_build_id(const ls_elf *e, size_t *len);
/* Function containing vaddr, or NULL; *off = vaddr - symbol start. */
const char *elf_lookup(ls_elf *e, uint64_t vaddr, uint64_t *off);

/* ---- figures -------------------------------------------------------- */
typedef struct ls_site {
    uint32_t stack;              /* stacks id                              */
    uint64_t acquisitions, contended, wait_ns, wait_max_ns;   /* waiter  */
    uint64_t holds, hold_ns, hold_max_ns, blocked;            /* holder  */
} ls_site;

typedef struct ls_lock {
    char     name[LS_NAME];
    uint32_t id;                 /* as recorded (may differ per process)   */
    /* Counters (trace: aggregated; live: the segment's, as hakmem-top
     * reads them); rates only in live mode over the sampling interval. */
    hkss_lock_figures fig;
    int      have_rate;
    /* trace mode: sites keyed by stack id (open addressing) */
    ls_site *sites;
    size_t   nsites, sites_cap;
    uint32_t *site_tab;          /* index + 1, 0 = empty                   */
    size_t   site_tab_cap;
    uint64_t unattributed;       /* contentions with no holder found       */
    /* aggregation state */
    int64_t  last_owner_proc, last_owner_tid;
} ls_lock;

typedef struct ls_report {
    int       live;              /* 1: -p PID or --segment, 0: trace       */
    /* trace */
    const char *trace_dir;
    uint64_t  events, lock_events, stack_events;
    uint64_t  lost_events, gaps;
    const char *symbols;         /* procs_resolve's summary                */
    int64_t  *pids;              /* processes with lock events (vpids)     */
    size_t    npids;
    const char **changed;        /* procs_changed_objects                  */
    size_t    nchanged;
    /* live */
    int64_t   pid;
    char      command[128];
    double    interval_s;        /* 0: one sample                          */
    int       exited;            /* the process exited while sampled       */
    /* both */
    ls_lock  *locks;
    size_t    nlocks, locks_cap;
    ls_stacks *stacks;
    ls_procs  *procs;
} ls_report;

ls_lock *report_lock(ls_report *r, const char *name, uint32_t id);
ls_site *lock_site(ls_lock *l, uint32_t stack);
void     report_free(ls_report *r);
/* Sort locks by total wait (then acquisitions, name) and sites. */
void     report_sort(ls_report *r);
/* Symbolize every frame of every site (fills the caches, finds changed
 * objects) before printing. */
void     report_symbolize(ls_report *r);
/* The sites that have waiter rows (hold = 0) or holder rows (hold = 1),
 * by wait or hold; a malloc'ed array of *n pointers. */
ls_site **lock_sites_sorted(const ls_lock *l, int hold, size_t *n);

/* ---- sources -------------------------------------------------------- */
typedef struct ls_opts {
    const char *trace_dir;
    long        pid;             /* -p, 0 = none                           */
    const char *segment;         /* --segment FILE                         */
    double      delay;           /* -d, live sampling interval             */
    int         json, folded;
    int         top;             /* sites shown per table in text          */
    int         depth;           /* frames shown per site in text          */
    int         allow_gaps;
    int         verbose;
    long        vpid;            /* --vpid filter, 0 = all                 */
    enum { W_WAIT, W_HOLD, W_ACQ, W_CONT } weight;
} ls_opts;

/* Each returns 0, or 1 after printing a one-line error. */
int trace_load(const ls_opts *o, ls_report *r);
int live_load(const ls_opts *o, ls_report *r);

/* auxpass.c: statedump objects and lock_stack events.  The callback gets
 * each lock_stack: (vpid, vtid, seq, ts, lock id, frames, depth).  Returns
 * 0, or -1 with a one-line message in err (HKR_ERRLEN bytes, reader.h). */
typedef void (*aux_stack_fn)(void *arg, int64_t vpid, int64_t vtid, uint64_t seq,
                             int64_t ts, uint32_t lock, const uint64_t *pc, uint32_t depth);
int aux_read(const char *dir, ls_procs *procs, aux_stack_fn fn, void *arg, char *err);

/* ---- output --------------------------------------------------------- */
void print_text(FILE *f, ls_report *r, const ls_opts *o);
void print_json(FILE *f, ls_report *r, const ls_opts *o);
void print_folded(FILE *f, ls_report *r, const ls_opts *o);
/* "1.23ms" */
const char *fmt_ns(char *buf, size_t n, double ns);
/* Symbolized frame as "func+0x1f (libx.so)" or "0x7f12... (libx.so)". */
const char *fmt_frame(char *buf, size_t n, const ls_sym *s, uint64_t pc);

#endif
