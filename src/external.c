/* external.c - the ExternalGuard box (see external.h).
 *
 * Backtraces (check mode only): the unwinder is libgcc_s's
 * _Unwind_Backtrace, looked up with dlopen by a constructor at load time
 * (dlopen allocates, so it cannot happen inside malloc), and only when
 * HAKMEM_CHECK=1 is in the environment (read as config.c does: environ,
 * ignored when AT_SECURE).  Frames are named with dladdr, which neither
 * allocates nor takes locks that malloc holds.
 */
#include "external.h"
#include "arena.h"
#include "config.h"
#include "pool.h"
#include "os.h"
#include "thread.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include <unwind.h>

typedef _Unwind_Reason_Code (*unwind_backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*unwind_getip_fn)(struct _Unwind_Context *);

static unwind_backtrace_fn ext_unwind;    /* NULL: no backtraces */
static unwind_getip_fn ext_getip;

extern char **environ;

__attribute__((constructor)) static void external_setup(void) {
    if (getauxval(AT_SECURE) || !environ) return;
    static const char key[] = "HAKMEM_CHECK=1";
    int on = 0;
    for (char **e = environ; *e; e++)
        if (strcmp(*e, key) == 0) { on = 1; break; }
    if (!on) return;
    void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    void *bt = h ? dlsym(h, "_Unwind_Backtrace") : NULL;
    void *ip = h ? dlsym(h, "_Unwind_GetIP") : NULL;
    if (!bt || !ip) {
        os_write_err("hakmem: HAKMEM_CHECK=1 but libgcc_s.so.1 cannot be loaded; reports carry no backtrace\n");
        return;
    }
    ext_getip = (unwind_getip_fn)ip;
    __atomic_store_n(&ext_unwind, (unwind_backtrace_fn)bt, __ATOMIC_RELEASE);
}

void external_describe_pc(char *buf, size_t n, const void *pc) {
    Dl_info di;
    if (pc && dladdr(pc, &di) && di.dli_fname) {
        const char *mod = strrchr(di.dli_fname, '/');
        mod = mod ? mod + 1 : di.dli_fname;
        if (di.dli_sname && di.dli_saddr)
            snprintf(buf, n, "%p (%s+%#lx %s+%#lx)", pc, mod,
                     (unsigned long)((uintptr_t)pc - (uintptr_t)di.dli_fbase), di.dli_sname,
                     (unsigned long)((uintptr_t)pc - (uintptr_t)di.dli_saddr));
        else
            snprintf(buf, n, "%p (%s+%#lx)", pc, mod,
                     (unsigned long)((uintptr_t)pc - (uintptr_t)di.dli_fbase));
    } else {
        snprintf(buf, n, "%p", pc);
    }
}

#define BT_MAX 48

typedef struct bt_buf { uintptr_t pc[BT_MAX]; unsigned n; } bt_buf;

static _Unwind_Reason_Code bt_one(struct _Unwind_Context *ctx, void *arg) {
    bt_buf *b = arg;
    uintptr_t pc = (uintptr_t)ext_getip(ctx);
    if (!pc) return _URC_END_OF_STACK;
    b->pc[b->n++] = pc;
    return b->n < BT_MAX ? _URC_NO_REASON : _URC_END_OF_STACK;
}

/* The calling thread's stack below hakmem's own frames, one line each. */
static HK_NOINLINE void print_backtrace(void) {
    unwind_backtrace_fn bt = __atomic_load_n(&ext_unwind, __ATOMIC_ACQUIRE);
    if (!bt) return;
    bt_buf b;
    b.n = 0;
    bt(bt_one, &b);
    Dl_info self, di;
    if (!dladdr((void *)print_backtrace, &self)) self.dli_fbase = NULL;
    unsigned i = 0;
    while (i < b.n && dladdr((void *)b.pc[i], &di) && di.dli_fbase == self.dli_fbase) i++;
    for (unsigned k = 0; i < b.n && k < 24; i++, k++) {
        char where[256], line[320];
        /* return addresses point after the call: name the call itself */
        external_describe_pc(where, sizeof where, (const void *)(b.pc[i] - 1));
        snprintf(line, sizeof line, "hakmem:   #%u %s\n", k, where);
        os_write_err(line);
    }
}

void external_report_ex(const char *call, const void *p, const char *what, const char *detail) {
    if (hk_cfg.external_mode == HK_EXT_IGNORE) return;
    char buf[512];
    snprintf(buf, sizeof buf, "hakmem: %s(): %s: %p%s%s (pid %d)%s\n", call, what, p,
             detail ? "; " : "", detail ? detail : "", (int)getpid(),
             hk_cfg.external_mode == HK_EXT_ABORT ? "; aborting (HAKMEM_EXTERNAL=warn to continue)" : "");
    os_write_err(buf);
    print_backtrace();
    if (hk_cfg.external_mode == HK_EXT_ABORT) abort();
}

void external_report(const char *call, const void *p, const char *what) {
    external_report_ex(call, p, what, NULL);
}

void external_fatal(const char *line) {
    os_write_err(line);
    print_backtrace();
    abort();
}

int external_tiny_cached(const void *p, unsigned cls) {
    hk_tls_t *t = &hk_tls;
    if (cls >= HK_TINY_CLASSES) return 0;
    unsigned u = t->uh[cls];
    for (unsigned i = 0; u > 1 && i < u - 1 && i < HK_UH_SLOTS; i++)
        if (t->uh_slot[cls][i] == p) return 1;
    return t->sll_head[cls] == p;
}

const char *external_why(const void *p) {
    if (!arena_owns(p)) return "invalid pointer (not allocated by hakmem)";
    hk_segmeta *m = arena_segmeta(p);
    uint8_t kind = atomic_load_explicit(&m->kind, memory_order_acquire);
    if (kind == HK_SEG_MID || kind == HK_SEG_L25) {
        pool_seg *s = pool_seg_of(p);
        if (!s) return "invalid pointer (not a live block)";
        pool_geo *g = pool_geo_of(s, p);
        uintptr_t off = (uintptr_t)p - g->start;
        if (!g->start || off >= g->lim) return "invalid pointer (not a block handed out by hakmem)";
        if (!pool_block_ok(g, p)) return "invalid pointer (inside a block, not its start)";
        if (((const pool_block *)p)->tag == ((uintptr_t)p ^ pool_secret))
            return "double free (the block is already free)";
        return "invalid pointer (not a live block)";
    }
    if (kind == HK_SEG_LARGE || kind == HK_SEG_LARGE_TAIL) {
        if (kind == HK_SEG_LARGE_TAIL || ((uintptr_t)p & (HK_SEG_SIZE - 1)))
            return "invalid pointer (inside a block, not its start)";
        return "double free (the block is already free)";
    }
    if (kind == HK_SEG_TINY) return "invalid pointer (inside a block, not its start)";
    return "invalid pointer (not a live block: its memory is free)";
}
