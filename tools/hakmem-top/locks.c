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
    char buf[512];
    if (rows <= 0) return;
    sort_locks(v, reverse);
    snprintf(buf, sizeof buf, "Locks - %u named locks, sorted by total wait%s", v->nlocks,
             reverse ? " (reversed)" : "");
    put_line(y0, cols, A_BOLD, buf);
    if (rows <= 1) return;
    snprintf(buf, sizeof buf, LCK_FMT, "NAME", "ID", "ACQUIRED", "ACQ/s", "CONTEND", "CONT%", "WAIT_ms",
             "AVGWT_us", "MAXWT_us", "HOLD_ms", "AVGHD_us", "MAXHD_us", "SWITCHES");
    put_line(y0 + 1, cols, A_REVERSE, buf);
    int avail = rows - 2;
    int max_scroll = (int)v->nlocks > avail ? (int)v->nlocks - avail : 0;
    if (*scroll > max_scroll) *scroll = max_scroll;
    if (*scroll < 0) *scroll = 0;
    if (!v->nlocks) { put_line(y0 + 2, cols, 0, "(no lock registered in the segment)"); return; }
    for (int i = 0; i < avail && (uint32_t)(i + *scroll) < v->nlocks; i++) {
        const top_lock_row *l = &v->locks[i + *scroll];
        char id[16], acq[16], rate[16], cont[16], pct[16], w[16], aw[16], mw[16], h[16], ah[16], mh[16],
             sw[16];
        snprintf(id, sizeof id, "%u", l->id);
        fmt_count(acq, sizeof acq, (double)l->acquisitions);
        fmt_count(rate, sizeof rate, l->acq_rate);
        fmt_count(cont, sizeof cont, (double)l->contended);
        fmt_pct(pct, sizeof pct, l->contended_pct);
        ms(w, sizeof w, l->wait_ns);
        us(aw, sizeof aw, l->contended ? (double)l->wait_ns / (double)l->contended : 0);
        us(mw, sizeof mw, (double)l->wait_max_ns);
        ms(h, sizeof h, l->hold_ns);
        /* holds are timed only when contended or traced: hold_count of them */
        us(ah, sizeof ah, l->hold_count ? (double)l->hold_ns / (double)l->hold_count : 0);
        us(mh, sizeof mh, (double)l->hold_max_ns);
        fmt_count(sw, sizeof sw, (double)l->switches);
        snprintf(buf, sizeof buf, LCK_FMT, l->name, id, acq, rate, cont, pct, w, aw, mw, h, ah, mh, sw);
        put_line(y0 + 2 + i, cols, 0, buf);
    }
}
