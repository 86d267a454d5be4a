/* screen.c - the interactive (curses) mode: the process picker when no -p
 * is given, then the header and one of three views (classes, threads `t`,
 * locks `l`), refreshed every delay.  Keys follow top/htop: q quit, h/?
 * help, < > sort column, s reverse, p pause, d delay, arrows scroll.
 * A terminal resize redraws at the new size.  When the target exits the
 * last figures stay on screen, with a notice, until q.
 */
#include "top.h"

#include <curses.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct scr {
    const top_opts *o;
    hkss_sampler smp;
    top_view v;
    int  have_view;
    int  view, sort, rev, paused, help, exited, scroll;
    double delay;
    long samples;
    char msg[HKSS_ERRLEN + 64];
} scr;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void put_line(int y, int cols, int attr, const char *s) {
    if (y < 0 || y >= LINES || cols <= 0) return;
    move(y, 0);
    clrtoeol();
    if (attr) attron(attr);
    int n = (int)strlen(s);
    if (n > cols) n = cols;
    addnstr(s, n);
    if (attr == A_REVERSE) for (int i = n; i < cols; i++) addch(' ');
    if (attr) attroff(attr);
}

int table_top(int y0, int rows, int cols, const char *title, const char *heading, uint32_t n,
              int *scroll) {
    put_line(y0, cols, A_BOLD, title);
    if (rows <= 1) return -1;
    put_line(y0 + 1, cols, A_REVERSE, heading);
    int avail = rows - 2;
    if (scroll) {
        int max_scroll = (int)n > avail ? (int)n - avail : 0;
        if (*scroll > max_scroll) *scroll = max_scroll;
        if (*scroll < 0) *scroll = 0;
    }
    return avail;
}

static const char *const help_text[] = {
    "hakmem-top - live counters of a process running with libhakmem.so",
    "",
    "  q         quit",
    "  h, ?      this help (any key returns)",
    "  < >       sort the classes view by the previous / next column",
    "  s         reverse the sort order",
    "  p         pause / resume sampling",
    "  d         change the delay between samples (seconds)",
    "  t         threads view (t again: classes)",
    "  l         locks view (l again: classes)",
    "  c         classes view",
    "  arrows    scroll the threads and locks views",
    "",
    "Columns of the classes view (rates are per second over the last delay):",
    "  ALLOC/s FREE/s   mallocs and frees of the class",
    "  UH%  SLL%        UltraHot magazine and TLS SLL hit rates ('-': none)",
    "  REFILL/s DRAIN/s SLL refills from slabs, drains back to slabs",
    "  REMOTE/s         frees pushed to another thread's slab or queue",
    "  LIVE LIVE_B      blocks held by the program or by thread caches",
    "  SLABS            tiny slabs held (tiers: segments held)",
    "docs/counters.md describes every counter; man hakmem-top the options.",
    NULL,
};

static void draw_help(int y0, int rows, int cols) {
    for (int i = 0; help_text[i] && i < rows; i++) put_line(y0 + i, cols, i == 0 ? A_BOLD : 0, help_text[i]);
}

static void take_sample(scr *s) {
    char err[HKSS_ERRLEN];
    int alive = hkss_alive(s->smp.seg);
    /* a last sample even after the exit: the mapping keeps the final counts */
    if (sampler_next(&s->smp, &s->v, err, sizeof err) == HKSS_OK) s->have_view = 1;
    else snprintf(s->msg, sizeof s->msg, "%s", err);
    s->samples++;
    if (alive == 0) s->exited = 1;
}

static void draw(scr *s) {
    char buf[512], up[32];
    int cols = COLS, rows = LINES;
    erase();
    const top_view *v = &s->v;
    snprintf(buf, sizeof buf, "hakmem-top %s - pid %u (%s) - up %s - delay %.2gs", HAKMEM_VERSION, v->pid,
             v->cmd, fmt_uptime(up, sizeof up, v->uptime), s->delay);
    put_line(0, cols, A_BOLD, buf);
    for (int i = 0; header_line(buf, sizeof buf, i, v); i++) put_line(1 + i, cols, 0, buf);
    if (s->exited)
        snprintf(buf, sizeof buf, "process %u exited - last figures kept, press q to quit", v->pid);
    else if (s->paused)
        snprintf(buf, sizeof buf, "PAUSED - press p to resume");
    else
        snprintf(buf, sizeof buf, "%s", s->msg);
    put_line(4, cols, (s->exited || s->paused) ? A_REVERSE | A_BOLD : A_BOLD, buf);
    int y0 = 5, h = rows - y0 - 1;
    if (s->help) draw_help(y0, h, cols);
    else if (s->view == VIEW_THREADS) threads_draw(y0, h, cols, &s->v, s->rev, &s->scroll);
    else if (s->view == VIEW_LOCKS) locks_draw(y0, h, cols, &s->v, s->rev, &s->scroll);
    else classes_draw(y0, h, cols, v, s->sort, s->rev);
    put_line(rows - 1, cols, A_REVERSE,
             "q quit  h help  </> sort  s reverse  p pause  d delay  t threads  l locks");
    refresh();
}

/* A line of input on the status line (curses echo). */
static int prompt(const char *q, char *buf, int n) {
    put_line(4, COLS, A_BOLD, q);
    move(4, (int)strlen(q) < COLS ? (int)strlen(q) : COLS - 1);
    echo();
    curs_set(1);
    timeout(-1);
    int rc = getnstr(buf, n - 1);
    noecho();
    curs_set(0);
    return rc;
}

static void ask_delay(scr *s) {
    char buf[32] = "";
    if (prompt("Delay in seconds: ", buf, sizeof buf) == ERR || !buf[0]) { s->msg[0] = 0; return; }
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    while (*end == ' ') end++;
    if (errno || *end || !(d >= 0.05 && d <= 86400))
        snprintf(s->msg, sizeof s->msg, "invalid delay '%s' (0.05 to 86400 seconds)", buf);
    else {
        s->delay = d;
        snprintf(s->msg, sizeof s->msg, "delay %.2gs", d);
    }
}

/* 1 = quit */
static int key(scr *s, int ch) {
    if (s->help) { s->help = 0; return ch == 'q'; }
    switch (ch) {
    case 'q': case 'Q': return 1;
    case 'h': case '?': s->help = 1; break;
    case '<': case ',':
        if (s->view == VIEW_CLASSES) s->sort = (s->sort + COL_COUNT - 1) % COL_COUNT;
        else snprintf(s->msg, sizeof s->msg, "< > sort the classes view; s reverses this one");
        break;
    case '>': case '.':
        if (s->view == VIEW_CLASSES) s->sort = (s->sort + 1) % COL_COUNT;
        else snprintf(s->msg, sizeof s->msg, "< > sort the classes view; s reverses this one");
        break;
    case 's': s->rev = !s->rev; break;
    case 'p': case ' ': if (!s->exited) s->paused = !s->paused; break;
    case 'd': ask_delay(s); break;
    case 't': s->view = s->view == VIEW_THREADS ? VIEW_CLASSES : VIEW_THREADS; s->scroll = 0; break;
    case 'l': s->view = s->view == VIEW_LOCKS ? VIEW_CLASSES : VIEW_LOCKS; s->scroll = 0; break;
    case 'c': s->view = VIEW_CLASSES; break;
    case KEY_UP: s->scroll--; break;
    case KEY_DOWN: s->scroll++; break;
    case KEY_PPAGE: s->scroll -= LINES / 2; break;
    case KEY_NPAGE: s->scroll += LINES / 2; break;
    case KEY_HOME: s->scroll = 0; break;
    case KEY_RESIZE: clearok(stdscr, TRUE); break;
    default: break;
    }
    if (s->scroll < 0) s->scroll = 0;
    return 0;
}

/* ---- process picker --------------------------------------------------- */

/* Returns 1 with the sampler opened, 0 when the user quit. */
static int pick(scr *s) {
    int sel = 0;
    char msg[300] = "";
    double next = 0;
    top_proc *p = NULL;
    int n = 0;
    for (;;) {
        if (mono() >= next) {
            free(p);
            char err[HKSS_ERRLEN];
            n = list_procs(&p, err, sizeof err);
            if (n < 0) { n = 0; p = NULL; snprintf(msg, sizeof msg, "%s", err); }
            next = mono() + s->delay;
        }
        if (sel >= n) sel = n ? n - 1 : 0;
        erase();
        put_line(0, COLS, A_BOLD, "hakmem-top - processes with a hakmem stats segment (Enter: attach, q: quit)");
        put_line(1, COLS, A_BOLD, msg);
        char buf[512], a[16], b[16];
        snprintf(buf, sizeof buf, "%7s  %-16s %8s %8s %7s", "PID", "COMMAND", "RSS", "LIVE", "THREADS");
        put_line(3, COLS, A_REVERSE, buf);
        if (!n) put_line(4, COLS, 0, "(none yet: start a program with LD_PRELOAD=libhakmem.so)");
        for (int i = 0; i < n && 4 + i < LINES - 1; i++) {
            if (p[i].readable)
                snprintf(buf, sizeof buf, "%7d  %-16s %8s %8s %7llu", (int)p[i].pid, p[i].comm,
                         fmt_bytes(a, sizeof a, p[i].rss), fmt_bytes(b, sizeof b, p[i].live_bytes),
                         (unsigned long long)p[i].threads);
            else
                snprintf(buf, sizeof buf, "%7d  %-16s (%s)", (int)p[i].pid, p[i].comm, p[i].note);
            put_line(4 + i, COLS, i == sel ? A_REVERSE : 0, buf);
        }
        refresh();
        int wait = (int)((next - mono()) * 1000);
        timeout(wait < 10 ? 10 : wait > 1000 ? 1000 : wait);
        int ch = getch();
        if (ch == 'q' || ch == 'Q') { free(p); return 0; }
        if ((ch == KEY_UP || ch == 'k') && sel > 0) sel--;
        if ((ch == KEY_DOWN || ch == 'j') && sel + 1 < n) sel++;
        if ((ch == '\n' || ch == '\r' || ch == KEY_ENTER) && n) {
            top_opts o = *s->o;
            o.pid = p[sel].pid;
            char err[HKSS_ERRLEN];
            if (sampler_open(&s->smp, &o, err, sizeof err) == HKSS_OK) { free(p); return 1; }
            snprintf(msg, sizeof msg, "%s", err);
        }
    }
}

int screen_run(const top_opts *o) {
    scr s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.delay = o->delay;
    s.sort = o->sort;
    s.rev = o->sort_reverse;
    char err[HKSS_ERRLEN];
    int attached = 0;
    if (o->pid || o->segment_file) {
        /* errors before the screen starts, as one line on stderr */
        if (sampler_open(&s.smp, o, err, sizeof err)) {
            fprintf(stderr, "hakmem-top: %s\n", err);
            return 1;
        }
        attached = 1;
    }
    SCREEN *term = newterm(NULL, stdout, stdin);
    if (!term) {
        const char *t = getenv("TERM");
        fprintf(stderr, "hakmem-top: cannot start the screen (TERM=%s); use -b for batch output\n",
                t ? t : "");
        if (attached) hkss_sampler_close(&s.smp);
        return 1;
    }
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    if (!attached && !pick(&s)) {
        endwin();
        delscreen(term);
        return 0;
    }
    double next = 0;
    for (;;) {
        double now = mono();
        if (!s.paused && !s.exited && now >= next) {
            if (o->count && s.samples >= o->count) break;
            take_sample(&s);
            next = now + s.delay;
        }
        if (s.have_view) draw(&s);
        int wait = (s.paused || s.exited) ? 1000 : (int)((next - mono()) * 1000);
        timeout(wait < 10 ? 10 : wait > 1000 ? 1000 : wait);
        int ch = getch();
        if (ch != ERR && key(&s, ch)) break;
        if (ch == 'd' && !s.paused) next = mono() + s.delay;
    }
    endwin();
    delscreen(term);
    view_free(&s.v);
    hkss_sampler_close(&s.smp);
    return 0;
}
