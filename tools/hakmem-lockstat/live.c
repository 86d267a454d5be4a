/* live.c - per-lock figures from a live process's stats segment
 * (trace/stats_reader.h): two samples `delay` seconds apart give the
 * rates; the totals are those of the second.  --segment FILE reads a saved
 * segment (one sample, no rates).  Call sites are not in the counters:
 * they need a trace (docs/howto-locks.md). */
#include "lockstat.h"
#include "stats_reader.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void sleep_s(double s) {
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* By name, as report_lock merges the locks of a name. */
static const hkss_lock *find(const hkss_snapshot *s, const char *name) {
    for (uint32_t i = 0; i < s->nlocks; i++)
        if (!strcmp(s->locks[i].name, name)) return &s->locks[i];
    return NULL;
}

int live_load(const ls_opts *o, ls_report *r) {
    char err[HKSS_ERRLEN] = "";
    hkss_sampler smp;
    if (hkss_sampler_open(&smp, (pid_t)o->pid, o->segment, err, sizeof err) != HKSS_OK) {
        char one[HKSS_ERRLEN];
        printable(one, sizeof one, err[0] ? err : "cannot open the stats segment");
        fprintf(stderr, "%s: %s\n", progname, one);
        return 1;
    }
    const hkss_info *info = hkss_info_of(smp.seg);
    r->live = 1;
    r->pid = info->pid;
    printable(r->command, sizeof r->command, info->cmdline);
    int ret = 1;
    if (hkss_sampler_next(&smp, err, sizeof err) != HKSS_OK) goto read_err;
    double dt = 0;
    if (!o->segment && o->delay > 0) {
        sleep_s(o->delay);
        if (hkss_sampler_next(&smp, err, sizeof err) != HKSS_OK) goto read_err;
        dt = hkss_sampler_interval(&smp);
        if (dt <= 0) dt = o->delay;
        r->exited = hkss_alive(smp.seg) == 0;
    }
    r->interval_s = dt;
    for (uint32_t i = 0; i < smp.cur.nlocks; i++) {
        const hkss_lock *x = &smp.cur.locks[i];
        ls_lock *l = report_lock(r, x->name, x->c.id);
        hkss_lock_figures_of(x, dt > 0 ? find(&smp.prev, x->name) : NULL, dt, &l->fig);
        l->have_rate = dt > 0;
    }
    ret = 0;
    goto out;
read_err:;
    char one[HKSS_ERRLEN];
    printable(one, sizeof one, err[0] ? err : "cannot read the stats segment");
    fprintf(stderr, "%s: %s\n", progname, one);
out:
    hkss_sampler_close(&smp);
    return ret;
}
