/* list.c - the processes that have a hakmem segment: pid, command, RSS,
 * live bytes and threads, for `hakmem-top` without -p (batch prints them,
 * the screen lets you pick one: see list_pick in screen.c). */
#include "top.h"

#include <stdlib.h>
#include <string.h>

int list_procs(top_proc **out, char *err, size_t errlen) {
    pid_t *pids;
    size_t n;
    *out = NULL;
    if (hkss_list(&pids, &n, err, errlen)) return -1;
    top_proc *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        free(pids);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    hkss_snapshot snap;
    memset(&snap, 0, sizeof snap);
    for (size_t i = 0; i < n; i++) {
        top_proc *t = &p[i];
        t->pid = pids[i];
        hkss_proc_comm(t->pid, t->comm, sizeof t->comm);
        t->rss = hkss_proc_rss(t->pid);
        hkss_segment *seg;
        char e[HKSS_ERRLEN];
        if (hkss_open_pid(t->pid, &seg, e, sizeof e) != HKSS_OK) {
            snprintf(t->note, sizeof t->note, "%s", e);
            continue;
        }
        if (hkss_read(seg, &snap, e, sizeof e) == HKSS_OK) {
            t->readable = 1;
            t->live_bytes = hkss_live_bytes(hkss_info_of(seg), &snap.sum);
            t->threads = snap.nthreads + snap.threads_overflow;
        } else {
            snprintf(t->note, sizeof t->note, "%s", e);
        }
        hkss_close(seg);
    }
    hkss_snapshot_free(&snap);
    free(pids);
    *out = p;
    return (int)n;
}
