/* os.c - the OS box (see os.h).
 *
 * Fault injection: HAKMEM_FAULT_MMAP=N makes the Nth mapping or commit fail
 * with ENOMEM (counted from 1, process-wide), so tests can walk the ENOMEM
 * paths of every tier.  Counting is one relaxed atomic per mapping call,
 * which is a slow path anyway.
 */
#include "os.h"
#include "config.h"
#include "thread.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t os_map_calls;

static int os_fault(void) {
    uint64_t n = hk_cfg.fault_mmap;
    if (HK_LIKELY(n == 0)) return 0;
    uint64_t k = atomic_fetch_add_explicit(&os_map_calls, 1, memory_order_relaxed) + 1;
    if (k == n) { errno = ENOMEM; return 1; }
    return 0;
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
    if (os_fault()) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { errno = ENOMEM; return NULL; }
    count_map(size);
    return p;
}

void *os_reserve(void *hint, size_t size, int fixed) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (fixed) flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(hint, size, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (fixed && p != hint) { munmap(p, size); return NULL; }
    return p;
}

int os_commit(void *p, size_t size) {
    if (os_fault()) return -1;
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
    if (os_fault()) return NULL;
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
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; return; }
        s += w; n -= (size_t)w;
    }
}
