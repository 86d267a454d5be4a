/* config.h - the configuration box: one table of HAKMEM_* variables.
 *
 * Owns: hk_config (read-only after config_init), the variable table with
 * name, default, range and meaning (docs/config.md mirrors it).
 * Variables are read with secure_getenv semantics (ignored in setuid
 * programs) by scanning environ directly, because getenv may not be safe
 * this early.  A bad value gets one warning line naming the variable and
 * the default used.
 */
#ifndef HAKMEM_CONFIG_H
#define HAKMEM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum hk_external_mode { HK_EXT_ABORT = 0, HK_EXT_WARN = 1, HK_EXT_IGNORE = 2 };

typedef struct hk_config {
    uint64_t arena_base;       /* HAKMEM_ARENA_BASE (0 = kernel's choice) */
    uint64_t arena_size;       /* HAKMEM_ARENA_SIZE                       */
    uint32_t ultrahot_mask;    /* HAKMEM_ULTRAHOT_MASK                    */
    uint32_t sll_cap_min;      /* HAKMEM_SLL_CAP_MIN                      */
    uint32_t sll_cap_max;      /* HAKMEM_SLL_CAP_MAX                      */
    uint32_t drain_interval;   /* HAKMEM_DRAIN_INTERVAL (frees)           */
    uint32_t lru_max_count;    /* HAKMEM_LRU_MAX                          */
    uint64_t lru_max_bytes;    /* HAKMEM_LRU_MAX_BYTES                    */
    uint64_t bigcache_bytes;   /* HAKMEM_BIGCACHE_BYTES                   */
    int      external_mode;    /* HAKMEM_EXTERNAL                         */
    int      check;            /* HAKMEM_CHECK                            */
    int      verbose;          /* HAKMEM_VERBOSE                          */
    uint64_t fault_mmap;       /* HAKMEM_FAULT_MMAP: fail the Nth mapping */
    uint64_t fault_rate;       /* HAKMEM_FAULT_MMAP_RATE: fail 1 in N      */
    uint64_t fault_seed;       /* HAKMEM_FAULT_SEED                       */
    uint64_t check_quarantine; /* HAKMEM_CHECK_QUARANTINE (bytes)         */
    int      stats_segment;    /* HAKMEM_STATS (0 disables the segment)   */
    int      lock_stacks;      /* HAKMEM_LOCK_STACKS (read by lock.c too) */
} hk_config;

extern hk_config hk_cfg;

void config_init(void);
/* Print the table (name, value, default, meaning) to fd; for malloc_stats
 * and docs. */
void config_dump(int fd);

#endif
