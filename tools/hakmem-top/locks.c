/* locks.c - the locks view (`l`): every named hak_lock with its
 * acquisitions, contention and wait/hold times, by total wait. */
#include "top.h"

#include <curses.h>

#define LCK_FMT "%-20s %4s %9s %8s %8s %6s %9s %9s %9s %9s %9s %9s %8s"

static const char *ms(char *buf, size_t n, uint64_t ns) {
    snprintf(buf, n, "%.1f", (double)ns / 1e6);
    return buf;
}
static const char *us(char *buf, size_t n, double ns) {
    snprintf(buf, n, "%.1f", ns / 1e3);
    return buf;
}

void locks_draw(int y0, int rows, int cols, top_view *v, int reverse, int *scroll) {
    char buf[512], head[512];
    if (rows <= 0) return;
    sort_locks(v, reverse);
    snprintf(buf, sizeof buf, "Locks - %u named locks, sorted by total wait%s", v->nlocks,
             reverse ? " (reversed)" : "");
    snprintf(head, sizeof head, LCK_FMT, "NAME", "ID", "ACQUIRED", "ACQ/s", "CONTEND", "CONT%", "WAIT_ms",
             "AVGWT_us", "MAXWT_us", "HOLD_ms", "AVGHD_us", "MAXHD_us", "SWITCHES");
    int avail = table_top(y0, rows, cols, buf, head, v->nlocks, scroll);
    if (avail < 0) return;
    if (!v->nlocks) { put_line(y0 + 2, cols, 0, "(no lock registered in the segment)"); return; }
    for (int i = 0; i < avail && (uint32_t)(i + *scroll) < v->nlocks; i++) {
        const top_lock_row *l = &v->locks[i + *scroll];
        char id[16], acq[16], rate[16], cont[16], pct[16], w[16], aw[16], mw[16], h[16], ah[16], mh[16],
             sw[16];
        snprintf(id, sizeof id, "%u", l->id);
        fmt_count(acq, sizeof acq, (double)l->fig.acquisitions);
        fmt_count(rate, sizeof rate, l->fig.acq_rate);
        fmt_count(cont, sizeof cont, (double)l->fig.contended);
        fmt_pct(pct, sizeof pct, l->contended_pct);
        ms(w, sizeof w, l->fig.wait_ns);
        us(aw, sizeof aw, l->fig.contended ? (double)l->fig.wait_ns / (double)l->fig.contended : 0);
        us(mw, sizeof mw, (double)l->fig.wait_max_ns);
        ms(h, sizeof h, l->fig.hold_ns);
        /* holds are timed only when contended or traced: hold_count of them */
        us(ah, sizeof ah, l->fig.hold_count ? (double)l->fig.hold_ns / (double)l->fig.hold_count : 0);
        us(mh, sizeof mh, (double)l->fig.hold_max_ns);
        fmt_count(sw, sizeof sw, (double)l->fig.owner_switches);
        snprintf(buf, sizeof buf, LCK_FMT, l->name, id, acq, rate, cont, pct, w, aw, mw, h, ah, mh, sw);
        put_line(y0 + 2 + i, cols, 0, buf);
    }
}
