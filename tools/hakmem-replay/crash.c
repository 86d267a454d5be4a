/* crash.c - crash handler, backtrace and event reports (see crash.h). */
#define UNW_LOCAL_ONLY
#include "crash.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALT_STACK (128u << 10)

static struct replay *g_rp;
static int g_quiet;
static struct crash_record *g_rec;
static int g_busy;
static __thread void *tls_alt;

void crash_set_replay(struct replay *rp) { __atomic_store_n(&g_rp, rp, __ATOMIC_RELEASE); }
void crash_set_quiet(int quiet) { g_quiet = quiet; }
void crash_set_record(struct crash_record *rec) { g_rec = rec; }

/* ---- descriptions --------------------------------------------------- */

static void rec_of_op(const struct replay *rp, uint64_t idx, struct hkf_rec *r)
{
    const struct rp_op *op = &rp->ops[idx];
    memset(r, 0, sizeof *r);
    r->index = idx;
    r->size = op->size;
    r->arg = op->arg;
    r->ref = op->ref;
    r->obj = op->obj;
    r->thread = RP_THREAD(op);
    r->kind = (uint8_t)RP_KIND(op);
    r->flags = (uint8_t)RP_FLAGS(op);
}

static void obj_ref(struct obuf *o, uint32_t obj)
{
    ob_ch(o, '#');
    ob_u64(o, obj);
}

void rp_describe_rec(struct obuf *o, const struct hkf_rec *r)
{
    int failed = (r->flags & HKF_FAILED) != 0;
    switch (r->kind) {
    case HKF_MALLOC:
        ob_str(o, "malloc("); ob_u64(o, r->size); ob_ch(o, ')');
        break;
    case HKF_CALLOC:
        ob_str(o, "calloc("); ob_u64(o, r->arg); ob_str(o, ", "); ob_u64(o, r->size); ob_ch(o, ')');
        break;
    case HKF_MEMALIGN:
        ob_str(o, (r->flags & HKF_VARIANT) ? "posix_memalign(" : "memalign(");
        ob_u64(o, r->arg); ob_str(o, ", "); ob_u64(o, r->size); ob_ch(o, ')');
        break;
    case HKF_REALLOC:
        ob_str(o, "realloc(");
        if (r->flags & HKF_VARIANT) ob_str(o, "NULL");
        else obj_ref(o, r->ref);
        ob_str(o, ", "); ob_u64(o, r->size); ob_ch(o, ')');
        if (failed && r->size == 0 && !(r->flags & HKF_VARIANT)) {
            ob_str(o, " = NULL (freed it)");
            return;
        }
        break;
    case HKF_FREE:
        ob_str(o, "free("); obj_ref(o, r->ref); ob_ch(o, ')');
        return;
    default:
        ob_str(o, hkf_kind_name(r->kind));
        return;
    }
    if (failed) ob_str(o, " = NULL (failed when recorded)");
    else { ob_str(o, " -> "); obj_ref(o, r->obj); }
}

void rp_describe(struct obuf *o, const struct replay *rp, uint64_t idx)
{
    struct hkf_rec r;
    rec_of_op(rp, idx, &r);
    rp_describe_rec(o, &r);
}

static void history_line(struct obuf *o, const struct hkf_rec *r, uint64_t upto, int timed)
{
    ob_str(o, "    event ");
    ob_u64(o, r->index);
    ob_str(o, "  thread ");
    ob_u64(o, r->thread);
    ob_str(o, "  ");
    rp_describe_rec(o, r);
    if (timed) {
        ob_str(o, "  at +");
        ob_sec(o, r->ts);
        ob_ch(o, 's');
    }
    if (r->caller) {
        ob_str(o, "  caller ");
        ob_hex(o, r->caller);
    }
    if (r->index == upto) ob_str(o, "   <==");
    ob_ch(o, '\n');
}

#define CHAIN_MAX 16

/* obj and the objects it was realloc'ed from (newest first). */
static int lineage(const struct replay *rp, uint32_t obj, uint64_t last, uint32_t *chain)
{
    int n = 0;
    chain[n++] = obj;
    uint32_t cur = obj;
    while (n < CHAIN_MAX) {
        uint64_t i = last + 1;
        while (i-- > 0)
            if (rp->ops[i].obj == cur) break;
        if (i > last) break;                        /* no creating event */
        const struct rp_op *op = &rp->ops[i];
        if (RP_KIND(op) != HKF_REALLOC || op->ref == HKF_NOOBJ) break;
        cur = op->ref;
        chain[n++] = cur;
    }
    return n;
}

static int in_chain(const uint32_t *chain, int n, uint32_t a)
{
    if (a == HKF_NOOBJ) return 0;
    for (int i = 0; i < n; i++)
        if (chain[i] == a) return 1;
    return 0;
}

void rp_history(struct obuf *o, const struct replay *rp, uint32_t obj, uint64_t upto)
{
    if (obj == HKF_NOOBJ || obj >= rp->n_objects || !rp->n_ops) return;
    uint64_t last = upto < rp->n_ops ? upto : rp->n_ops - 1;
    uint32_t chain[CHAIN_MAX];
    int nc = lineage(rp, obj, last, chain);
    uint64_t count = 0;
    for (uint64_t i = 0; i <= last; i++)
        if (in_chain(chain, nc, rp->ops[i].ref) || in_chain(chain, nc, rp->ops[i].obj)) count++;
    enum { HEAD = 4, TAIL = 20 };
    ob_str(o, "  history of object #");
    ob_u64(o, obj);
    if (nc > 1) {
        ob_str(o, " (realloc'ed from");
        for (int i = 1; i < nc; i++) { ob_str(o, " #"); ob_u64(o, chain[i]); }
        ob_ch(o, ')');
    }
    ob_str(o, ", ");
    ob_u64(o, count);
    ob_str(o, count == 1 ? " event:\n" : " events:\n");
    uint64_t k = 0;
    struct hkf_iter it;
    struct hkf_rec r;
    if (rp->file) hkf_iter_init(&it, rp->file);
    for (uint64_t i = 0; i <= last; i++) {
        if (rp->file) {
            if (hkf_next(&it, &r) != 1) break;
        } else {
            rec_of_op(rp, i, &r);
        }
        if (!in_chain(chain, nc, r.ref) && !in_chain(chain, nc, r.obj)) continue;
        if (k < HEAD || k + TAIL >= count) {
            history_line(o, &r, upto, rp->file != NULL);
        } else if (k == HEAD) {
            ob_str(o, "    ... ");
            ob_u64(o, count - HEAD - TAIL);
            ob_str(o, " more\n");
        }
        k++;
    }
}

/* ---- backtrace ------------------------------------------------------ */

static void backtrace_from(struct obuf *o, void *uc)
{
    unw_cursor_t cur;
    unw_context_t ctx;
    int ok;
    if (uc) {
        ok = unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) == 0;
    } else {
        ok = unw_getcontext(&ctx) == 0 && unw_init_local(&cur, &ctx) == 0;
    }
    ob_str(o, "  backtrace (libunwind):\n");
    if (!ok) {
        ob_str(o, "    (libunwind could not start)\n");
        return;
    }
    for (int n = 0; n < 64; n++) {
        unw_word_t ip = 0, off = 0;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || ip == 0) break;
        char name[160];
        ob_str(o, "    #");
        ob_u64(o, (uint64_t)n);
        ob_str(o, "  ");
        ob_hex(o, ip);
        if (unw_get_proc_name(&cur, name, sizeof name, &off) == 0) {
            ob_str(o, "  ");
            ob_str(o, name);
            ob_str(o, "+");
            ob_hex(o, off);
        }
        Dl_info di;
        if (dladdr((void *)(uintptr_t)(n ? ip - 1 : ip), &di) && di.dli_fname) {
            const char *b = strrchr(di.dli_fname, '/');
            ob_str(o, "  (");
            ob_str(o, b ? b + 1 : di.dli_fname);
            ob_ch(o, ')');
        }
        ob_ch(o, '\n');
        if (unw_step(&cur) <= 0) break;
    }
}

/* ---- handler -------------------------------------------------------- */

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    default: return "signal";
    }
}

static void handler(int sig, siginfo_t *si, void *uc)
{
    /* One report at a time: a second crashing thread waits to be killed. */
    if (__atomic_exchange_n(&g_busy, 1, __ATOMIC_ACQ_REL)) {
        for (;;) pause();
    }
    struct replay *rp = __atomic_load_n(&g_rp, __ATOMIC_ACQUIRE);
    uint64_t idx = rp_current();
    int in_replay = rp && idx < rp->n_ops;
    if (g_rec) {
        g_rec->sig = sig;
        g_rec->index = in_replay ? idx : UINT64_MAX;
        g_rec->kind = in_replay ? (uint8_t)RP_KIND(&rp->ops[idx]) : 0;
    }
    if (!g_quiet) {
        struct obuf o;
        ob_init(&o, 2);
        ob_str(&o, PROG ": caught ");
        ob_str(&o, sig_name(sig));
        if (sig == SIGSEGV || sig == SIGBUS) {
            ob_str(&o, " (fault address ");
            ob_hex(&o, (uint64_t)(uintptr_t)si->si_addr);
            ob_ch(&o, ')');
        }
        if (in_replay) {
            const struct rp_op *op = &rp->ops[idx];
            ob_str(&o, " while replaying event ");
            ob_u64(&o, idx);
            ob_str(&o, " (thread ");
            ob_u64(&o, RP_THREAD(op));
            ob_str(&o, "): ");
            rp_describe(&o, rp, idx);
            if (op->ref != HKF_NOOBJ) {
                ob_str(&o, " [pointer ");
                ob_hex(&o, (uint64_t)(uintptr_t)rp->slot[op->ref]);
                ob_ch(&o, ']');
            }
            ob_ch(&o, '\n');
            rp_history(&o, rp, op->ref != HKF_NOOBJ ? op->ref : op->obj, idx);
        } else {
            ob_str(&o, " outside the replay of an event\n");
        }
        backtrace_from(&o, uc);
        ob_flush(&o);
    }
    signal(sig, SIG_DFL);
    raise(sig);   /* delivered with the default action when we return */
}

static void set_alt(void)
{
    if (tls_alt) return;
    void *m = mmap(NULL, ALT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    stack_t ss = { .ss_sp = m, .ss_size = ALT_STACK, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) == 0) tls_alt = m;
    else munmap(m, ALT_STACK);
}

void crash_thread_init(void) { set_alt(); }

void crash_thread_fini(void)
{
    if (!tls_alt) return;
    stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    munmap(tls_alt, ALT_STACK);
    tls_alt = NULL;
}

void crash_install(void)
{
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE };
    set_alt();
    /* Make libunwind and dladdr do their one-time set-up now, not in the
     * handler while the heap may be corrupt. */
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) == 0 && unw_init_local(&cur, &ctx) == 0) {
        char name[64];
        unw_word_t off;
        unw_get_proc_name(&cur, name, sizeof name, &off);
        unw_step(&cur);
    }
    Dl_info di;
    dladdr((void *)(uintptr_t)crash_install, &di);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}
