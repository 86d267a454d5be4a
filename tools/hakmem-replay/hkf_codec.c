/* hkf_codec.c - CRC-32C (Castagnoli, the iSCSI/ext4 checksum) and the
 * names of the .hkr record kinds.
 *
 * CRC: reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF (so hkf_crc32c(0, "123456789", 9) == 0xE3069283).  Slicing
 * by 8 with tables built on first use: about 1-2 GB/s, far above what the
 * decoder needs, and no CPU feature dependency.
 */
#include "hkf.h"

#include <pthread.h>

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

/* The tables are built before any replay starts (hkf_open calls this), so
 * the crash handler's re-decoding never reaches pthread_once for real. */
uint32_t hkf_crc32c(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = buf;
    crc = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                      (uint32_t)p[7] << 24;
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
              crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

const char *hkf_kind_name(unsigned kind)
{
    switch (kind) {
    case HKF_MALLOC: return "malloc";
    case HKF_CALLOC: return "calloc";
    case HKF_REALLOC: return "realloc";
    case HKF_MEMALIGN: return "memalign";
    case HKF_FREE: return "free";
    case HKF_THREAD_START: return "thread_start";
    case HKF_THREAD_EXIT: return "thread_exit";
    default: return "?";
    }
}

const char *hkf_source_name(unsigned src)
{
    switch (src) {
    case HKF_SRC_HAKMEM: return "hakmem";
    case HKF_SRC_LIBC: return "lttng_ust_libc";
    case HKF_SRC_SYNTHETIC: return "synthetic";
    default: return "unknown";
    }
}
