/* reader_child.c - hkr_read (reader.h): the babeltrace2 graph runs in a
 * child process; its events come back over a pipe and the callbacks run
 * in the caller's process.
 *
 * Why: babeltrace 2.0.4 crashes on some damaged traces (SIGSEGV or a
 * GLib abort on a sequence whose length field is damaged, assertion and
 * precondition aborts on duplicate member names in the metadata...), and
 * nothing short of a second CTF decoder could rule all of them out
 * beforehand.  In a child such a crash becomes "DIR: cannot read trace:
 * babeltrace2 crashed (...)", an error like any other, never the tool's
 * crash.  The child also has a start-up watchdog (babeltrace2 must parse
 * the metadata and index the streams within READY_TIMEOUT_S: it can loop
 * forever on some corrupt metadata), a memory cap (a damaged sequence
 * length makes it allocate without bound) and dies with its parent.
 *
 * Cost: the child decodes while the callbacks run here; the pipe adds
 * about 15% CPU (2.3 M events: 0.80 s -> 0.93 s), and about nothing to
 * the wall time when the second core is free.
 *
 * Wire format, child to parent (same binary at both ends: host byte
 * order).  Records:
 *   'C' u32 len, bytes           a new event class name (indexes 0, 1...)
 *   'E' u32 class, u32 has, i64 ts_ns, vpid, vtid, then one u64 per
 *       integer field present (HKR_F_ order), then, with a lock name,
 *       a string: u32 len + 1 (0: NULL), bytes
 *   'D' u8 kind, has_count, has_times, u64 count, i64 begin_ns, end_ns,
 *       u64 stream_id, string stream_name, string trace_name
 *   'R' metadata parsed, streams indexed (stops the watchdog)
 *   'X' string message           the read failed; the child exits 1
 *   'Z'                          the read completed; the child exits 0
 * The parent checks every index and length it is sent.
 */
#include "reader_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WIRE_BUF 65536
#define MAX_STR 4096                    /* longer strings are cut      */
#define READY_TIMEOUT_S 60
#define CHILD_MEM_MB 2048               /* babeltrace2 needs ~20 MB    */

/* ---- child: the writer ----------------------------------------------- */

struct wire {
    int fd;
    size_t n;
    const char **key;                   /* class name pointer -> index */
    uint32_t *idx;
    size_t cap, ncls;
    unsigned char buf[WIRE_BUF];
};

static void w_flush(struct wire *w)
{
    size_t off = 0;
    while (off < w->n) {
        ssize_t k = write(w->fd, w->buf + off, w->n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) _exit(2);           /* the reader is gone          */
        off += (size_t)k;
    }
    w->n = 0;
}

/* Room for one record: the largest is a discard with two strings. */
static void w_room(struct wire *w)
{
    if (w->n + 2 * MAX_STR + 256 > sizeof w->buf) w_flush(w);
}

static void w_put(struct wire *w, const void *p, size_t n)
{
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}
static void w_u8(struct wire *w, unsigned v) { w->buf[w->n++] = (unsigned char)v; }
static void w_u32(struct wire *w, uint32_t v) { w_put(w, &v, sizeof v); }
static void w_u64(struct wire *w, uint64_t v) { w_put(w, &v, sizeof v); }

static void w_str(struct wire *w, const char *s)
{
    size_t len = s ? strnlen(s, MAX_STR) : 0;
    w_u32(w, s ? (uint32_t)len + 1 : 0);
    if (len) w_put(w, s, len);
}

static uint32_t w_class(struct wire *w, const char *name)
{
    size_t h = ((uintptr_t)name >> 4) * 0x9e3779b97f4a7c15ull >> 32;
    for (size_t i = h & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
        if (w->key[i] == name) return w->idx[i];
        if (w->key[i]) continue;
        if ((w->ncls + 1) * 2 > w->cap) {
            size_t ncap = w->cap * 2;
            const char **nk = calloc(ncap, sizeof *nk);
            uint32_t *ni = calloc(ncap, sizeof *ni);
            if (!nk || !ni) _exit(3);
            for (size_t j = 0; j < w->cap; j++) {
                if (!w->key[j]) continue;
                size_t k = (((uintptr_t)w->key[j] >> 4) * 0x9e3779b97f4a7c15ull >> 32) & (ncap - 1);
                while (nk[k]) k = (k + 1) & (ncap - 1);
                nk[k] = w->key[j];
                ni[k] = w->idx[j];
            }
            free(w->key);
            free(w->idx);
            w->key = nk;
            w->idx = ni;
            w->cap = ncap;
            return w_class(w, name);
        }
        w->key[i] = name;
        w->idx[i] = (uint32_t)w->ncls++;
        w_room(w);
        w_u8(w, 'C');
        w_str(w, name);
        return w->idx[i];
    }
}

static int child_event(const struct hkr_event *ev, void *arg)
{
    struct wire *w = arg;
    uint32_t cls = w_class(w, ev->full_name);
    w_room(w);
    w_u8(w, 'E');
    w_u32(w, cls);
    w_u32(w, ev->has);
    w_u64(w, (uint64_t)ev->ts_ns);
    w_u64(w, (uint64_t)ev->vpid);
    w_u64(w, (uint64_t)ev->vtid);
    for (uint32_t h = ev->has & ((1u << HKR_F_NINT) - 1); h; h &= h - 1)
        w_u64(w, hkr_field(ev, (enum hkr_field)__builtin_ctz(h)));
    if (HKR_HAS(ev, LOCK_NAME)) w_str(w, ev->lock_name);
    return 0;
}

static int child_discard(const struct hkr_discard *d, void *arg)
{
    struct wire *w = arg;
    w_room(w);
    w_u8(w, 'D');
    w_u8(w, (unsigned)d->kind);
    w_u8(w, d->has_count != 0);
    w_u8(w, d->has_times != 0);
    w_u64(w, d->count);
    w_u64(w, (uint64_t)d->begin_ns);
    w_u64(w, (uint64_t)d->end_ns);
    w_u64(w, d->stream_id);
    w_str(w, d->stream_name);
    w_str(w, d->trace_name);
    return 0;
}

static void child_ready(void *arg)
{
    struct wire *w = arg;
    w_room(w);
    w_u8(w, 'R');
    w_flush(w);
}

/* babeltrace 2.0.4 allocates a field object per element as soon as it
 * reads a sequence's length: a damaged length of 2^40 allocates until the
 * machine runs out of memory.  Cap what the child may allocate (heap and
 * private mappings) above what it holds now; past the cap GLib aborts,
 * which is then reported as a crash.  Relative to the current size so
 * that an ASan build (terabytes of shadow mappings) works the same. */
static void child_limit_memory(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %llu kB", &kb) == 1) break;
    fclose(f);
    if (!kb) return;
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) != 0) return;
    rlim_t want = (rlim_t)(kb * 1024 + ((unsigned long long)CHILD_MEM_MB << 20));
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_DATA, &rl);
    }
}

static void __attribute__((noreturn))
child_main(int fd, pid_t parent, const char *dir, char **dirs, int ndirs)
{
    /* Die with the reader (a tool killed by a timeout must not leave a
     * babeltrace2 loop behind). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(2);
    /* The caller's handlers (e.g. hakmem-trace forwarding SIGINT to the
     * program it traced) mean nothing here: a Ctrl-C ends the child. */
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            signal(sigs[i], SIG_DFL);
    }
    child_limit_memory();
    struct wire *w = calloc(1, sizeof *w);
    if (!w) _exit(3);
    w->fd = fd;
    w->cap = 64;
    w->key = calloc(w->cap, sizeof *w->key);
    w->idx = calloc(w->cap, sizeof *w->idx);
    if (!w->key || !w->idx) _exit(3);
    struct hkr_callbacks cb = { child_event, child_discard, w };
    char err[HKR_ERRLEN] = "";
    int rc = hkr_read_inproc(dir, dirs, ndirs, &cb, NULL, err, child_ready, w);
    w_room(w);
    if (rc == 0) {
        w_u8(w, 'Z');
    } else {
        w_u8(w, 'X');
        w_str(w, err[0] ? err : "cannot read the trace");
    }
    w_flush(w);
    _exit(rc == 0 ? 0 : 1);
}

/* ---- parent: the reader ---------------------------------------------- */

struct rd {
    int fd;
    int ready;                          /* 'R' seen                    */
    int timed_out;
    int garbled;                        /* a length out of bounds      */
    struct timespec deadline;
    size_t off, len;
    char s1[MAX_STR + 1], s2[MAX_STR + 1];
    unsigned char buf[2 * WIRE_BUF];
};

/* Make n bytes available at buf + off; -1 at end of data (or timeout). */
static int rd_need(struct rd *r, size_t n)
{
    if (r->len - r->off >= n) return 0;
    if (n > sizeof r->buf) return -1;
    memmove(r->buf, r->buf + r->off, r->len - r->off);
    r->len -= r->off;
    r->off = 0;
    while (r->len < n) {
        if (!r->ready) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (long)(r->deadline.tv_sec - now.tv_sec) * 1000 +
                      (r->deadline.tv_nsec - now.tv_nsec) / 1000000;
            if (ms <= 0) { r->timed_out = 1; return -1; }
            struct pollfd p = { r->fd, POLLIN, 0 };
            int k = poll(&p, 1, (int)(ms > 1000 ? 1000 : ms));
            if (k < 0 && errno != EINTR) return -1;
            if (k <= 0) continue;
        }
        ssize_t k = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        r->len += (size_t)k;
    }
    return 0;
}

static int rd_take(struct rd *r, void *p, size_t n)
{
    if (rd_need(r, n)) return -1;
    memcpy(p, r->buf + r->off, n);
    r->off += n;
    return 0;
}

/* A string into out[MAX_STR + 1]; *isnull for a NULL one. */
static int rd_str(struct rd *r, char *out, int *isnull)
{
    uint32_t len;
    if (rd_take(r, &len, sizeof len)) return -1;
    if (len > MAX_STR + 1) {
        r->garbled = 1;
        return -1;
    }
    *isnull = len == 0;
    if (len) len--;
    if (rd_take(r, out, len)) return -1;
    out[len] = 0;
    return 0;
}

struct pclass {
    char             *full;
    const char       *name;
    enum hkr_provider prov;
    enum hkr_event_id id;
};

/* The most telling line of what the child wrote on stderr before it died:
 * babeltrace2's assertion or precondition text, an ASan summary...,
 * without its log prefix. */
static void crash_line(int fd, char *out, size_t outlen)
{
    out[0] = 0;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0) return;
    char buf[8192];
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - from), from);
    if (n <= 0) return;
    buf[n] = 0;
    const char *best = NULL;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        if (next) *next++ = 0;
        if (!len || strstr(line, "Aborting...") || strstr(line, "ABORTING") ||
            strstr(line, "error is:"))
            continue;
        if (best && !strncmp(best, "SUMMARY:", 8)) continue;
        best = line;
    }
    if (!best) return;
    /* babeltrace2 log lines: "DATE TIME PID TID L TAG func@file.c:N text". */
    const char *at = strchr(best, '@');
    if (at && best[0] >= '0' && best[0] <= '9') {
        const char *sp = strchr(at, ' ');
        if (sp) best = sp + 1;
    }
    /* babeltrace2's assertions start with a table-flip decoration. */
    const char *flip = strstr(best, "\xe2\x94\xbb\xe2\x94\x81\xe2\x94\xbb");   /* U+253B U+2501 U+253B */
    if (flip) best = flip + 9;
    while (*best == ' ') best++;
    size_t k = 0;
    for (; *best && k + 1 < outlen; best++)
        out[k++] = (*best >= 0x20 && *best < 0x7f) ? *best : '?';
    out[k] = 0;
}

static int parent_loop(struct rd *r, const char *dir, const struct hkr_callbacks *cb,
                       struct hkr_stats *st, char *errbuf, int *done)
{
    struct pclass *cls = NULL;
    size_t ncls = 0, cap = 0;
    struct hkr_event ev;
    memset(&ev, 0, sizeof ev);
    char *s1 = r->s1, *s2 = r->s2;
    int ret = 0, null1, null2;
    for (;;) {
        unsigned char type;
        if (rd_take(r, &type, 1)) break;
        if (type == 'E') {
            uint32_t c, has;
            uint64_t hdr[3];
            if (rd_take(r, &c, 4) || rd_take(r, &has, 4) || rd_take(r, hdr, sizeof hdr)) break;
            if (c >= ncls || has >> (HKR_F_LOCK_NAME + 1)) goto protocol;
            for (uint32_t h = ev.has & ((1u << HKR_F_NINT) - 1); h; h &= h - 1)
                *(uint64_t *)((char *)&ev + hkr_field_offset(__builtin_ctz(h))) = 0;
            ev.lock_name = NULL;
            ev.provider = cls[c].prov;
            ev.id = cls[c].id;
            ev.name = cls[c].name;
            ev.full_name = cls[c].full;
            ev.index = st->events;
            ev.has = has;
            ev.ts_ns = (int64_t)hdr[0];
            ev.vpid = (int64_t)hdr[1];
            ev.vtid = (int64_t)hdr[2];
            for (uint32_t h = has & ((1u << HKR_F_NINT) - 1); h; h &= h - 1)
                if (rd_take(r, (char *)&ev + hkr_field_offset(__builtin_ctz(h)), 8)) goto eof;
            if (HKR_HAS(&ev, LOCK_NAME)) {
                if (rd_str(r, s1, &null1)) break;
                ev.lock_name = null1 ? NULL : s1;
            }
            st->events++;
            if ((ret = cb->event(&ev, cb->arg)) != 0) { *done = 'S'; break; }
        } else if (type == 'C') {
            if (rd_str(r, s1, &null1)) break;
            if (ncls == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct pclass *n = realloc(cls, ncap * sizeof *n);
                if (!n) goto oom;
                cls = n;
                cap = ncap;
            }
            if (!(cls[ncls].full = strdup(null1 ? "?" : s1))) goto oom;
            hkr_classify(cls[ncls].full, &cls[ncls].prov, &cls[ncls].id, &cls[ncls].name);
            ncls++;
        } else if (type == 'D') {
            unsigned char b[3];
            uint64_t v[4];
            if (rd_take(r, b, 3) || rd_take(r, v, sizeof v) || rd_str(r, s1, &null1) ||
                rd_str(r, s2, &null2))
                break;
            struct hkr_discard d;
            memset(&d, 0, sizeof d);
            d.kind = b[0] == HKR_DISCARDED_PACKETS ? HKR_DISCARDED_PACKETS : HKR_DISCARDED_EVENTS;
            d.has_count = b[1];
            d.has_times = b[2];
            d.count = v[0];
            d.begin_ns = (int64_t)v[1];
            d.end_ns = (int64_t)v[2];
            d.stream_id = v[3];
            d.stream_name = null1 ? NULL : s1;
            d.trace_name = null2 ? NULL : s2;
            hkr_stats_discard(st, &d);
            if (cb->discarded && (ret = cb->discarded(&d, cb->arg)) != 0) { *done = 'S'; break; }
        } else if (type == 'R') {
            r->ready = 1;
        } else if (type == 'X') {
            if (rd_str(r, s1, &null1)) break;
            hkr_seterr(errbuf, "%s", s1);
            *done = 'X';
            break;
        } else if (type == 'Z') {
            *done = 'Z';
            break;
        } else {
            goto protocol;
        }
    }
eof:
    if (!r->garbled) goto out;
protocol:
    hkr_seterr(errbuf, "%s: cannot read trace: garbled data from the reader process", dir);
    *done = 'P';
    goto out;
oom:
    hkr_seterr(errbuf, "out of memory");
    *done = 'P';
out:
    for (size_t i = 0; i < ncls; i++) free(cls[i].full);
    free(cls);
    return ret;
}

int hkr_read(const char *dir, const struct hkr_callbacks *cb, struct hkr_stats *stats,
             char errbuf[HKR_ERRLEN])
{
    char localerr[HKR_ERRLEN];
    if (!errbuf) errbuf = localerr;
    errbuf[0] = 0;
    struct hkr_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!cb || !cb->event) {
        hkr_seterr(errbuf, "hkr_read: no event callback");
        return -1;
    }
    char **dirs;
    int ndirs = hkr_trace_dirs(dir, &dirs, errbuf);
    if (ndirs < 0) return -1;
    for (int i = 0; i < ndirs; i++)
        if (hkr_check_trace_dir(dirs[i], errbuf) != 0) {
            hkr_free_dirs(dirs, ndirs);
            return -1;
        }
    st.traces = (unsigned)ndirs;

    int ret = -1, fds[2] = { -1, -1 };
    int errfd = memfd_create("hkr-reader-stderr", MFD_CLOEXEC);
    struct rd *r = malloc(sizeof *r);
    if (errfd < 0 || !r || pipe2(fds, O_CLOEXEC) != 0) {
        hkr_seterr(errbuf, "%s: cannot read trace: %s", dir, strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    /* Nothing buffered for the child to write out a second time. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        hkr_seterr(errbuf, "%s: cannot read trace: fork: %s", dir, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(errfd, 2);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        child_main(fds[1], parent, dir, dirs, ndirs);
    }
    close(fds[1]);
    fds[1] = -1;
    /* Fewer wake-ups: a larger pipe (best effort, capped by
     * /proc/sys/fs/pipe-max-size for unprivileged users). */
    fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    memset(r, 0, offsetof(struct rd, buf));
    r->fd = fds[0];
    clock_gettime(CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += READY_TIMEOUT_S;
    int done = 0;
    int rc = parent_loop(r, dir, cb, &st, errbuf, &done);
    if (done != 'Z' && done != 'X') kill(pid, SIGKILL);
    close(fds[0]);
    fds[0] = -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (done == 'S') {
        ret = rc;
    } else if (done == 'Z' && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ret = 0;
    } else if (done == 'X' || done == 'P') {
        ret = -1;
    } else if (r->timed_out) {
        hkr_seterr(errbuf, "%s: cannot read trace: babeltrace2 did not parse its metadata and "
                   "index its streams within %d s (corrupt metadata?)", dir, READY_TIMEOUT_S);
    } else {
        char line[HKR_ERRLEN / 2];
        crash_line(errfd, line, sizeof line);
        char how[64];
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        int crash = !sig || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGFPE ||
                    sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
        if (sig)
            snprintf(how, sizeof how, "%s (signal %d, %s)", crash ? "crashed" : "was killed",
                     sig, strsignal(sig));
        else
            snprintf(how, sizeof how, "failed (exit %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        hkr_seterr(errbuf, "%s: cannot read trace: babeltrace2 %s decoding it%s%s", dir, how,
                   line[0] ? ": " : crash ? " (corrupt trace?)" : "", line);
    }
out:
    if (stats) *stats = st;
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    if (errfd >= 0) close(errfd);
    free(r);
    hkr_free_dirs(dirs, ndirs);
    return ret;
}
