/* addrspace.c - the processes of a trace and their address spaces.
 *
 * Where an object was loaded comes from the trace itself when the capture
 * recorded LTTng-UST's base-address statedump (lttng_ust_statedump:
 * bin_info/build_id, lttng_ust_lib:load/build_id, lttng_ust_dl:dlopen):
 * LTTng records baddr = load bias + p_vaddr of the object's first PT_LOAD,
 * so a link-time address is pc - baddr + that p_vaddr (also right for
 * non-PIE executables, whose bias is 0).  A process of the trace without a
 * statedump is looked up in /proc only if a process with that pid runs now
 * and started no later than the trace's first event from it (else the pid
 * was reused and its maps would lie); its executable mappings give file
 * offsets, which the object's PT_LOAD headers turn into link-time
 * addresses.  Symbols then come from elfsym.c.
 */
#include "lockstat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OBJ_DUMP = 1, OBJ_MAPS = 2 };
enum { SRC_NONE = 0, SRC_DUMP = 1, SRC_MAPS = 2 };

typedef struct obj {
    int      kind;
    uint64_t lo, hi;             /* [lo, hi) in the process              */
    uint64_t file_off;           /* OBJ_MAPS: file offset at lo          */
    char    *path;
    uint8_t  build_id[64];
    size_t   build_id_len;
    ls_elf  *elf;
    int      elf_tried, stale;
} obj;

typedef struct symc {            /* symbolization cache entry            */
    uint64_t pc;                 /* 0 = empty                            */
    ls_sym   s;
} symc;

typedef struct proc {
    int64_t  vpid;
    int64_t  first_ts;
    int      have_ts, source, used;   /* used: has lock events         */
    obj     *objs;
    size_t   nobjs, objs_cap;
    symc    *cache;
    size_t   cache_n, cache_cap;
} proc;

struct ls_procs {
    proc    *v;
    size_t   n, cap;
    uint32_t last;               /* last looked-up index                 */
    const char **changed;        /* paths of stale objects, once each    */
    size_t   nchanged, changed_cap;
};

ls_procs *procs_new(void) { return xcalloc(1, sizeof(ls_procs)); }

void procs_free(ls_procs *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->v[i].nobjs; k++) free(p->v[i].objs[k].path);
        free(p->v[i].objs);
        free(p->v[i].cache);
    }
    free(p->v);
    free(p->changed);
    free(p);
}

size_t procs_changed_objects(const ls_procs *p, const char ***paths) {
    *paths = p->changed;
    return p->nchanged;
}

uint32_t procs_index(ls_procs *p, int64_t vpid) {
    if (p->last < p->n && p->v[p->last].vpid == vpid) return p->last;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].vpid == vpid) return p->last = (uint32_t)i;
    grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v);
    p->v[p->n].vpid = vpid;
    return p->last = (uint32_t)p->n++;
}

int64_t procs_vpid(const ls_procs *p, uint32_t idx) { return idx < p->n ? p->v[idx].vpid : -1; }
uint32_t procs_count(const ls_procs *p) { return (uint32_t)p->n; }

void procs_seen(ls_procs *p, uint32_t idx, int64_t ts_ns) {
    if (idx >= p->n) return;
    proc *q = &p->v[idx];
    q->used = 1;
    if (!ts_ns) return;
    if (!q->have_ts || ts_ns < q->first_ts) q->first_ts = ts_ns;
    q->have_ts = 1;
}

/* Objects per process: real ones load hundreds at most; the cap keeps the
 * linear de-duplication below cheap on a crafted trace with millions of
 * load events (later ones are ignored). */
#define MAX_OBJS 16384

static obj *add_obj(proc *q, int kind, uint64_t lo, uint64_t hi, uint64_t off, const char *path) {
    if (q->nobjs >= MAX_OBJS) return NULL;
    for (size_t i = 0; i < q->nobjs; i++) {
        obj *o = &q->objs[i];
        if (o->kind == kind && o->lo == lo && o->hi == hi && o->file_off == off &&
            !strcmp(o->path, path))
            return o;
    }
    grow((void **)&q->objs, &q->objs_cap, q->nobjs + 1, sizeof *q->objs);
    obj *o = &q->objs[q->nobjs++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lo = lo;
    o->hi = hi;
    o->file_off = off;
    o->path = xstrdup(path);
    return o;
}

void procs_add_object(ls_procs *p, int64_t vpid, uint64_t baddr, uint64_t memsz,
                      const char *path, int is_pic) {
    (void)is_pic;   /* pc - baddr + first p_vaddr holds for both kinds */
    if (!path || !*path || !memsz || baddr + memsz < baddr) return;
    proc *q = &p->v[procs_index(p, vpid)];
    add_obj(q, OBJ_DUMP, baddr, baddr + memsz, 0, path);
    q->source = SRC_DUMP;
}

void procs_add_build_id(ls_procs *p, int64_t vpid, uint64_t baddr, const uint8_t *id,
                        size_t len) {
    if (!len || len > 64) return;
    proc *q = &p->v[procs_index(p, vpid)];
    for (size_t i = 0; i < q->nobjs; i++) {
        if (q->objs[i].kind == OBJ_DUMP && q->objs[i].lo == baddr) {
            memcpy(q->objs[i].build_id, id, len);
            q->objs[i].build_id_len = len;
        }
    }
}

/* Process start time as ns since the epoch, 0 when unknown. */
static int64_t proc_start_ns(int64_t pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');     /* comm may hold spaces and ')' */
    if (!rp) return 0;
    /* s points at the blank before field 3 (state); starttime is 22. */
    char *s = rp + 1;
    unsigned long long start = 0;
    for (int field = 3; field < 22 && s; field++) s = strchr(s + 1, ' ');
    if (!s || sscanf(s, " %llu", &start) != 1) return 0;
    f = fopen("/proc/stat", "re");
    if (!f) return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0) return 0;
    return (int64_t)(btime * 1000000000ull + start * (1000000000ull / (unsigned long long)hz));
}

static int load_maps(proc *q) {
    char path[64], line[4096 + 256];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/maps", q->vpid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int any = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &off, &pos) < 4 ||
            !pos)
            continue;
        char *file = line + pos;
        file[strcspn(file, "\n")] = 0;
        if (file[0] != '/' || !strchr(perms, 'x') || hi <= lo) continue;
        add_obj(q, OBJ_MAPS, lo, hi, off, file);
        any = 1;
    }
    fclose(f);
    return any ? 0 : -1;
}

const char *procs_resolve(ls_procs *p, int verbose) {
    int dump = 0, maps = 0, none = 0;
    for (size_t i = 0; i < p->n; i++) {
        proc *q = &p->v[i];
        if (!q->used) continue;   /* only statedump or stacks: not reported */
        if (q->source == SRC_NONE && q->vpid > 0 && q->have_ts) {
            int64_t start = proc_start_ns(q->vpid);
            /* 2 s of slack: btime has a 1 s resolution. */
            if (start && start <= q->first_ts + 2000000000ll && load_maps(q) == 0)
                q->source = SRC_MAPS;
            else if (verbose)
                fprintf(stderr, "%s: process %" PRId64 ": no statedump in the trace and no "
                        "such process running: addresses stay unsymbolized\n", progname, q->vpid);
        }
        if (q->source == SRC_DUMP) dump++;
        else if (q->source == SRC_MAPS) maps++;
        else none++;
    }
    if (!dump && !maps) return "none";
    if (dump && !maps && !none) return "statedump";
    if (maps && !dump && !none) return "proc-maps";
    return "mixed";
}

static void symbolize(ls_procs *p, proc *q, uint64_t pc, ls_sym *out) {
    memset(out, 0, sizeof *out);
    if (!pc) return;
    uint64_t a = pc - 1;         /* a return address: look up the call */
    obj *o = NULL;
    for (size_t i = q->nobjs; i-- > 0;)   /* the latest load wins */
        if (a >= q->objs[i].lo && a < q->objs[i].hi) { o = &q->objs[i]; break; }
    if (!o) return;
    out->object = o->path;
    if (!o->elf_tried) {
        o->elf_tried = 1;
        o->elf = elf_get(o->path);
        if (o->elf && o->build_id_len) {
            size_t n;
            const uint8_t *id = elf_build_id(o->elf, &n);
            /* The file on disk is not the one that ran: do not guess. */
            if (n && (n != o->build_id_len || memcmp(id, o->build_id, n))) o->stale = 1;
        }
        if (o->stale) {
            size_t i = 0;
            while (i < p->nchanged && strcmp(p->changed[i], o->path)) i++;
            if (i == p->nchanged) {
                grow((void **)&p->changed, &p->changed_cap, p->nchanged + 1, sizeof *p->changed);
                p->changed[p->nchanged++] = o->path;
            }
        }
    }
    uint64_t vaddr;
    if (o->kind == OBJ_DUMP) {
        vaddr = a - o->lo + (o->elf ? elf_first_vaddr(o->elf) : 0);
    } else if (!o->elf || elf_offset_to_vaddr(o->elf, a - o->lo + o->file_off, &vaddr) != 0) {
        out->offset = a - o->lo + o->file_off + 1;
        return;
    }
    out->offset = vaddr + 1;
    if (!o->elf || o->stale) return;
    uint64_t off;
    const char *fn = elf_lookup(o->elf, vaddr, &off);
    if (fn) {
        out->function = fn;
        out->offset = off + 1;
    }
}

void procs_symbolize(ls_procs *p, uint32_t idx, uint64_t pc, ls_sym *out) {
    if (idx >= p->n) { memset(out, 0, sizeof *out); return; }
    proc *q = &p->v[idx];
    if (q->cache_cap == 0) {
        q->cache_cap = 256;
        q->cache = xcalloc(q->cache_cap, sizeof *q->cache);
    }
    size_t k = hash64(pc) & (q->cache_cap - 1);
    for (; q->cache[k].pc; k = (k + 1) & (q->cache_cap - 1))
        if (q->cache[k].pc == pc) { *out = q->cache[k].s; return; }
    symbolize(p, q, pc, out);
    if (!pc) return;
    q->cache[k].pc = pc;
    q->cache[k].s = *out;
    if (++q->cache_n * 2 > q->cache_cap) {
        size_t cap = q->cache_cap * 2;
        symc *c = xcalloc(cap, sizeof *c);
        for (size_t i = 0; i < q->cache_cap; i++) {
            if (!q->cache[i].pc) continue;
            size_t j = hash64(q->cache[i].pc) & (cap - 1);
            while (c[j].pc) j = (j + 1) & (cap - 1);
            c[j] = q->cache[i];
        }
        free(q->cache);
        q->cache = c;
        q->cache_cap = cap;
    }
}
