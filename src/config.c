/* config.c - the configuration box (see config.h).
 *
 * One table drives parsing, validation, defaults and config_dump(), so the
 * documentation (docs/config.md) and the code cannot drift apart silently:
 * tests/unit/test_config.c compares them.
 */
#include "config.h"
#include "os.h"
#include "types.h"

#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

hk_config hk_cfg;

enum kind { K_U64, K_U32, K_INT, K_ENUM };

typedef struct var {
    const char *name;
    enum kind   kind;
    size_t      off;
    uint64_t    def, min, max;
    const char *choices;   /* K_ENUM: "a|b|c", index is the value */
    const char *meaning;
} var;

#define F(f) offsetof(hk_config, f)
#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

static const var vars[] = {
    { "HAKMEM_ARENA_BASE", K_U64, F(arena_base), 0, 0, 0x7f0000000000ull, NULL,
      "fixed arena base address (2 MiB aligned, hex); 0 lets the kernel choose" },
    { "HAKMEM_ARENA_SIZE", K_U64, F(arena_size), 128 * GiB, 1 * GiB, 16 * TiB, NULL,
      "bytes of address space reserved for the arena (not memory)" },
    { "HAKMEM_ULTRAHOT_MASK", K_U32, F(ultrahot_mask), 0, 0, 0xff, NULL,
      "bit c set = class Cc gets a 4-slot UltraHot magazine (0x06 = 16 and 32 B; none by default)" },
    { "HAKMEM_SLL_CAP_MIN", K_U32, F(sll_cap_min), 16, 4, 8192, NULL,
      "smallest adaptive TLS SLL capacity (blocks per class)" },
    { "HAKMEM_SLL_CAP_MAX", K_U32, F(sll_cap_max), 2048, 4, 8192, NULL,
      "largest adaptive TLS SLL capacity (blocks per class)" },
    { "HAKMEM_DRAIN_INTERVAL", K_U32, F(drain_interval), 2048, 0, 1u << 24, NULL,
      "frees of a class between periodic SLL drains, rounded up to a power of two (0 = never)" },
    { "HAKMEM_LRU_MAX", K_U32, F(lru_max_count), 16, 0, 65536, NULL,
      "empty SuperSlabs kept in the LRU before eviction to the OS" },
    { "HAKMEM_LRU_MAX_BYTES", K_U64, F(lru_max_bytes), 64 * MiB, 0, 1 * TiB, NULL,
      "bytes of empty SuperSlabs kept in the LRU" },
    { "HAKMEM_BIGCACHE_BYTES", K_U64, F(bigcache_bytes), 256 * MiB, 0, 1 * TiB, NULL,
      "bytes of freed Large mappings kept for reuse" },
    { "HAKMEM_EXTERNAL", K_ENUM, F(external_mode), 0, 0, 2, "abort|warn|ignore",
      "what free/realloc do with a pointer hakmem does not own" },
    { "HAKMEM_CHECK", K_INT, F(check), 0, 0, 1, NULL,
      "1 = check mode: every free is validated, backtraces in reports" },
    { "HAKMEM_VERBOSE", K_INT, F(verbose), 0, 0, 2, NULL,
      "1 = print the configuration at start-up; 2 = also the malloc_stats report at exit" },
    { "HAKMEM_FAULT_MMAP", K_U64, F(fault_mmap), 0, 0, UINT64_MAX, NULL,
      "testing: make the Nth OS mapping fail with ENOMEM (0 = never)" },
    { "HAKMEM_FAULT_MMAP_RATE", K_U64, F(fault_rate), 0, 0, UINT64_MAX, NULL,
      "testing: make each OS mapping fail with ENOMEM with probability 1/N (0 = never)" },
    { "HAKMEM_FAULT_SEED", K_U64, F(fault_seed), 1, 0, UINT64_MAX, NULL,
      "testing: seed of HAKMEM_FAULT_MMAP_RATE (same seed, same failing calls)" },
    { "HAKMEM_CHECK_QUARANTINE", K_U64, F(check_quarantine), 1 * MiB, 0, 1 * TiB, NULL,
      "check mode: bytes of freed blocks kept out of circulation (0 = none)" },
    { "HAKMEM_STATS", K_INT, F(stats_segment), 1, 0, 1, NULL,
      "0 = no shared stats segment (counters stay private)" },
    { "HAKMEM_LOCK_STACKS", K_INT, F(lock_stacks), 0, 0, 1, NULL,
      "1 = lock events carry the acquiring call stack (hakmem:lock_stack)" },
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static void put(void *dst, enum kind k, uint64_t v) {
    switch (k) {
    case K_U64: *(uint64_t *)dst = v; break;
    case K_U32: *(uint32_t *)dst = (uint32_t)v; break;
    case K_INT: case K_ENUM: *(int *)dst = (int)v; break;
    }
}

static uint64_t get(const void *src, enum kind k) {
    switch (k) {
    case K_U64: return *(const uint64_t *)src;
    case K_U32: return *(const uint32_t *)src;
    default:    return (uint64_t)*(const int *)src;
    }
}

/* Decimal or 0x hex, optional K/M/G/T suffix (powers of 1024). */
static int parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0, base = 10;
    const char *p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) { base = 16; p += 2; }
    if (!*p) return -1;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
        else break;
        if (v > (UINT64_MAX - (uint64_t)d) / base) return -1;
        v = v * base + (uint64_t)d;
    }
    if (p == s) return -1;
    uint64_t mul = 1;
    if (*p) {
        switch (*p) {
        case 'k': case 'K': mul = KiB; break;
        case 'm': case 'M': mul = MiB; break;
        case 'g': case 'G': mul = GiB; break;
        case 't': case 'T': mul = TiB; break;
        default: return -1;
        }
        if (p[1] && !((p[1] == 'B' || p[1] == 'b') && !p[2]) && !((p[1] == 'i') && p[2] == 'B' && !p[3]))
            return -1;
        if (v > UINT64_MAX / mul) return -1;
    }
    *out = v * mul;
    return 0;
}

static int parse_enum(const char *s, const char *choices, uint64_t *out) {
    size_t n = strlen(s);
    uint64_t idx = 0;
    for (const char *c = choices; *c; idx++) {
        const char *e = strchr(c, '|');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == n && strncmp(c, s, n) == 0) { *out = idx; return 0; }
        if (!e) break;
        c = e + 1;
    }
    return -1;
}

static const char *lookup(const char *name) {
    size_t n = strlen(name);
    if (!environ) return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static void warn_bad(const var *v, const char *val) {
    char buf[320];
    if (v->kind == K_ENUM)
        snprintf(buf, sizeof buf, "hakmem: %s=%.40s is invalid (expected %s); using the default\n",
                 v->name, val, v->choices);
    else
        snprintf(buf, sizeof buf,
                 "hakmem: %s=%.40s is invalid (expected %llu..%llu); using the default %llu\n",
                 v->name, val, (unsigned long long)v->min, (unsigned long long)v->max,
                 (unsigned long long)v->def);
    os_write_err(buf);
}

void config_init(void) {
    /* secure_getenv semantics: a setuid/setgid program ignores HAKMEM_*. */
    int secure = (int)getauxval(AT_SECURE);
    for (size_t i = 0; i < NVARS; i++) {
        const var *v = &vars[i];
        void *dst = (char *)&hk_cfg + v->off;
        put(dst, v->kind, v->def);
        const char *s = secure ? NULL : lookup(v->name);
        if (!s) continue;
        uint64_t x;
        int bad = v->kind == K_ENUM ? parse_enum(s, v->choices, &x) : parse_u64(s, &x);
        if (!bad && (x < v->min || x > v->max)) bad = 1;
        if (!bad && v->off == F(arena_base) && (x & (HK_SEG_SIZE - 1))) bad = 1;
        if (bad) { warn_bad(v, s); continue; }
        put(dst, v->kind, x);
    }
    if (hk_cfg.sll_cap_min > hk_cfg.sll_cap_max) {
        os_write_err("hakmem: HAKMEM_SLL_CAP_MIN > HAKMEM_SLL_CAP_MAX; using the defaults 16 and 2048\n");
        hk_cfg.sll_cap_min = 16;
        hk_cfg.sll_cap_max = 2048;
    }
    hk_cfg.arena_size = (hk_cfg.arena_size + HK_SEG_SIZE - 1) & ~(HK_SEG_SIZE - 1);
    /* the free path tests (frees & (interval - 1)): a power of two */
    while (hk_cfg.drain_interval & (hk_cfg.drain_interval - 1))
        hk_cfg.drain_interval += hk_cfg.drain_interval & -hk_cfg.drain_interval;
    if (hk_cfg.verbose) config_dump(2);
}

void config_dump(int fd) {
    char buf[384];
    for (size_t i = 0; i < NVARS; i++) {
        const var *v = &vars[i];
        uint64_t cur = get((const char *)&hk_cfg + v->off, v->kind);
        int n;
        if (v->kind == K_ENUM) {
            const char *c = v->choices;
            for (uint64_t k = 0; k < cur && strchr(c, '|'); k++) c = strchr(c, '|') + 1;
            const char *e = strchr(c, '|');
            n = snprintf(buf, sizeof buf, "  %-22s %-14.*s (%s) %s\n", v->name,
                         (int)(e ? (size_t)(e - c) : strlen(c)), c, v->choices, v->meaning);
        } else {
            n = snprintf(buf, sizeof buf, "  %-22s %-14llu (default %llu) %s\n", v->name,
                         (unsigned long long)cur, (unsigned long long)v->def, v->meaning);
        }
        if (n > 0) { ssize_t w = write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1); (void)w; }
    }
}
