/* stats_seed - writes seed segments for the stats segment fuzz target
 * (tests/fuzz/stats_fuzz.c).
 *
 *   LD_PRELOAD=build/libhakmem.so stats_seed DIR
 *
 * Runs under hakmem so that its own stats segment holds real counters: a
 * few threads allocate in every tiny class and tier, one exits (its counts
 * fold into the retired block), two stay alive.  It then copies its own
 * segment (hakmem_stats_path(), found with dlsym so the program needs no
 * link to hakmem) and writes compact variants of it: a full-size segment
 * (1024 thread blocks, about 1.6 MiB) is too large for a fuzzer to mutate
 * usefully, so each seed keeps the real header, gauges, lock table and
 * first thread blocks, with a small thread capacity and re-laid sections:
 *   live.seg       capacity 8, sections packed
 *   nolocks.seg    capacity 3, no lock records
 *   gaps.seg       capacity 5, 64-byte gaps between sections, spare tail
 *   minimal.seg    capacity 2 (retired + shared only), no locks
 * Exit 0, or 1 with a one-line message.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hakmem_stats.h"

static pthread_barrier_t ready, done;

static void churn(unsigned seed)
{
    static const size_t sizes[] = { 8, 16, 24, 32, 64, 128, 256, 512, 1024,
                                    3000, 20000, 100000, 1500000 };
    void *keep[64];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            size_t n = sizes[(i + seed + (unsigned)round) % (sizeof sizes / sizeof sizes[0])];
            keep[i] = malloc(n);
            if (keep[i]) memset(keep[i], i, n < 64 ? n : 64);
        }
        for (int i = 0; i < 64; i++) free(keep[i]);
    }
}

static void *stayer(void *arg)
{
    churn((unsigned)(uintptr_t)arg);
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done);
    return NULL;
}

static void *leaver(void *arg)
{
    churn((unsigned)(uintptr_t)arg);
    return NULL;
}

static int die(const char *msg, const char *arg)
{
    fprintf(stderr, "stats_seed: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 1;
}

/* Re-lay the segment `src` (validated by the caller) with `cap` thread
 * blocks, `locks` lock records and `gap` spare bytes after each section. */
static int write_variant(const char *dir, const char *name, const unsigned char *src,
                         uint32_t cap, uint32_t locks, uint32_t gap)
{
    hks_header h;
    memcpy(&h, src, sizeof h);
    uint32_t src_cap = h.thread_capacity, src_locks = h.lock_count;
    const unsigned char *g = src + h.global_offset, *l = src + h.locks_offset,
                        *t = src + h.threads_offset;
    if (locks > src_locks) locks = src_locks;
    if (cap > src_cap) cap = src_cap;
    h.global_offset = (uint32_t)sizeof h + gap;
    h.locks_offset = h.global_offset + (uint32_t)sizeof(hks_global) + gap;
    h.threads_offset = h.locks_offset + locks * (uint32_t)sizeof(hks_lock) + gap;
    h.lock_count = locks;
    h.thread_capacity = cap;
    h.total_size = h.threads_offset + (uint64_t)cap * sizeof(hks_thread) + gap;
    if (h.thread_high > cap) h.thread_high = cap;
    unsigned char *out = calloc(1, h.total_size);
    if (!out) return die("out of memory", NULL);
    memcpy(out, &h, sizeof h);
    memcpy(out + h.global_offset, g, sizeof(hks_global));
    memcpy(out + h.locks_offset, l, (size_t)locks * sizeof(hks_lock));
    memcpy(out + h.threads_offset, t, (size_t)cap * sizeof(hks_thread));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(out, 1, h.total_size, f) == h.total_size;
    if (f && fclose(f) != 0) ok = 0;
    free(out);
    return ok ? 0 : die("cannot write", path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: LD_PRELOAD=libhakmem.so stats_seed DIR\n");
        return 2;
    }
    const char *(*path_of)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hakmem_stats_path");
    if (!path_of) return die("not running under libhakmem.so (no hakmem_stats_path)", NULL);

    pthread_barrier_init(&ready, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    pthread_t a, b, c;
    if (pthread_create(&c, NULL, leaver, (void *)3) || pthread_join(c, NULL) ||
        pthread_create(&a, NULL, stayer, (void *)1) || pthread_create(&b, NULL, stayer, (void *)2))
        return die("cannot start threads", NULL);
    churn(0);
    pthread_barrier_wait(&ready);   /* both stayers are live, with counts */

    const char *seg = path_of();
    if (!seg) return die("hakmem has no stats segment (HAKMEM_STATS=0?)", NULL);
    int fd = open(seg, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(hks_header))
        return die("cannot read the segment", seg);
    unsigned char *buf = malloc((size_t)st.st_size);
    if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
        return die("cannot read the segment", seg);
    close(fd);
    pthread_barrier_wait(&done);
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    hks_header h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != HKS_MAGIC || h.abi_version != HKS_ABI_VERSION ||
        h.thread_size != sizeof(hks_thread) || h.total_size > (uint64_t)st.st_size ||
        h.threads_offset + (uint64_t)h.thread_capacity * sizeof(hks_thread) > h.total_size ||
        h.locks_offset + (uint64_t)h.lock_count * sizeof(hks_lock) > h.threads_offset ||
        h.thread_capacity < 8)
        return die("the segment does not have the expected layout (ABI changed?)", NULL);
    int rc = write_variant(argv[1], "live.seg", buf, 8, h.lock_count, 0) ||
             write_variant(argv[1], "nolocks.seg", buf, 3, 0, 0) ||
             write_variant(argv[1], "gaps.seg", buf, 5, h.lock_count, 64) ||
             write_variant(argv[1], "minimal.seg", buf, 2, 0, 0);
    free(buf);
    return rc;
}
