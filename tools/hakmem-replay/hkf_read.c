/* hkf_read.c - validating .hkr reader (see hkf.h, docs/replay-format.md).
 *
 * hkf_open maps the file read-only and checks it completely before
 * returning: block structure and CRCs, the summary and the thread table,
 * then one decoding pass over every event.  Every count read from the
 * file is bounded by the file's size before anything is allocated, so a
 * hostile header cannot make us map terabytes.  Tables are mmap'ed (the
 * reader runs inside the replayer, which must not call malloc for itself).
 * hkf_next never allocates and never reads outside the mapping, so the
 * crash handler can re-decode the file to print an object's history.
 */
#include "hkf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSUMMARY 12   /* summary fields defined by version 1.0 */

void hkf_iter_init(struct hkf_iter *it, const struct hkf_file *f)
{
    memset(it, 0, sizeof *it);
    it->f = f;
}

static int ierr(struct hkf_iter *it, const uint8_t *p, const char *what)
{
    it->err = what;
    it->err_off = (size_t)(p - it->f->map);
    return -1;
}

static int open_block(struct hkf_iter *it)
{
    const struct hkf_file *f = it->f;
    const uint8_t *p = f->blocks[it->blk];
    const uint8_t *end = p + f->block_len[it->blk];
    uint64_t first, n, first_obj, ncall, base;
    if (hkf_get_varint(&p, end, &first) || hkf_get_varint(&p, end, &n) ||
        hkf_get_varint(&p, end, &first_obj) || hkf_get_varint(&p, end, &ncall) ||
        hkf_get_varint(&p, end, &base))
        return ierr(it, p, "truncated event block header");
    if (first != it->index) return ierr(it, p, "event block out of sequence");
    if (n == 0 || n > f->sum.n_events - it->index)
        return ierr(it, p, "event block holds a bad number of events");
    if (first_obj != it->next_obj) return ierr(it, p, "event block's first object is wrong");
    if (ncall != it->n_callers) return ierr(it, p, "event block's caller count is wrong");
    if (base > (uint64_t)INT64_MAX || (int64_t)base < it->ts)
        return ierr(it, p, "event block's time goes backwards");
    it->p = p;
    it->end = end;
    it->left = n;
    it->ts = (int64_t)base;
    it->thread = 0;
    it->blk++;
    return 0;
}

int hkf_next(struct hkf_iter *it, struct hkf_rec *r)
{
    const struct hkf_file *f = it->f;
    if (it->left == 0) {
        if (it->p != it->end) return ierr(it, it->p, "trailing bytes after the last event of a block");
        if (it->blk >= f->n_blocks) return 0;
        if (open_block(it)) return -1;
    }
    const uint8_t *p = it->p, *end = it->end;
    if (p >= end) return ierr(it, p, "event block ends early");
    uint8_t b0 = *p++;
    unsigned kind = b0 & 0x0f;
    unsigned flags = b0 & (HKF_FAILED | HKF_VARIANT);
    if (kind < HKF_MALLOC || kind > HKF_KIND_MAX) return ierr(it, p - 1, "unknown event kind");
    if ((flags & HKF_VARIANT) && kind != HKF_REALLOC && kind != HKF_MEMALIGN)
        return ierr(it, p - 1, "flag not valid for this event kind");
    if ((flags & HKF_FAILED) && (kind == HKF_FREE || kind >= HKF_THREAD_START))
        return ierr(it, p - 1, "flag not valid for this event kind");
    uint64_t v;
    if (b0 & HKF_EV_THREAD) {
        if (hkf_get_varint(&p, end, &v)) return ierr(it, p, "bad varint (thread)");
        if (v >= f->sum.n_threads) return ierr(it, p, "thread index out of range");
        it->thread = (uint32_t)v;
    }
    if (hkf_get_varint(&p, end, &v)) return ierr(it, p, "bad varint (time)");
    if (v > (uint64_t)(INT64_MAX - it->ts)) return ierr(it, p, "time overflows");
    it->ts += (int64_t)v;
    r->index = it->index;
    r->ts = it->ts;
    r->kind = (uint8_t)kind;
    r->flags = (uint8_t)flags;
    r->thread = it->thread;
    r->obj = r->ref = HKF_NOOBJ;
    r->size = r->arg = r->caller = 0;
    if (hkf_refers(r)) {
        if (hkf_get_varint(&p, end, &v)) return ierr(it, p, "bad varint (object)");
        if (v >= it->next_obj) return ierr(it, p, "reference to an object that does not exist yet");
        r->ref = (uint32_t)(it->next_obj - 1 - v);
    }
    if (hkf_creates(r)) {
        if (it->next_obj >= f->sum.n_objects)
            return ierr(it, p, "more objects than the summary says");
        r->obj = (uint32_t)it->next_obj++;
    }
    switch (kind) {
    case HKF_MALLOC: case HKF_REALLOC:
        if (hkf_get_varint(&p, end, &r->size)) return ierr(it, p, "bad varint (size)");
        break;
    case HKF_CALLOC: case HKF_MEMALIGN:
        if (hkf_get_varint(&p, end, &r->arg) || hkf_get_varint(&p, end, &r->size))
            return ierr(it, p, "bad varint (size)");
        break;
    default: break;
    }
    if (b0 & HKF_EV_CALLER) {
        if (hkf_get_varint(&p, end, &v)) return ierr(it, p, "bad varint (caller)");
        if (v < it->n_callers) {
            r->caller = f->callers[v];
        } else if (v == it->n_callers && v < f->sum.n_callers) {
            if (hkf_get_varint(&p, end, &r->caller) || r->caller == 0)
                return ierr(it, p, "bad caller address");
            f->callers[it->n_callers++] = r->caller;
        } else {
            return ierr(it, p, "caller index out of range");
        }
    }
    it->p = p;
    it->left--;
    it->index++;
    return 1;
}

/* ---- open ----------------------------------------------------------- */

static int oerr(char *err, size_t errlen, const char *path, const char *fmt, uint64_t a)
{
    char what[256];
    snprintf(what, sizeof what, fmt, (unsigned long long)a);
    snprintf(err, errlen, "%s: %s", path, what);
    return -1;
}

void hkf_close(struct hkf_file *f)
{
    if (f->map) munmap((void *)f->map, f->len);
    if (f->fd >= 0) close(f->fd);
    tab_free(f->threads, tab_size(f->sum.n_threads, sizeof *f->threads));
    tab_free(f->callers, tab_size(f->sum.n_callers, sizeof *f->callers));
    tab_free(f->blocks, tab_size(f->n_blocks, sizeof *f->blocks));
    tab_free(f->block_len, tab_size(f->n_blocks, sizeof *f->block_len));
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

#define BAD(...) do { oerr(err, errlen, path, __VA_ARGS__); goto fail; } while (0)

int hkf_open(const char *path, struct hkf_file *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) BAD("not a regular file", 0);
    if (st.st_size == 0) BAD("empty file, not a .hkr replay file", 0);
    if (st.st_size < HKF_PREAMBLE)
        BAD("too short to be a .hkr replay file (%llu bytes)", (uint64_t)st.st_size);
    f->len = (size_t)st.st_size;
    void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    f->map = m;
    if (memcmp(f->map, HKF_MAGIC, 8) != 0) BAD("not a .hkr replay file (bad magic)", 0);
    f->ver_major = (uint16_t)(f->map[8] | f->map[9] << 8);
    f->ver_minor = (uint16_t)(f->map[10] | f->map[11] << 8);
    if (f->ver_major != HKF_VERSION_MAJOR) {
        snprintf(err, errlen, "%s: .hkr version %u.%u is not supported (this reader: %u.x)",
                 path, f->ver_major, f->ver_minor, HKF_VERSION_MAJOR);
        goto fail;
    }
    if (f->map[12] | f->map[13] | f->map[14] | f->map[15])
        BAD("unknown flags in the file header (a newer format?)", 0);

    /* Block scan: structure and CRCs.  Two passes: count, then index. */
    const uint8_t *t_blk = NULL, *s_blk = NULL;
    uint32_t t_len = 0, s_len = 0;
    uint64_t n_e = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = HKF_PREAMBLE;
        uint64_t ei = 0;
        while (off < f->len) {
            if (f->len - off < 9)
                BAD("truncated block at offset %llu", off);
            uint8_t tag = f->map[off];
            uint32_t len = hkf_get_le32(f->map + off + 1);
            if (len > HKF_BLOCK_MAX)
                BAD("block at offset %llu is too large", off);
            if ((uint64_t)len + 9 > f->len - off)
                BAD("truncated block at offset %llu (file cut short?)",
                            off);
            const uint8_t *payload = f->map + off + 5;
            if (pass == 0) {
                uint32_t crc = hkf_crc32c(0, f->map + off, 5 + (size_t)len);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
                /* (The fuzz build skips this so mutations reach the decoders;
                 * tests/replay/replay_badfiles.sh covers it.) */
                if (crc != hkf_get_le32(payload + len))
                    BAD("checksum mismatch in block at offset %llu", off);
#else
                (void)crc;
#endif
                if (s_blk)
                    BAD("data after the summary block (offset %llu)",
                                off);
                switch (tag) {
                case 'E':
                    if (t_blk)
                        BAD("event block after the thread table "
                                    "(offset %llu)", off);
                    n_e++;
                    break;
                case 'T':
                    if (t_blk)
                        BAD("second thread table (offset %llu)", off);
                    t_blk = payload; t_len = len;
                    break;
                case 'S':
                    s_blk = payload; s_len = len;
                    break;
                default:
                    BAD("unknown block type at offset %llu", off);
                }
            } else if (tag == 'E') {
                f->blocks[ei] = payload;
                f->block_len[ei] = len;
                ei++;
            }
            off += 9 + (size_t)len;
        }
        if (pass == 0) {
            if (!s_blk)
                BAD("no summary block (file truncated?)", 0);
            if (!t_blk) BAD("no thread table", 0);
            f->n_blocks = n_e;
            f->blocks = tab_alloc(tab_size(n_e, sizeof *f->blocks));
            f->block_len = tab_alloc(tab_size(n_e, sizeof *f->block_len));
            if (!f->blocks || !f->block_len)
                BAD("out of memory", 0);
        }
    }

    /* Summary. */
    const uint8_t *p = s_blk, *end = s_blk + s_len;
    uint64_t nf, v[NSUMMARY];
    if (hkf_get_varint(&p, end, &nf) || nf < NSUMMARY || nf > 256)
        BAD("bad summary block", 0);
    for (uint64_t i = 0; i < nf; i++) {
        uint64_t x;
        if (hkf_get_varint(&p, end, &x))
            BAD("bad summary block", 0);
        if (i < NSUMMARY) v[i] = x;   /* later minor versions may append fields */
    }
    if (p != end) BAD("bad summary block (trailing bytes)", 0);
    struct hkf_summary *s = &f->sum;
    s->n_events = v[0]; s->n_objects = v[1]; s->n_threads = v[2]; s->n_callers = v[3];
    s->n_blocks = v[4]; s->source = v[5];
    s->t_first_ns = (int64_t)v[6]; s->t_last_ns = (int64_t)v[7];
    s->an.dead_ops = v[8]; s->an.unknown_frees = v[9]; s->an.live_returns = v[10];
    s->an.lost_events = v[11];
    /* Each event takes at least 2 bytes: bounds every table by the size. */
    if (s->n_events > f->len / 2 || s->n_events >= UINT32_MAX)
        BAD("summary claims %llu events, more than the file can hold",
                    s->n_events);
    if (s->n_blocks != n_e)
        BAD("summary says %llu event blocks, the file has another "
                    "number", s->n_blocks);
    if (s->n_objects > s->n_events || s->n_callers > s->n_events ||
        s->n_threads > s->n_events || s->n_threads > HKF_MAX_THREADS ||
        (s->n_events && !s->n_threads))
        BAD("summary counts are inconsistent", 0);
    if (s->n_blocks > s->n_events)
        BAD("more event blocks than events", 0);

    /* Thread table. */
    f->threads = tab_alloc(tab_size(s->n_threads, sizeof *f->threads));
    f->callers = tab_alloc(tab_size(s->n_callers, sizeof *f->callers));
    if (!f->threads || !f->callers) BAD("out of memory", 0);
    p = t_blk;
    end = t_blk + t_len;
    uint64_t nt, total = 0;
    if (hkf_get_varint(&p, end, &nt) || nt != s->n_threads)
        BAD("thread table does not match the summary", 0);
    for (uint64_t i = 0; i < nt; i++) {
        uint64_t vp, vt, ev, fl;
        if (hkf_get_varint(&p, end, &vp) || hkf_get_varint(&p, end, &vt) ||
            hkf_get_varint(&p, end, &ev) || hkf_get_varint(&p, end, &fl) || fl > 3 ||
            ev == 0 || ev > s->n_events - total)
            BAD("bad entry %llu in the thread table", i);
        f->threads[i].vpid = (int64_t)vp - 1;
        f->threads[i].vtid = (int64_t)vt - 1;
        f->threads[i].events = ev;
        f->threads[i].flags = (uint32_t)fl;
        total += ev;
    }
    if (p != end || total != s->n_events)
        BAD("thread table does not add up to the event count", 0);

    /* One decoding pass: every event valid, totals as announced. */
    uint64_t *per = tab_alloc(tab_size(s->n_threads, sizeof *per));
    if (!per) BAD("out of memory", 0);
    struct hkf_iter it;
    struct hkf_rec r;
    int rc;
    hkf_iter_init(&it, f);
    while ((rc = hkf_next(&it, &r)) == 1) per[r.thread]++;
    const char *bad = NULL;
    if (rc < 0) bad = it.err;
    else if (it.index != s->n_events) bad = "fewer events than the summary says";
    else if (it.next_obj != s->n_objects) bad = "object count differs from the summary";
    else if (it.n_callers != s->n_callers) bad = "caller count differs from the summary";
    else
        for (uint64_t i = 0; i < s->n_threads && !bad; i++)
            if (per[i] != f->threads[i].events) bad = "per-thread event counts differ from the thread table";
    tab_free(per, tab_size(s->n_threads, sizeof *per));
    if (bad) {
        if (rc < 0)
            snprintf(err, errlen, "%s: corrupt event data at offset %zu: %s", path, it.err_off, bad);
        else
            snprintf(err, errlen, "%s: %s", path, bad);
        hkf_close(f);
        return -1;
    }
    return 0;
fail:
    hkf_close(f);
    return -1;
}
