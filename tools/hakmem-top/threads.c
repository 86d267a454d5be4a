/* threads.c - the threads view (`t`): one row per live thread block, by
 * allocation rate, then the retired block (threads that exited) and the
 * shared block (counts made outside a thread's own block). */
#include "top.h"

#include <curses.h>

#define THR_FMT "%-10s %8s %8s %8s %8s %8s %6s %6s %8s %8s %8s %8s %9s"

void threads_draw(int y0, int rows, int cols, top_view *v, int reverse, int *scroll) {
    char buf[512], head[512];
    if (rows <= 0) return;
    sort_threads(v, reverse);
    uint32_t live = v->nthreads >= 2 ? v->nthreads - 2 : 0;
    snprintf(buf, sizeof buf, "Threads - %u live blocks%s, sorted by ALLOC/s%s", live,
             v->threads_overflow ? " (some threads not shown: segment full)" : "",
             reverse ? " (reversed)" : "");
    snprintf(head, sizeof head, THR_FMT, "TID", "OS_TID", "ALLOC/s", "FREE/s", "ALLOCS", "FREES", "UH%",
             "SLL%", "REFILL/s", "DRAIN/s", "RSENT/s", "RRECV/s", "NET");
    int avail = table_top(y0, rows, cols, buf, head, v->nthreads, scroll);
    if (avail < 0) return;
    for (int i = 0; i < avail && (uint32_t)(i + *scroll) < v->nthreads; i++) {
        const top_thread_row *t = &v->threads[i + *scroll];
        char id[16], os[16], a[16], f[16], na[16], nf[16], uh[16], sl[16], rf[16], dr[16], rs[16], rr[16];
        if (t->label) { snprintf(id, sizeof id, "%s", t->label); snprintf(os, sizeof os, "-"); }
        else { snprintf(id, sizeof id, "%u", t->tid); snprintf(os, sizeof os, "%u", t->os_tid); }
        /* NET is signed: frees of blocks allocated by other threads count here */
        char net[24];
        snprintf(net, sizeof net, "%lld", (long long)t->net);
        snprintf(buf, sizeof buf, THR_FMT, id, os, fmt_count(a, sizeof a, t->alloc_rate),
                 fmt_count(f, sizeof f, t->free_rate), fmt_count(na, sizeof na, (double)t->allocs),
                 fmt_count(nf, sizeof nf, (double)t->frees), fmt_pct(uh, sizeof uh, t->uh_pct),
                 fmt_pct(sl, sizeof sl, t->sll_pct), fmt_count(rf, sizeof rf, t->refill_rate),
                 fmt_count(dr, sizeof dr, t->drain_rate), fmt_count(rs, sizeof rs, t->remote_rate),
                 fmt_count(rr, sizeof rr, t->recv_rate), net);
        put_line(y0 + 2 + i, cols, t->label ? A_DIM : 0, buf);
    }
}
