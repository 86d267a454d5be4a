/* hkf_write.c - streaming .hkr writer (see hkf.h, docs/replay-format.md).
 *
 * Events are coded into an in-memory block (about 256 KiB) and written
 * when it fills; the thread table and the summary follow the last event
 * block.  The file is written as PATH.tmp and renamed on success, so a
 * failed conversion never leaves a truncated PATH behind.
 * Used by convert and reduce (never by the replay itself).
 */
#include "hkf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_TARGET (256u << 10)
#define EV_MAX       64            /* longest coded event */

struct hkf_writer {
    FILE    *fp;
    char    *path, *tmp;
    unsigned source;
    char     err[512];
    int      failed;
    /* current block */
    uint8_t *buf;
    size_t   n;
    uint64_t blk_events, blk_first_index, blk_first_obj, blk_callers;
    int64_t  blk_base_ts;
    uint32_t prev_thread;
    int64_t  prev_ts;
    /* totals */
    uint64_t events, blocks, bytes;
    uint32_t next_obj;
    int      have_first;
    int64_t  t_first, t_last;      /* absolute                       */
    int64_t  last_rel;             /* last relative ts written       */
    /* callers: address -> index (open addressing, key 0 = empty) */
    uint64_t *ck;
    uint32_t *cv;
    size_t    ccap, cn;
    /* threads */
    struct hkf_thread *th;
    size_t    nth, thcap;
};

static int wfail(struct hkf_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int wfail(struct hkf_writer *w, const char *fmt, ...)
{
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof w->err, fmt, ap);
        va_end(ap);
        w->failed = 1;
    }
    return -1;
}

const char *hkf_writer_error(const struct hkf_writer *w) { return w->err; }
uint64_t hkf_writer_events(const struct hkf_writer *w) { return w->events; }
uint32_t hkf_writer_next_obj(const struct hkf_writer *w) { return w->next_obj; }

struct hkf_writer *hkf_writer_open(const char *path, unsigned source, char *err, size_t errlen)
{
    struct hkf_writer *w = calloc(1, sizeof *w);
    size_t plen = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(plen + 5)) ||
        !(w->buf = malloc(BLOCK_TARGET + EV_MAX + 64))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(w->tmp, path, plen);
    memcpy(w->tmp + plen, ".tmp", 5);
    w->source = source;
    w->ccap = 1024;
    w->ck = calloc(w->ccap, sizeof *w->ck);
    w->cv = calloc(w->ccap, sizeof *w->cv);
    if (!w->ck || !w->cv) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->fp = fopen(w->tmp, "wb");
    if (!w->fp) {
        snprintf(err, errlen, "%s: %s", w->tmp, strerror(errno));
        goto fail;
    }
    setvbuf(w->fp, NULL, _IOFBF, 1 << 20);
    uint8_t pre[HKF_PREAMBLE];
    memset(pre, 0, sizeof pre);
    memcpy(pre, HKF_MAGIC, 8);
    pre[8] = HKF_VERSION_MAJOR; pre[9] = 0;
    pre[10] = HKF_VERSION_MINOR; pre[11] = 0;
    if (fwrite(pre, 1, sizeof pre, w->fp) != sizeof pre) {
        snprintf(err, errlen, "%s: %s", w->tmp, strerror(errno));
        fclose(w->fp);
        unlink(w->tmp);
        w->fp = NULL;
        goto fail;
    }
    w->bytes = sizeof pre;
    return w;
fail:
    if (w) {
        free(w->ck); free(w->cv); free(w->buf); free(w->tmp); free(w->path);
        free(w);
    }
    return NULL;
}

int hkf_writer_thread(struct hkf_writer *w, int64_t vpid, int64_t vtid, uint32_t *idx)
{
    if (w->nth >= HKF_MAX_THREADS) return wfail(w, "more than %u threads", HKF_MAX_THREADS);
    if (w->nth == w->thcap) {
        size_t cap = w->thcap ? w->thcap * 2 : 64;
        struct hkf_thread *t = realloc(w->th, cap * sizeof *t);
        if (!t) return wfail(w, "out of memory");
        w->th = t;
        w->thcap = cap;
    }
    struct hkf_thread *t = &w->th[w->nth];
    memset(t, 0, sizeof *t);
    t->vpid = vpid;
    t->vtid = vtid;
    *idx = (uint32_t)w->nth++;
    return 0;
}

/* Write one block: tag, u32 length, payload (head + body), CRC-32C. */
static int put_block(struct hkf_writer *w, uint8_t tag, const uint8_t *head, size_t hn,
                     const uint8_t *body, size_t bn)
{
    uint8_t pre[5];
    pre[0] = tag;
    hkf_put_le32(pre + 1, (uint32_t)(hn + bn));
    uint32_t crc = hkf_crc32c(0, pre, 5);
    crc = hkf_crc32c(crc, head, hn);
    if (bn) crc = hkf_crc32c(crc, body, bn);
    uint8_t c[4];
    hkf_put_le32(c, crc);
    if (fwrite(pre, 1, 5, w->fp) != 5 || (hn && fwrite(head, 1, hn, w->fp) != hn) ||
        (bn && fwrite(body, 1, bn, w->fp) != bn) || fwrite(c, 1, 4, w->fp) != 4)
        return wfail(w, "%s: %s", w->tmp, strerror(errno));
    w->bytes += 9 + hn + bn;
    return 0;
}

static int flush_block(struct hkf_writer *w)
{
    if (!w->blk_events) return 0;
    uint8_t head[64];
    size_t hn = 0;
    hn += hkf_put_varint(head + hn, w->blk_first_index);
    hn += hkf_put_varint(head + hn, w->blk_events);
    hn += hkf_put_varint(head + hn, w->blk_first_obj);
    hn += hkf_put_varint(head + hn, w->blk_callers);
    hn += hkf_put_varint(head + hn, (uint64_t)w->blk_base_ts);
    if (put_block(w, 'E', head, hn, w->buf, w->n)) return -1;
    w->blocks++;
    w->n = 0;
    w->blk_events = 0;
    return 0;
}

static size_t chash(uint64_t a, size_t cap)
{
    a ^= a >> 33; a *= 0xff51afd7ed558ccdull; a ^= a >> 33;
    return (size_t)a & (cap - 1);
}

/* Index of caller address a; *is_new set when it was just defined. */
static int caller_index(struct hkf_writer *w, uint64_t a, uint32_t *idx, int *is_new)
{
    size_t i = chash(a, w->ccap);
    while (w->ck[i]) {
        if (w->ck[i] == a) { *idx = w->cv[i]; *is_new = 0; return 0; }
        i = (i + 1) & (w->ccap - 1);
    }
    if ((w->cn + 1) * 2 > w->ccap) {
        size_t ncap = w->ccap * 2;
        uint64_t *nk = calloc(ncap, sizeof *nk);
        uint32_t *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) { free(nk); free(nv); return wfail(w, "out of memory"); }
        for (size_t j = 0; j < w->ccap; j++) {
            if (!w->ck[j]) continue;
            size_t k = chash(w->ck[j], ncap);
            while (nk[k]) k = (k + 1) & (ncap - 1);
            nk[k] = w->ck[j];
            nv[k] = w->cv[j];
        }
        free(w->ck); free(w->cv);
        w->ck = nk; w->cv = nv; w->ccap = ncap;
        i = chash(a, ncap);
        while (w->ck[i]) i = (i + 1) & (ncap - 1);
    }
    if (w->cn >= UINT32_MAX) return wfail(w, "too many distinct callers");
    w->ck[i] = a;
    w->cv[i] = (uint32_t)w->cn;
    *idx = (uint32_t)w->cn++;
    *is_new = 1;
    return 0;
}

int hkf_writer_add(struct hkf_writer *w, const struct hkf_rec *r, int64_t abs_ts)
{
    if (w->failed) return -1;
    if (r->kind < HKF_MALLOC || r->kind > HKF_KIND_MAX)
        return wfail(w, "internal: bad kind %u", r->kind);
    if (r->thread >= w->nth) return wfail(w, "internal: thread %u not declared", r->thread);
    if (w->events >= UINT32_MAX - 1) return wfail(w, "more than 2^32 events");
    if (!w->have_first) {
        w->have_first = 1;
        w->t_first = abs_ts;
    }
    int64_t rel = abs_ts - w->t_first;
    if (rel < w->last_rel) rel = w->last_rel;   /* clamp: time never runs back */
    w->last_rel = rel;
    w->t_last = w->t_first + rel;
    if (w->blk_events == 0) {
        w->blk_first_index = w->events;
        w->blk_first_obj = w->next_obj;
        w->blk_callers = w->cn;
        w->blk_base_ts = rel;
        w->prev_ts = rel;
        w->prev_thread = 0;
    }
    uint8_t *p = w->buf + w->n;
    size_t k = 1;
    uint8_t b0 = (uint8_t)(r->kind | (r->flags & (HKF_FAILED | HKF_VARIANT)));
    if (r->thread != w->prev_thread) {
        b0 |= HKF_EV_THREAD;
        k += hkf_put_varint(p + k, r->thread);
        w->prev_thread = r->thread;
    }
    k += hkf_put_varint(p + k, (uint64_t)(rel - w->prev_ts));
    w->prev_ts = rel;
    if (hkf_refers(r)) {
        if (r->ref >= w->next_obj)
            return wfail(w, "internal: object #%u referenced before it exists", r->ref);
        k += hkf_put_varint(p + k, (uint64_t)(w->next_obj - 1 - r->ref));
    }
    if (hkf_creates(r)) {
        if (r->obj != w->next_obj)
            return wfail(w, "internal: new object #%u, expected #%u", r->obj, w->next_obj);
        if (w->next_obj == HKF_NOOBJ - 1) return wfail(w, "more than 2^32 objects");
        w->next_obj++;
    }
    switch (r->kind) {
    case HKF_MALLOC: case HKF_REALLOC:
        k += hkf_put_varint(p + k, r->size);
        break;
    case HKF_CALLOC: case HKF_MEMALIGN:
        k += hkf_put_varint(p + k, r->arg);
        k += hkf_put_varint(p + k, r->size);
        break;
    default: break;
    }
    if (r->caller) {
        uint32_t ci = 0;
        int fresh = 0;
        if (caller_index(w, r->caller, &ci, &fresh)) return -1;
        b0 |= HKF_EV_CALLER;
        k += hkf_put_varint(p + k, ci);
        if (fresh) k += hkf_put_varint(p + k, r->caller);
    }
    p[0] = b0;
    w->n += k;
    w->blk_events++;
    w->events++;
    w->th[r->thread].events++;
    if (r->kind == HKF_THREAD_START) w->th[r->thread].flags |= HKF_TH_STARTED;
    if (r->kind == HKF_THREAD_EXIT) w->th[r->thread].flags |= HKF_TH_EXITED;
    if (w->n >= BLOCK_TARGET) return flush_block(w);
    return 0;
}

int hkf_writer_close(struct hkf_writer *w, const struct hkf_anomalies *an, uint64_t *bytes_out)
{
    if (w->failed) return -1;
    if (flush_block(w)) return -1;
    /* thread table */
    size_t cap = 16 + w->nth * 40;
    uint8_t *t = malloc(cap);
    if (!t) return wfail(w, "out of memory");
    size_t n = hkf_put_varint(t, w->nth);
    for (size_t i = 0; i < w->nth; i++) {
        n += hkf_put_varint(t + n, (uint64_t)(w->th[i].vpid + 1));
        n += hkf_put_varint(t + n, (uint64_t)(w->th[i].vtid + 1));
        n += hkf_put_varint(t + n, w->th[i].events);
        n += hkf_put_varint(t + n, w->th[i].flags);
    }
    int rc = n > HKF_BLOCK_MAX ? wfail(w, "thread table too large") : put_block(w, 'T', t, n, NULL, 0);
    free(t);
    if (rc) return -1;
    /* summary */
    struct hkf_anomalies zero;
    memset(&zero, 0, sizeof zero);
    if (!an) an = &zero;
    uint64_t f[] = { w->events, w->next_obj, w->nth, w->cn, w->blocks, w->source,
                     (uint64_t)w->t_first, (uint64_t)w->t_last,
                     an->dead_ops, an->unknown_frees, an->live_returns, an->lost_events };
    uint8_t s[16 + sizeof f / sizeof f[0] * 10];
    n = hkf_put_varint(s, sizeof f / sizeof f[0]);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) n += hkf_put_varint(s + n, f[i]);
    if (put_block(w, 'S', s, n, NULL, 0)) return -1;
    if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0)
        return wfail(w, "%s: %s", w->tmp, strerror(errno));
    FILE *fp = w->fp;
    w->fp = NULL;
    if (fclose(fp) != 0) return wfail(w, "%s: %s", w->tmp, strerror(errno));
    if (rename(w->tmp, w->path) != 0)
        return wfail(w, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    if (bytes_out) *bytes_out = w->bytes;
    free(w->tmp);
    w->tmp = NULL;
    return 0;
}

void hkf_writer_free(struct hkf_writer *w)
{
    if (!w) return;
    if (w->fp) fclose(w->fp);
    free(w->ck); free(w->cv); free(w->buf); free(w->th);
    free(w->tmp); free(w->path);
    free(w);
}

void hkf_writer_abort(struct hkf_writer *w)
{
    if (!w) return;
    if (w->fp) {
        fclose(w->fp);
        w->fp = NULL;
    }
    if (w->tmp) unlink(w->tmp);
    hkf_writer_free(w);
}

void hkf_writer_set_source(struct hkf_writer *w, unsigned source) { w->source = source; }
uint32_t hkf_writer_threads_count(const struct hkf_writer *w) { return (uint32_t)w->nth; }
