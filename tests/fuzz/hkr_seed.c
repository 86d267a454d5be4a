/* hkr_seed - writes seed .hkr files for the replay-file fuzz target
 * (tests/fuzz/hkr_fuzz.c), with hakmem-replay's own writer (hkf_write.c),
 * so the seeds follow the format of the sources they are built with.
 *
 *   hkr_seed DIR
 *
 * Small files (one event block each: short inputs mutate well) covering
 * every record kind and flag and every optional field:
 *   empty.hkr     one thread, no events
 *   kinds.hkr     one thread: malloc, calloc, realloc (of a block, of NULL,
 *                 to 0, failed), memalign and posix_memalign, failed
 *                 malloc, frees, callers old and new
 *   threads.hkr   three threads with start/exit, cross-thread frees and
 *                 reallocs, time going forward in steps of every size
 *   mixed.hkr     400 pseudo-random operations over 4 threads and 16
 *                 callers (fixed seed), leaving some blocks live
 * Exit 0, or 1 with a one-line message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkf.h"

struct gen {
    struct hkf_writer *w;
    int64_t ts;
    int failed;
};

static void add(struct gen *g, uint8_t kind, uint8_t flags, uint32_t thread, uint32_t ref,
                uint64_t size, uint64_t arg, uint64_t caller, int64_t dt)
{
    struct hkf_rec r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.flags = flags;
    r.thread = thread;
    r.size = size;
    r.arg = arg;
    r.caller = caller;
    r.ref = HKF_NOOBJ;
    r.obj = HKF_NOOBJ;
    if (hkf_refers(&r)) r.ref = ref;
    if (hkf_creates(&r)) r.obj = hkf_writer_next_obj(g->w);
    g->ts += dt;
    if (hkf_writer_add(g->w, &r, g->ts) != 0) g->failed = 1;
}

static int start(struct gen *g, const char *dir, const char *name, unsigned source,
                 uint32_t threads)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(g, 0, sizeof *g);
    g->ts = 1000000000;
    g->w = hkf_writer_open(path, source, err, sizeof err);
    if (!g->w) {
        fprintf(stderr, "hkr_seed: %s\n", err);
        return -1;
    }
    for (uint32_t t = 0; t < threads; t++) {
        uint32_t idx;
        if (hkf_writer_thread(g->w, 4242, 4242 + t, &idx) != 0) g->failed = 1;
    }
    return 0;
}

static int finish(struct gen *g, const struct hkf_anomalies *an)
{
    if (g->failed || hkf_writer_close(g->w, an, NULL) != 0) {
        fprintf(stderr, "hkr_seed: %s\n", hkf_writer_error(g->w));
        hkf_writer_abort(g->w);
        return -1;
    }
    hkf_writer_free(g->w);
    return 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hkr_seed DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    struct gen g;

    if (start(&g, dir, "empty.hkr", HKF_SRC_HAKMEM, 1) || finish(&g, NULL)) return 1;

    if (start(&g, dir, "kinds.hkr", HKF_SRC_LIBC, 1)) return 1;
    const uint64_t c1 = 0x401000, c2 = 0x7f0000123456ull;
    add(&g, HKF_THREAD_START, 0, 0, 0, 0, 0, 0, 0);
    add(&g, HKF_MALLOC, 0, 0, 0, 24, 0, c1, 10);                    /* #0 */
    add(&g, HKF_CALLOC, 0, 0, 0, 16, 10, c2, 20);                   /* #1 */
    add(&g, HKF_REALLOC, 0, 0, 0, 4000, 0, c1, 30);                 /* #0 -> #2 */
    add(&g, HKF_REALLOC, HKF_VARIANT, 0, 0, 100, 0, 0, 40);         /* NULL -> #3 */
    add(&g, HKF_MEMALIGN, 0, 0, 0, 256, 64, c2, 50);                /* #4 */
    add(&g, HKF_MEMALIGN, HKF_VARIANT, 0, 0, 40000, 4096, c1, 60);  /* #5 */
    add(&g, HKF_MALLOC, HKF_FAILED, 0, 0, 1ull << 50, 0, c1, 70);
    add(&g, HKF_REALLOC, HKF_FAILED, 0, 3, 1ull << 48, 0, 0, 80);   /* #3 kept */
    add(&g, HKF_MALLOC, 0, 0, 0, 3 << 20, 0, 0, 90);                /* #6 */
    add(&g, HKF_FREE, 0, 0, 1, 0, 0, c2, 100);
    add(&g, HKF_REALLOC, 0, 0, 3, 0, 0, 0, 110);                    /* #3 -> #7 */
    add(&g, HKF_FREE, 0, 0, 2, 0, 0, 0, 120);
    add(&g, HKF_FREE, 0, 0, 4, 0, 0, c1, 130);
    add(&g, HKF_FREE, 0, 0, 6, 0, 0, 0, 140);
    add(&g, HKF_THREAD_EXIT, 0, 0, 0, 0, 0, 0, 150);
    if (finish(&g, NULL)) return 1;

    if (start(&g, dir, "threads.hkr", HKF_SRC_HAKMEM, 3)) return 1;
    add(&g, HKF_MALLOC, 0, 0, 0, 64, 0, 0, 0);                      /* #0 t0 */
    add(&g, HKF_THREAD_START, 0, 1, 0, 0, 0, 0, 1);
    add(&g, HKF_MALLOC, 0, 1, 0, 2048, 0, 0, 127);                  /* #1 t1 */
    add(&g, HKF_THREAD_START, 0, 2, 0, 0, 0, 0, 128);
    add(&g, HKF_CALLOC, 0, 2, 0, 8, 1000, 0, 16383);                /* #2 t2 */
    add(&g, HKF_FREE, 0, 1, 0, 0, 0, 0, 16384);                     /* t1 frees t0's */
    add(&g, HKF_REALLOC, 0, 0, 1, 100000, 0, 0, 1 << 21);           /* t0: #1 -> #3 */
    add(&g, HKF_FREE, 0, 2, 3, 0, 0, 0, 1ll << 35);
    add(&g, HKF_THREAD_EXIT, 0, 1, 0, 0, 0, 0, 0);
    add(&g, HKF_FREE, 0, 0, 2, 0, 0, 0, 5);
    add(&g, HKF_THREAD_EXIT, 0, 2, 0, 0, 0, 0, 5);
    if (finish(&g, NULL)) return 1;

    if (start(&g, dir, "mixed.hkr", HKF_SRC_SYNTHETIC, 4)) return 1;
    uint32_t live[64];
    unsigned nlive = 0;
    for (int i = 0; i < 400; i++) {
        uint64_t x = next();
        uint32_t t = (uint32_t)(x & 3);
        uint64_t caller = (x >> 2 & 1) ? 0x400000 + ((x >> 3) & 15) * 0x40 : 0;
        uint64_t size = 1ull << ((x >> 8) % 22);
        size += (x >> 32) % size;
        int op = (int)((x >> 40) % 8);
        if (nlive == 64 || (nlive && op >= 5)) {
            unsigned k = (unsigned)((x >> 48) % nlive);
            if (op == 7) {
                add(&g, HKF_REALLOC, 0, t, live[k], size, 0, caller, (int64_t)(x % 3000));
                live[k] = hkf_writer_next_obj(g.w) - 1;
            } else {
                add(&g, HKF_FREE, 0, t, live[k], 0, 0, caller, (int64_t)(x % 3000));
                live[k] = live[--nlive];
            }
        } else {
            if (op == 0) add(&g, HKF_CALLOC, 0, t, 0, size % 512 + 1, op + 3, caller, 7);
            else if (op == 1) add(&g, HKF_MEMALIGN, (x >> 60 & 1) ? HKF_VARIANT : 0, t, 0,
                                  size, 16u << ((x >> 56) % 8), caller, 9);
            else add(&g, HKF_MALLOC, 0, t, 0, size, 0, caller, (int64_t)(x % 100));
            live[nlive++] = hkf_writer_next_obj(g.w) - 1;
        }
    }
    struct hkf_anomalies an = { .dead_ops = 0, .unknown_frees = 3, .live_returns = 1 };
    if (finish(&g, &an)) return 1;
    return 0;
}
