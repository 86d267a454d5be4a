/* hkr_fuzz - libFuzzer target for the .hkr reader of hakmem-replay.
 *
 * Each input is handed to hkf_open through a memfd (the reader maps
 * files), then, when the reader accepts it, every event is decoded again,
 * the replay model is built (rp_load) and the history printer runs over a
 * few objects: everything `info`, `run` and the crash handler do with a
 * file before calling the allocator.  Built with
 * -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes the reader skip
 * block checksums so mutations reach the decoders (the checksum path is
 * covered by tests/replay/replay_badfiles.sh).
 *
 *   clang -fsanitize=fuzzer,address,undefined ... (tests/replay/replay_fuzz.sh,
 *   make fuzz)
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crash.h"
#include "hkf.h"
#include "replay.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) fd = memfd_create("hkr-fuzz", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct hkf_file f;
    if (hkf_open(path, &f, err, sizeof err) != 0) {
        /* A rejection is one line. */
        if (!err[0] || strchr(err, '\n')) __builtin_trap();
        return 0;
    }
    struct hkf_iter it;
    struct hkf_rec r;
    uint64_t n = 0;
    hkf_iter_init(&it, &f);
    while (hkf_next(&it, &r) == 1) {
        if (r.thread >= f.sum.n_threads) __builtin_trap();
        if (r.obj != HKF_NOOBJ && r.obj >= f.sum.n_objects) __builtin_trap();
        if (r.ref != HKF_NOOBJ && r.ref >= f.sum.n_objects) __builtin_trap();
        n++;
    }
    if (n != f.sum.n_events) __builtin_trap();   /* hkf_open validated it all */
    struct replay rp;
    if (rp_load(&rp, &f, err, sizeof err) == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        struct obuf o;
        ob_init(&o, null);
        for (uint32_t k = 0; k < rp.n_objects && k < 4; k++)
            rp_history(&o, &rp, k, rp.n_ops ? rp.n_ops - 1 : 0);
        for (uint64_t i = 0; i < rp.n_ops && i < 64; i++) rp_describe(&o, &rp, i);
        ob_flush(&o);
        close(null);
        rp_free(&rp);
    }
    hkf_close(&f);
    return 0;
}
