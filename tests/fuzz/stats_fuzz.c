/* stats_fuzz - libFuzzer target for the stats segment reader
 * (trace/stats_reader.c) and what hakmem-top derives from a segment.
 *
 * A segment is written by the observed process, which may be compromised:
 * whatever its bytes, the reader must either refuse it with a one-line
 * message or hand out a validated snapshot, and hakmem-top must format
 * that snapshot without reading out of bounds or hitting undefined
 * behaviour (ASan/UBSan abort on either).  Each input is
 *   1. opened with hkss_open_buffer and read twice with hkss_read (the
 *      second read reuses the snapshot's arrays, as hakmem-top does);
 *      invariants of the API are checked (counts within the validated
 *      capacities, names printable and terminated);
 *   2. when accepted, written to a memfd and run through hakmem-top's
 *      batch mode (`--segment FILE -b -n 2 -o text|csv|json`, the sort
 *      column taken from the input) with stdout on /dev/null.
 * Seeds: compact copies of a real segment (tests/fuzz/stats_seed.c).
 *   Built by tests/fuzz/lib_fuzz.sh (make fuzz, fuzz_smoke.sh).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stats_reader.h"
#include "top.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int seg_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    /* hakmem-top's batch output goes nowhere; libFuzzer reports on stderr. */
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, STDOUT_FILENO) < 0) abort();
    close(null);
    seg_fd = memfd_create("stats-fuzz", MFD_CLOEXEC);
    if (seg_fd < 0) abort();
    return 0;
}

/* A message from the reader: one line, not empty, terminated. */
static void check_err(const char *err, size_t n)
{
    if (!memchr(err, 0, n) || !err[0] || strchr(err, '\n')) __builtin_trap();
}

/* NUL-terminated within n and printable (what the reader promises). */
static void check_printable(const char *s, size_t n)
{
    const char *end = memchr(s, 0, n);
    if (!end) __builtin_trap();
    for (const char *p = s; p < end; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) __builtin_trap();
}

static void read_api(const uint8_t *data, size_t size, int *accepted)
{
    hkss_segment *s = NULL;
    char err[HKSS_ERRLEN];
    memset(err, 0x55, sizeof err);
    int rc = hkss_open_buffer(data, size, &s, err, sizeof err);
    *accepted = rc == HKSS_OK;
    if (rc != HKSS_OK) {
        if (s) __builtin_trap();
        check_err(err, sizeof err);
        return;
    }
    const hkss_info *in = hkss_info_of(s);
    if (in->total_size > size || in->thread_capacity < HKS_FIRST_THREAD_BLOCK ||
        in->lock_count > HKSS_MAX_LOCKS)
        __builtin_trap();
    check_printable(in->cmdline, sizeof in->cmdline);
    if (hkss_alive(s) != -1) __builtin_trap();   /* a buffer has no process */
    hkss_snapshot snap;
    memset(&snap, 0, sizeof snap);
    for (int round = 0; round < 2; round++) {
        rc = hkss_read(s, &snap, err, sizeof err);
        if (rc != HKSS_OK) { check_err(err, sizeof err); break; }
        /* a buffer cannot change: its sum is consistent exactly when
         * the fold counters say no fold is under way */
        uint64_t fb, fe;
        memcpy(&fb, data + offsetof(hks_header, fold_begin), sizeof fb);
        memcpy(&fe, data + offsetof(hks_header, fold_end), sizeof fe);
        if (snap.consistent != (fb == fe)) __builtin_trap();
        if (snap.nthreads > in->thread_capacity || snap.nlocks > in->lock_count)
            __builtin_trap();
        for (uint32_t i = 0; i < snap.nthreads; i++)
            if (snap.threads[i].index < HKS_FIRST_THREAD_BLOCK ||
                snap.threads[i].index >= in->thread_capacity ||
                snap.threads[i].c.state != HKS_BLOCK_LIVE)
                __builtin_trap();
        for (uint32_t i = 0; i < snap.nlocks; i++)
            check_printable(snap.locks[i].name, sizeof snap.locks[i].name);
        (void)hkss_live_bytes(in, &snap.sum);
    }
    hkss_snapshot_free(&snap);
    hkss_close(s);
}

/* hakmem-top --segment FILE -b -n 2 in the three formats. */
static void run_top(const uint8_t *data, size_t size)
{
    if (ftruncate(seg_fd, 0) != 0 || pwrite(seg_fd, data, size, 0) != (ssize_t)size) return;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", seg_fd);
    unsigned pick = size ? data[size - 1] : 0;
    for (int fmt = FMT_TEXT; fmt <= FMT_JSON; fmt++) {
        top_opts o;
        memset(&o, 0, sizeof o);
        o.segment_file = path;
        o.batch = 1;
        o.count = 2;
        o.delay = 0;
        o.format = fmt;
        o.sort = (int)(pick % COL_COUNT);
        o.sort_reverse = (int)(pick >> 7);
        if (batch_run(&o) != 0) __builtin_trap();   /* it was accepted above */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int accepted;
    read_api(data, size, &accepted);
    if (accepted) run_top(data, size);
    return 0;
}
