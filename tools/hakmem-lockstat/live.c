/* live.c - per-lock figures from a live process's stats segment
 * (trace/stats_reader.h): two snapshots `delay` seconds apart give the
 * rates; the totals are those of the second.  --segment FILE reads a saved
 * segment (one snapshot, no rates).  Call sites are not in the counters:
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

static const hkss_lock *find(const hkss_snapshot *s, const char *name) {
    for (uint32_t i = 0; i < s->nlocks; i++)
        if (!strcmp(s->locks[i].name, name)) return &s->locks[i];
    return NULL;
}

static double rate(uint64_t now, uint64_t before, double dt) {
    return now > before ? (double)(now - before) / dt : 0.0;
}

int live_load(const ls_opts *o, ls_report *r) {
    char err[HKSS_ERRLEN] = "";
    hkss_segment *seg = NULL;
    int rc = o->segment ? hkss_open_file(o->segment, &seg, err, sizeof err)
                        : hkss_open_pid((pid_t)o->pid, &seg, err, sizeof err);
    if (rc != HKSS_OK) {
        char one[HKSS_ERRLEN];
        printable(one, sizeof one, err[0] ? err : "cannot open the stats segment");
        fprintf(stderr, "%s: %s\n", progname, one);
        return 1;
    }
    const hkss_info *info = hkss_info_of(seg);
    r->live = 1;
    r->pid = info->pid;
    printable(r->command, sizeof r->command, info->cmdline);
    hkss_snapshot a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ret = 1;
    if (hkss_read(seg, &a, err, sizeof err) != HKSS_OK) goto read_err;
    const hkss_snapshot *last = &a;
    double dt = 0;
    if (!o->segment && o->delay > 0) {
        sleep_s(o->delay);
        if (hkss_read(seg, &b, err, sizeof err) != HKSS_OK) goto read_err;
        last = &b;
        dt = (double)(b.mono_ns - a.mono_ns) / 1e9;
        if (dt <= 0) dt = o->delay;
        r->exited = hkss_alive(seg) == 0;
    }
    r->interval_s = dt;
    for (uint32_t i = 0; i < last->nlocks; i++) {
        const hkss_lock *x = &last->locks[i];
        ls_lock *l = report_lock(r, x->name, x->c.id);
        l->acquisitions = x->c.acquisitions;
        l->contended = x->c.contended;
        l->wait_ns = x->c.wait_ns;
        l->wait_max_ns = x->c.wait_max_ns;
        l->hold_ns = x->c.hold_ns;
        l->hold_max_ns = x->c.hold_max_ns;
        l->hold_count = x->c.hold_count;
        l->owner_switches = x->c.owner_switches;
        if (dt > 0) {
            const hkss_lock *y = find(&a, x->name);
            hks_lock zero;
            memset(&zero, 0, sizeof zero);
            const hks_lock *p = y ? &y->c : &zero;
            l->have_rate = 1;
            l->acq_rate = rate(x->c.acquisitions, p->acquisitions, dt);
            l->cont_rate = rate(x->c.contended, p->contended, dt);
            l->wait_rate = rate(x->c.wait_ns, p->wait_ns, dt);
            l->hold_rate = rate(x->c.hold_ns, p->hold_ns, dt);
        }
    }
    ret = 0;
    goto out;
read_err:;
    char one[HKSS_ERRLEN];
    printable(one, sizeof one, err[0] ? err : "cannot read the stats segment");
    fprintf(stderr, "%s: %s\n", progname, one);
out:
    hkss_snapshot_free(&a);
    hkss_snapshot_free(&b);
    hkss_close(seg);
    return ret;
}
