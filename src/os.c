/* os.c - the OS box (see os.h).
 *
 * Fault injection (testing): every mapping call that can fail for lack of
 * memory (os_map, os_reserve, os_commit, os_remap) is numbered from 1,
 * process-wide.  HAKMEM_FAULT_MMAP=N fails call N; HAKMEM_FAULT_MMAP_RATE=R
 * fails each call with probability 1/R, decided by a hash of the call
 * number and HAKMEM_FAULT_SEED, so a seed replays the same failures.  A
 * failed call returns ENOMEM as the kernel would, and one line on stderr
 * says which call failed (the first 8; then a count), so a test can tell
 * whether a run met its fault.  Counting is one relaxed atomic per mapping
 * call, which is a slow path anyway; nothing at all when both are 0.
 */
#include "os.h"
#include "config.h"
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t os_map_calls;
static _Atomic uint64_t os_faults;

static inline uint64_t fault_mix(uint64_t x) {   /* splitmix64 finaliser */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static HK_COLD int os_fault_hit(const char *what) {
    uint64_t k = atomic_fetch_add_explicit(&os_map_calls, 1, memory_order_relaxed) + 1;
    int fail = k == hk_cfg.fault_mmap;
    if (!fail && hk_cfg.fault_rate)
        fail = fault_mix(k ^ fault_mix(hk_cfg.fault_seed)) % hk_cfg.fault_rate == 0;
    if (!fail) return 0;
    uint64_t f = atomic_fetch_add_explicit(&os_faults, 1, memory_order_relaxed) + 1;
    if (f <= 8) {
        char buf[160];
        snprintf(buf, sizeof buf, "hakmem: fault injection: OS mapping call #%llu (%s) fails with ENOMEM%s\n",
                 (unsigned long long)k, what, f == 8 ? " (further injected faults not reported)" : "");
        os_write_err(buf);
    }
    errno = ENOMEM;
    return 1;
}

static inline int os_fault(const char *what) {
    if (HK_LIKELY((hk_cfg.fault_mmap | hk_cfg.fault_rate) == 0)) return 0;
    return os_fault_hit(what);
}

static void count_map(size_t size) {
    hks_thread *st = hk_tls.st;
    if (st) { st->box.os_map++; st->box.os_map_bytes += size; }
}

static void count_unmap(size_t size) {
    hks_thread *st = hk_tls.st;
    if (st) { st->box.os_unmap++; st->box.os_unmap_bytes += size; }
}

void *os_map(size_t size) {
    if (os_fault("map")) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { errno = ENOMEM; return NULL; }
    count_map(size);
    return p;
}

void *os_reserve(void *hint, size_t size, int fixed) {
    if (os_fault("reserve")) return NULL;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (fixed) flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(hint, size, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (fixed && p != hint) { munmap(p, size); return NULL; }
    return p;
}

int os_commit(void *p, size_t size) {
    if (os_fault("commit")) return -1;
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) { errno = ENOMEM; return -1; }
    count_map(size);
    return 0;
}

void os_decommit(void *p, size_t size) {
    /* A fresh PROT_NONE mapping over the range frees the pages and the
     * commit charge at once, keeping the address range reserved. */
    void *q = mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (q == MAP_FAILED) madvise(p, size, MADV_DONTNEED);
    count_unmap(size);
}

void os_purge(void *p, size_t size) {
    madvise(p, size, MADV_DONTNEED);
    count_unmap(size);
}

void os_unmap(void *p, size_t size) {
    munmap(p, size);
    count_unmap(size);
}

void *os_remap(void *p, size_t old_size, size_t new_size) {
    if (os_fault("remap")) return NULL;
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) { errno = ENOMEM; return NULL; }
    count_map(new_size > old_size ? new_size - old_size : 0);
    return q;
}

size_t os_page_size(void) { return 4096; }

uint64_t os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void os_write_err(const char *s) {
    /* write(2) is a cancellation point, and callers may hold a lock */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; break; }
        s += w; n -= (size_t)w;
    }
    pthread_setcancelstate(cs, NULL);
}
