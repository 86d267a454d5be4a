/* large - repeated zeroed multi-MiB buffers (image/frame/network buffers).
 *
 * `slots` slots (so at most that many buffers live); each iteration picks a
 * random slot, frees its buffer if any, and callocs min..max bytes (default
 * 5..25 MiB) into it.  The buffer is then used like a real program would
 * start filling it: every 4 KiB page is read (it must be zero: calloc's
 * promise is checked) and written.  So an allocator that unmaps on free and
 * maps again pays the page faults (and the kernel's zeroing) on every
 * buffer, one that keeps mappings pays a memset instead.  ops = calloc +
 * free calls.
 */
#include "bench.h"

static const char usage[] =
    "usage: large [iters=N] [slots=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  iters times: free a random slot's buffer, calloc(min..max) into it, touch every page.\n"
    "  defaults: iters=300 slots=20 min=5M max=25M seed=1\n";

#define PAGE 4096

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t iters = bench_arg_u64("iters", 300);
    uint64_t slots = bench_arg_u64("slots", 20);
    uint64_t min = bench_arg_u64("min", 5 << 20);
    uint64_t max = bench_arg_u64("max", 25 << 20);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "large");
    bench_args_done();
    bench_check_range("size", min, max);
    if (slots < 1 || slots > 4096)
        bench_usage_error("slots must be 1..4096");
    if (min < 8)
        bench_usage_error("min must be >= 8");

    void **slot = bench_meta(slots * sizeof(void *));
    uint64_t s = rng_seed(seed, 0), ops = 0;
    struct bench_clock t0 = bench_clock_now();
    for (uint64_t i = 0; i < iters; i++) {
        uint64_t idx = rng_range(&s, 0, slots - 1);
        if (slot[idx]) {
            free(slot[idx]);
            ops++;
        }
        size_t sz = rng_range(&s, min, max) & ~(size_t)7;
        unsigned char *p = calloc(1, sz);
        ops++;
        if (!p)
            bench_die("calloc(%zu) failed", sz);
        if (bench_peek(p + sz - 8))
            bench_die("calloc(%zu) returned non-zero memory at its end", sz);
        for (size_t off = 0; off + 8 <= sz; off += PAGE) {
            if (bench_peek(p + off))
                bench_die("calloc(%zu) returned non-zero memory at offset %zu", sz, off);
            bench_touch(p + off, i + off + 1);
        }
        bench_touch(p + sz - 8, i + 1);
        slot[idx] = p;
    }
    struct bench_clock t1 = bench_clock_now();
    char extra[128];
    snprintf(extra, sizeof extra, " slots=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64,
             slots, min, max);
    bench_result_cpu(name, ops, t0, t1, extra);
    for (uint64_t i = 0; i < slots; i++)
        free(slot[i]);
    return 0;
}
