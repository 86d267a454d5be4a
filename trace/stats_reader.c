/* stats_reader.c - validated reader of hakmem stats segments (see
 * stats_reader.h for the rules it keeps against a hostile writer). */
#include "stats_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEMFD_LINK "/memfd:" HKS_MEMFD_NAME

struct hkss_segment {
    const unsigned char *base;   /* mapping or private copy               */
    size_t   size;               /* bytes readable at base                */
    int      mapped;             /* base is a mapping (else malloc'ed)    */
    pid_t    pid;                /* 0 for a file or buffer                */
    int      pidfd;              /* -1 when unavailable                   */
    hkss_info info;
    /* geometry, from the validated copy of the header */
    uint64_t global_offset, locks_offset, threads_offset;
    char     path[320];
};

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int status, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

static uint64_t now_ns(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every read of segment memory goes through these: one load per word. */
static uint64_t ld64(const unsigned char *p) {
    return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
}
static uint32_t ld32(const unsigned char *p) {
    return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
}
static void copy_words(void *dst, const unsigned char *src, size_t bytes) {
    uint64_t *d = dst;
    for (size_t i = 0; i < bytes / 8; i++) d[i] = ld64(src + 8 * i);
}

static void printable(char *s, size_t n) {
    s[n - 1] = 0;
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f) s[i] = '?';
    }
}

/* ---- header validation ---------------------------------------------- */

static int section_ok(uint64_t off, uint64_t len, uint64_t total) {
    return off % 64 == 0 && off <= total && len <= total - off;
}

/* Validate a copy of the header against `avail` readable bytes. */
static int validate(hkss_segment *s, const hks_header *h, uint64_t avail,
                    char *err, size_t errlen) {
    if (h->magic != HKS_MAGIC)
        return fail(err, errlen, HKSS_ECORRUPT, "%s: not a hakmem stats segment (bad magic)", s->path);
    if (h->abi_version != HKS_ABI_VERSION)
        return fail(err, errlen, HKSS_EVERSION,
                    "%s: stats segment ABI version %u is not supported (this reader knows version %u); "
                    "use the tools of the same hakmem release", s->path, h->abi_version, HKS_ABI_VERSION);
    if (h->header_size != sizeof(hks_header) || h->global_size != sizeof(hks_global) ||
        h->lock_size != sizeof(hks_lock) || h->thread_size != sizeof(hks_thread))
        return fail(err, errlen, HKSS_ECORRUPT,
                    "%s: corrupt stats segment: section sizes %u/%u/%u/%u, expected %zu/%zu/%zu/%zu",
                    s->path, h->header_size, h->global_size, h->lock_size, h->thread_size,
                    sizeof(hks_header), sizeof(hks_global), sizeof(hks_lock), sizeof(hks_thread));
    if (h->total_size < sizeof(hks_header) || h->total_size > avail || h->total_size > HKSS_MAX_SEGMENT)
        return fail(err, errlen, HKSS_ECORRUPT,
                    "%s: corrupt stats segment: total size %llu (readable %llu, limit %u)", s->path,
                    (unsigned long long)h->total_size, (unsigned long long)avail, HKSS_MAX_SEGMENT);
    if (h->class_count != HKS_TINY_CLASSES)
        return fail(err, errlen, HKSS_ECORRUPT, "%s: corrupt stats segment: %u classes (expected %d)",
                    s->path, h->class_count, HKS_TINY_CLASSES);
    for (int c = 0; c < HKS_TINY_CLASSES; c++)
        if (h->class_size[c] == 0 || h->class_size[c] > (1u << 20) ||
            (c && h->class_size[c] <= h->class_size[c - 1]))
            return fail(err, errlen, HKSS_ECORRUPT, "%s: corrupt stats segment: class C%d size %u",
                        s->path, c, h->class_size[c]);
    if (h->ultrahot_mask >> HKS_TINY_CLASSES)
        return fail(err, errlen, HKSS_ECORRUPT, "%s: corrupt stats segment: UltraHot mask %#x",
                    s->path, h->ultrahot_mask);
    if (h->lock_count > HKSS_MAX_LOCKS || h->thread_capacity < HKS_FIRST_THREAD_BLOCK)
        return fail(err, errlen, HKSS_ECORRUPT,
                    "%s: corrupt stats segment: %u lock records, %u thread blocks", s->path,
                    h->lock_count, h->thread_capacity);
    uint64_t total = h->total_size;
    uint64_t locks_len = (uint64_t)h->lock_count * sizeof(hks_lock);
    uint64_t threads_len = (uint64_t)h->thread_capacity * sizeof(hks_thread);
    if (!section_ok(h->global_offset, sizeof(hks_global), total) ||
        !section_ok(h->locks_offset, locks_len, total) ||
        !section_ok(h->threads_offset, threads_len, total) ||
        h->global_offset < sizeof(hks_header) ||
        h->global_offset + sizeof(hks_global) > h->locks_offset ||
        h->locks_offset + locks_len > h->threads_offset)
        return fail(err, errlen, HKSS_ECORRUPT,
                    "%s: corrupt stats segment: sections at %u/%u/%u do not fit in %llu bytes",
                    s->path, h->global_offset, h->locks_offset, h->threads_offset,
                    (unsigned long long)total);
    hkss_info *in = &s->info;
    in->pid = h->pid;
    in->uid = h->uid;
    in->abi_version = h->abi_version;
    in->start_time_ns = h->start_time_ns;
    in->total_size = total;
    memcpy(in->class_size, h->class_size, sizeof in->class_size);
    in->ultrahot_mask = h->ultrahot_mask;
    memcpy(in->tier_max, h->tier_max, sizeof in->tier_max);
    in->thread_capacity = h->thread_capacity;
    in->lock_count = h->lock_count;
    memcpy(in->cmdline, h->cmdline, sizeof in->cmdline);
    printable(in->cmdline, sizeof in->cmdline);
    s->global_offset = h->global_offset;
    s->locks_offset = h->locks_offset;
    s->threads_offset = h->threads_offset;
    return HKSS_OK;
}

static int load_header(hkss_segment *s, char *err, size_t errlen) {
    if (s->size < sizeof(hks_header))
        return fail(err, errlen, HKSS_ECORRUPT, "%s: not a hakmem stats segment (%zu bytes)",
                    s->path, s->size);
    hks_header h;
    memset(&h, 0, sizeof h);
    copy_words(&h, s->base, sizeof h);
    return validate(s, &h, s->size, err, errlen);
}

/* ---- opening --------------------------------------------------------- */

static hkss_segment *seg_new(const char *path) {
    hkss_segment *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->pidfd = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    return s;
}

static int open_copy(const void *buf, size_t len, const char *name, hkss_segment **out,
                     char *err, size_t errlen) {
    *out = NULL;
    if (len > HKSS_MAX_SEGMENT)
        return fail(err, errlen, HKSS_ECORRUPT, "%s: %zu bytes exceeds the %u byte segment limit",
                    name, len, HKSS_MAX_SEGMENT);
    hkss_segment *s = seg_new(name);
    size_t alloc = (len + 63) & ~(size_t)63;
    void *copy = aligned_alloc(64, alloc ? alloc : 64);
    if (!s || !copy) { free(s); free(copy); return fail(err, errlen, HKSS_ENOMEM, "out of memory"); }
    memset(copy, 0, alloc ? alloc : 64);
    if (len) memcpy(copy, buf, len);
    s->base = copy;
    s->size = len;
    int rc = load_header(s, err, errlen);
    if (rc) { hkss_close(s); return rc; }
    *out = s;
    return HKSS_OK;
}

int hkss_open_buffer(const void *buf, size_t len, hkss_segment **out, char *err, size_t errlen) {
    return open_copy(buf, len, "(buffer)", out, err, errlen);
}

int hkss_open_file(const char *path, hkss_segment **out, char *err, size_t errlen) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return fail(err, errlen, HKSS_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, HKSS_EIO, "%s: not a regular file", path);
    }
    if (st.st_size > (off_t)HKSS_MAX_SEGMENT) {
        close(fd);
        return fail(err, errlen, HKSS_ECORRUPT, "%s: %lld bytes exceeds the %u byte segment limit",
                    path, (long long)st.st_size, HKSS_MAX_SEGMENT);
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) { close(fd); return fail(err, errlen, HKSS_ENOMEM, "out of memory"); }
    while (got < len) {   /* the file may shrink under us: a short read is fine */
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(err, errlen, HKSS_EIO, "%s: %s", path, strerror(e));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    int rc = open_copy(buf, got, path, out, err, errlen);
    free(buf);
    return rc;
}

static int is_memfd_link(int dirfd, const char *name) {
    char target[128];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return strncmp(target, MEMFD_LINK, strlen(MEMFD_LINK)) == 0;
}

/* Open one candidate /proc/PID/fd/N: ownership, seals, size, header. */
static int attach_fd(hkss_segment *s, pid_t pid, uid_t proc_uid, const char *name,
                     char *err, size_t errlen) {
    snprintf(s->path, sizeof s->path, "/proc/%d/fd/%s", (int)pid, name);
    /* O_NONBLOCK: a FIFO behind a crafted link must not block us */
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            return fail(err, errlen, HKSS_EPERM, "%s: permission denied (segment of another user?)", s->path);
        return fail(err, errlen, HKSS_EIO, "%s: %s", s->path, strerror(errno));
    }
    struct stat st;
    int rc = HKSS_OK;
    uid_t me = getuid();
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(err, errlen, HKSS_ECORRUPT, "%s: not a regular file", s->path);
    } else if (st.st_uid != proc_uid || (me != 0 && st.st_uid != me)) {
        rc = fail(err, errlen, HKSS_EPERM,
                  "segment of process %d is owned by uid %u (process uid %u, you are uid %u): refused",
                  (int)pid, (unsigned)st.st_uid, (unsigned)proc_uid, (unsigned)me);
    } else if ((st.st_mode & 077) != 0) {
        rc = fail(err, errlen, HKSS_EPERM, "segment of process %d is readable by others (mode %03o): refused",
                  (int)pid, (unsigned)(st.st_mode & 0777));
    } else {
        int seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || !(seals & F_SEAL_SHRINK))
            rc = fail(err, errlen, HKSS_ECORRUPT,
                      "%s: segment is not sealed against shrinking (not made by hakmem): refused", s->path);
        else if (st.st_size < (off_t)sizeof(hks_header) || st.st_size > (off_t)HKSS_MAX_SEGMENT)
            rc = fail(err, errlen, HKSS_ECORRUPT, "%s: segment of %lld bytes: refused", s->path,
                      (long long)st.st_size);
    }
    if (rc == HKSS_OK) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) rc = fail(err, errlen, HKSS_EIO, "%s: mmap: %s", s->path, strerror(errno));
        else { s->base = p; s->size = (size_t)st.st_size; s->mapped = 1; }
    }
    close(fd);
    if (rc == HKSS_OK) rc = load_header(s, err, errlen);
    if (rc == HKSS_OK && s->info.pid != (uint32_t)pid)
        rc = fail(err, errlen, HKSS_ECORRUPT, "%s: segment names pid %u, not %d (inherited across fork?)",
                  s->path, s->info.pid, (int)pid);
    if (rc == HKSS_OK && s->info.uid != (uint32_t)st.st_uid)
        rc = fail(err, errlen, HKSS_EPERM, "%s: segment names uid %u but is owned by uid %u: refused",
                  s->path, s->info.uid, (unsigned)st.st_uid);
    if (rc != HKSS_OK && s->mapped) {
        munmap((void *)s->base, s->size);
        s->base = NULL;
        s->mapped = 0;
    }
    return rc;
}

int hkss_open_pid(pid_t pid, hkss_segment **out, char *err, size_t errlen) {
    *out = NULL;
    if (pid <= 0) return fail(err, errlen, HKSS_ENOPROC, "no process with pid %d", (int)pid);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(dir, &st) != 0) return fail(err, errlen, HKSS_ENOPROC, "no process with pid %d", (int)pid);
    char comm[64];
    hkss_proc_comm(pid, comm, sizeof comm);
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return fail(err, errlen, HKSS_ENOPROC, "no process with pid %d", (int)pid);
        if (errno == EACCES || errno == EPERM)
            return fail(err, errlen, HKSS_EPERM,
                        "process %d (%s) belongs to uid %u (you are uid %u): cannot read its segment",
                        (int)pid, comm, (unsigned)st.st_uid, (unsigned)getuid());
        return fail(err, errlen, HKSS_EIO, "%s: %s", dir, strerror(errno));
    }
    hkss_segment *s = seg_new("");
    if (!s) { closedir(d); return fail(err, errlen, HKSS_ENOMEM, "out of memory"); }
    int rc = HKSS_ENOSEG, found = 0;
    char lasterr[HKSS_ERRLEN] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_memfd_link(dirfd(d), e->d_name)) continue;
        found++;
        rc = attach_fd(s, pid, st.st_uid, e->d_name, lasterr, sizeof lasterr);
        if (rc == HKSS_OK) break;
    }
    closedir(d);
    if (rc != HKSS_OK) {
        free(s);
        if (!found)
            return fail(err, errlen, HKSS_ENOSEG,
                        "process %d (%s) has no hakmem stats segment (not running with libhakmem.so, "
                        "or HAKMEM_STATS=0)", (int)pid, comm);
        return fail(err, errlen, rc, "%s", lasterr);
    }
    s->pid = pid;
    s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    *out = s;
    return HKSS_OK;
}

const hkss_info *hkss_info_of(const hkss_segment *s) { return &s->info; }
const char *hkss_path_of(const hkss_segment *s) { return s->path; }

int hkss_alive(hkss_segment *s) {
    if (!s->pid) return -1;
    if (s->pidfd >= 0) {
        struct pollfd p = { .fd = s->pidfd, .events = POLLIN };
        int r = poll(&p, 1, 0);
        if (r >= 0) return r == 0;
    }
    if (kill(s->pid, 0) != 0 && errno == ESRCH) return 0;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)s->pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

void hkss_close(hkss_segment *s) {
    if (!s) return;
    if (s->mapped) munmap((void *)s->base, s->size);
    else free((void *)s->base);
    if (s->pidfd >= 0) close(s->pidfd);
    free(s);
}

void hkss_snapshot_free(hkss_snapshot *snap) {
    free(snap->threads);
    free(snap->locks);
    memset(snap, 0, sizeof *snap);
}

/* ---- sampling -------------------------------------------------------- */

static void add_block(hks_thread *sum, const hks_thread *b) {
    uint64_t *o = (uint64_t *)sum;
    const uint64_t *w = (const uint64_t *)b;
    for (size_t i = HKS_COUNTER_WORD0; i < HKS_THREAD_WORDS; i++) {
        if (HKS_IS_GAUGE_WORD(i)) { if (w[i] > o[i]) o[i] = w[i]; }
        else o[i] += w[i];
    }
}

int hkss_grow(void **arr, uint32_t *alloc, uint32_t need, size_t elem) {
    if (need <= *alloc) return 0;
    uint32_t n = *alloc ? *alloc : 16;
    while (n < need) n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return -1;
    *arr = p;
    *alloc = n;
    return 0;
}

int hkss_read(hkss_segment *s, hkss_snapshot *snap, char *err, size_t errlen) {
    const unsigned char *b = s->base;
    uint64_t cap = s->info.thread_capacity;
    snap->mono_ns = now_ns(CLOCK_MONOTONIC);
    snap->real_ns = now_ns(CLOCK_REALTIME);
    snap->consistent = 0;
    for (int attempt = 0; attempt < 32 && !snap->consistent; attempt++) {
        uint64_t end = __atomic_load_n((const uint64_t *)(const void *)(b + offsetof(hks_header, fold_end)),
                                       __ATOMIC_ACQUIRE);
        uint64_t high = ld64(b + offsetof(hks_header, thread_high));
        if (high > cap) high = cap;
        memset(&snap->sum, 0, sizeof snap->sum);
        memset(&snap->retired, 0, sizeof snap->retired);
        memset(&snap->shared, 0, sizeof snap->shared);
        snap->nthreads = 0;
        snap->bad_blocks = 0;
        for (uint64_t i = 0; i < high; i++) {
            const unsigned char *blk = b + s->threads_offset + i * sizeof(hks_thread);
            uint32_t state = ld32(blk + offsetof(hks_thread, state));
            if (state == HKS_BLOCK_FREE) continue;
            hks_thread copy;
            copy_words(&copy, blk, sizeof copy);
            copy.state = state;
            if (state == HKS_BLOCK_RETIRED && i == HKS_RETIRED_BLOCK) snap->retired = copy;
            else if (state == HKS_BLOCK_SHARED && i == HKS_SHARED_BLOCK) snap->shared = copy;
            else if (state == HKS_BLOCK_LIVE && i >= HKS_FIRST_THREAD_BLOCK) {
                if (hkss_grow((void **)&snap->threads, &snap->threads_alloc, snap->nthreads + 1,
                              sizeof(hkss_thread)))
                    return fail(err, errlen, HKSS_ENOMEM, "out of memory");
                snap->threads[snap->nthreads].index = (uint32_t)i;
                snap->threads[snap->nthreads].c = copy;
                snap->nthreads++;
            } else {
                snap->bad_blocks++;   /* a state in the wrong place: not summed */
                continue;
            }
            add_block(&snap->sum, &copy);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        snap->consistent = ld64(b + offsetof(hks_header, fold_begin)) == end;
    }
    snap->threads_overflow = ld64(b + offsetof(hks_header, threads_overflow));
    copy_words(&snap->global, b + s->global_offset, sizeof snap->global);
    snap->nlocks = 0;
    for (uint64_t i = 0; i < s->info.lock_count; i++) {
        const unsigned char *rec = b + s->locks_offset + i * sizeof(hks_lock);
        if (ld32(rec + offsetof(hks_lock, in_use)) != 1) continue;
        if (hkss_grow((void **)&snap->locks, &snap->locks_alloc, snap->nlocks + 1, sizeof(hkss_lock)))
            return fail(err, errlen, HKSS_ENOMEM, "out of memory");
        hkss_lock *l = &snap->locks[snap->nlocks++];
        copy_words(&l->c, rec, sizeof l->c);
        memcpy(l->name, l->c.name, sizeof l->name);
        printable(l->name, sizeof l->name);
        if (!l->name[0]) snprintf(l->name, sizeof l->name, "lock#%u", l->c.id);
    }
    return HKSS_OK;
}

uint64_t hkss_live_bytes(const hkss_info *info, const hks_thread *sum) {
    uint64_t total = 0;
    for (int c = 0; c < HKS_TINY_CLASSES; c++)
        total += hkss_class_live(&sum->cls[c]) * info->class_size[c];
    for (int t = 0; t < HKS_TIERS; t++)
        total += hkss_sub0(sum->tier[t].bytes_alloc, sum->tier[t].bytes_freed);
    return total;
}

/* ---- successive samples ---------------------------------------------- */

int hkss_sampler_open(hkss_sampler *s, pid_t pid, const char *file, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (file) return hkss_open_file(file, &s->seg, err, errlen);
    s->pid = pid;
    return hkss_open_pid(pid, &s->seg, err, errlen);
}

int hkss_sampler_next(hkss_sampler *s, char *err, size_t errlen) {
    if (s->samples) {
        /* swapped, not copied: each keeps its arrays for the next read */
        hkss_snapshot t = s->prev;
        s->prev = s->cur;
        s->cur = t;
        s->have_prev = 1;
    }
    int rc = hkss_read(s->seg, &s->cur, err, errlen);
    if (rc) return rc;
    s->samples++;
    return HKSS_OK;
}

double hkss_sampler_interval(const hkss_sampler *s) {
    return s->have_prev ? (double)(s->cur.mono_ns - s->prev.mono_ns) / 1e9 : 0;
}

void hkss_sampler_close(hkss_sampler *s) {
    hkss_snapshot_free(&s->cur);
    hkss_snapshot_free(&s->prev);
    hkss_close(s->seg);
    s->seg = NULL;
}

void hkss_lock_figures_of(const hkss_lock *cur, const hkss_lock *prev, double dt,
                          hkss_lock_figures *out) {
    static const hkss_lock zero;
    const hks_lock *c = &cur->c, *p = prev ? &prev->c : &zero.c;
    out->acquisitions = c->acquisitions;
    out->contended = c->contended;
    out->wait_ns = c->wait_ns;
    out->wait_max_ns = c->wait_max_ns;
    out->hold_count = c->hold_count;
    out->hold_ns = c->hold_ns;
    out->hold_max_ns = c->hold_max_ns;
    out->owner_switches = c->owner_switches;
    out->acq_rate = hkss_rate(c->acquisitions, p->acquisitions, dt);
    out->cont_rate = hkss_rate(c->contended, p->contended, dt);
    out->wait_rate = hkss_rate(c->wait_ns, p->wait_ns, dt);
    out->hold_rate = hkss_rate(c->hold_ns, p->hold_ns, dt);
}

const hkss_lock *hkss_lock_by_id(const hkss_snapshot *s, uint32_t id) {
    for (uint32_t i = 0; i < s->nlocks; i++)
        if (s->locks[i].c.id == id) return &s->locks[i];
    return NULL;
}

/* ---- processes ------------------------------------------------------- */

static int has_segment(pid_t pid) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        if (e->d_name[0] != '.') found = is_memfd_link(dirfd(d), e->d_name);
    closedir(d);
    return found;
}

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int hkss_list(pid_t **pids, size_t *n, char *err, size_t errlen) {
    *pids = NULL;
    *n = 0;
    DIR *d = opendir("/proc");
    if (!d) return fail(err, errlen, HKSS_EIO, "/proc: %s", strerror(errno));
    size_t alloc = 0;
    struct dirent *e;
    pid_t self = getpid();
    while ((e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end || v <= 0 || v > 0x7fffffff || (pid_t)v == self) continue;
        if (!has_segment((pid_t)v)) continue;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            pid_t *p = realloc(*pids, alloc * sizeof *p);
            if (!p) { closedir(d); free(*pids); *pids = NULL; *n = 0;
                      return fail(err, errlen, HKSS_ENOMEM, "out of memory"); }
            *pids = p;
        }
        (*pids)[(*n)++] = (pid_t)v;
    }
    closedir(d);
    if (*n) qsort(*pids, *n, sizeof **pids, cmp_pid);
    return HKSS_OK;
}

void hkss_proc_comm(pid_t pid, char *buf, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    snprintf(buf, n, "?");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r <= 0) { snprintf(buf, n, "?"); return; }
    buf[r] = 0;
    if (r > 0 && buf[r - 1] == '\n') buf[r - 1] = 0;
    printable(buf, n);
}

uint64_t hkss_proc_rss(pid_t pid) {
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    unsigned long long size, rss;
    if (sscanf(buf, "%llu %llu", &size, &rss) != 2) return 0;
    return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}
