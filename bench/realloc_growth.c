/* realloc_growth - buffers that grow by realloc through every tier.
 *
 * `bufs` buffers grow at once (a string builder, a vector, a receive
 * buffer).  Each step picks a random buffer and grows it by 1/8 of its size
 * plus 1..64 bytes, until it reaches its target size; then it is freed and
 * starts again at 16 B with a new target.  Targets are log-uniform in
 * 64 B..`max` (default 2 MiB), as in real programs most buffers stay small
 * and a few grow big: every tier (Tiny, Mid, L2.5, Large) sees growth, most
 * steps are at the small end where growing in place (or into the next
 * class) is what counts, and at the large end mremap-style growth avoids
 * copying megabytes.  The new part is used like an appender would: each
 * new 4 KiB page and the last word are written; the first word carries a
 * signature that must survive every move (check=0 turns the check off, for
 * the floor allocator, which overwrites blocks by design).  ops = malloc +
 * realloc + free calls.
 */
#include "bench.h"
#include <math.h>

static const char usage[] =
    "usage: realloc_growth [iters=N] [bufs=N] [max=B] [check=0|1] [seed=N] [name=S]\n"
    "  iters steps: grow a random buffer by size/8 + 1..64 bytes with realloc;\n"
    "  a buffer reaching its target (log-uniform in 64..max bytes) is freed and\n"
    "  restarts at 16 bytes.  check=1 verifies realloc kept the contents.\n"
    "  defaults: iters=1000000 bufs=8 max=2M check=1 seed=1\n";

#define PAGE 4096

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t iters = bench_arg_u64("iters", 1000000);
    uint64_t bufs = bench_arg_u64("bufs", 8);
    uint64_t max = bench_arg_u64("max", 2 << 20);
    uint64_t seed = bench_arg_u64("seed", 1);
    uint64_t check = bench_arg_u64("check", 1);
    const char *name = bench_arg_str("name", "realloc_growth");
    bench_args_done();
    if (bufs < 1 || bufs > 4096)
        bench_usage_error("bufs must be 1..4096");
    if (max < 64)
        bench_usage_error("max must be >= 64");

    unsigned char **buf = bench_meta(bufs * sizeof *buf);
    size_t *len = bench_meta(bufs * sizeof *len);
    uint64_t *sig = bench_meta(bufs * sizeof *sig);
    size_t *target = bench_meta(bufs * sizeof *target);
    const double lmin = log(64.0), lspan = log((double)max) - log(64.0);
    uint64_t s = rng_seed(seed, 0), ops = 0, restarts = 0;

    struct bench_clock t0 = bench_clock_now();
    for (uint64_t i = 0; i < iters; i++) {
        uint64_t k = rng_range(&s, 0, bufs - 1);
        size_t cur = len[k];
        if (cur == 0) {
            buf[k] = malloc(16);
            ops++;
            if (!buf[k])
                bench_die("malloc(16) failed");
            sig[k] = rng_next(&s) | 1;
            bench_touch(buf[k], sig[k]);
            bench_touch(buf[k] + 8, 0);
            len[k] = 16;
            target[k] = (size_t)exp(lmin + lspan * (double)(rng_next(&s) >> 11) * 0x1p-53);
            continue;
        }
        if (cur >= target[k]) {
            free(buf[k]);
            buf[k] = NULL;
            ops++;
            restarts++;
            len[k] = 0;
            continue;
        }
        size_t nsz = cur + cur / 8 + rng_range(&s, 1, 64);
        unsigned char *p = realloc(buf[k], nsz);
        ops++;
        if (!p)
            bench_die("realloc(%zu) failed", nsz);
        if (check && bench_peek(p) != sig[k])
            bench_die("realloc(%zu -> %zu) lost the buffer's contents", cur, nsz);
        /* Append: write each new page, then the new last word. */
        for (size_t off = (cur + PAGE - 1) & ~(size_t)(PAGE - 1); off + 8 <= nsz; off += PAGE)
            bench_touch(p + off, off);
        bench_touch(p + ((nsz - 8) & ~(size_t)7), nsz);
        buf[k] = p;
        len[k] = nsz;
    }
    struct bench_clock t1 = bench_clock_now();
    char extra[128];
    snprintf(extra, sizeof extra, " bufs=%" PRIu64 " max=%" PRIu64 " restarts=%" PRIu64,
             bufs, max, restarts);
    bench_result_cpu(name, ops, t0, t1, extra);
    for (uint64_t k = 0; k < bufs; k++)
        free(buf[k]);
    return 0;
}
