/* stats.c - the counters box (see stats.h; ABI in trace/hakmem_stats.h).
 *
 * The segment is a memfd ("hakmem-stats", close-on-exec, mode 0600, sealed
 * against shrink/grow so a reader's mapping can never SIGBUS), mapped
 * shared.  Another process of the same uid finds it through
 * /proc/PID/fd/N; it disappears with the last reference, so no stale file
 * can exist.  With HAKMEM_STATS=0, or when no memfd can be made, the same
 * layout lives in private anonymous memory (and, if even that fails, in a
 * small static area): every path below works the same, only invisibly.
 *
 * Blocks: 0 = retired (folded counts of exited threads), 1 = shared (counts
 * of threads without their own block), 2.. = one per live thread, claimed
 * by CAS FREE -> LIVE among [2, thread_high), else by raising thread_high.
 * Scanning only below thread_high keeps untouched pages of the memfd
 * unallocated.  When the segment is full a thread gets a block from a
 * private overflow chunk (OS memory): summed by stats_sum, and visible to
 * other processes once folded at the thread's exit.
 *
 * Retire: fold_begin++, atomic adds into block 0 (several threads may exit
 * at once), zero the block, fold_end++, then mark it FREE.  Readers accept
 * a sum when fold_end (read before) equals fold_begin (read after), so
 * counts never seem to move backwards while they move from a thread's
 * block to the retired one.  No lock: lock.c calls stats_lock_record from
 * hak_lock_register, and a hak_lock here would recurse.
 *
 * Nothing here calls malloc or stdio: it runs from the allocator's init.
 */
#include "stats.h"
#include "config.h"
#include "os.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define STATS_THREAD_CAPACITY 1024u   /* blocks in the segment, incl. 0 and 1 */
#define STATS_OVF_BLOCKS      63u     /* blocks per private overflow chunk    */
#define STATS_STATIC_BLOCKS   4u      /* blocks of the last-resort static area */
#define STATS_LOCK_SPILL      32u     /* private lock records past the table  */

#ifdef MFD_NOEXEC_SEAL
#define STATS_MFD_NOEXEC_SEAL MFD_NOEXEC_SEAL
#else
#define STATS_MFD_NOEXEC_SEAL 0x0008u
#endif

enum { SEG_NONE = 0, SEG_CREATING = 1, SEG_READY = 2 };
enum { MODE_MEMFD = 0, MODE_PRIVATE = 1, MODE_STATIC = 2 };

static _Atomic int  seg_state;
static int          seg_mode;
static int          seg_fd = -1;
static size_t       seg_size;
static hks_header  *seg_hdr;
static hks_global  *seg_global;
static hks_lock    *seg_locks;
static hks_thread  *seg_blocks;
static char         seg_path[48];

/* Private overflow chunks (segment full), a lock-free push-only list. */
typedef struct ovf_chunk {
    struct ovf_chunk *next;
    uint8_t           pad[56];
    hks_thread        blk[STATS_OVF_BLOCKS];
} ovf_chunk;
static ovf_chunk *_Atomic ovf_head;

/* Lock records past the segment's table, then one shared sink. */
static _Atomic uint32_t lock_next;
static hks_lock lock_spill[STATS_LOCK_SPILL + 1];

/* Last resort when not even a private mapping can be made. */
static struct {
    hks_header h;
    hks_global g;
    hks_lock   l[HKS_MAX_LOCKS];
    hks_thread t[STATS_STATIC_BLOCKS];
} static_seg;

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#define SEC_ALIGN(x) (((x) + 63u) & ~(size_t)63u)

static size_t layout_size(uint32_t cap) {
    size_t off = SEC_ALIGN(sizeof(hks_header)) + SEC_ALIGN(sizeof(hks_global))
               + (size_t)HKS_MAX_LOCKS * sizeof(hks_lock);
    return off + (size_t)cap * sizeof(hks_thread);
}

static uint64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decimal without stdio. */
static char *put_u32(char *p, uint32_t v) {
    char tmp[12];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static void make_path(void) {
    if (seg_mode != MODE_MEMFD) { seg_path[0] = 0; return; }
    char *p = seg_path;
    const char *a = "/proc/";
    while (*a) *p++ = *a++;
    p = put_u32(p, (uint32_t)syscall(SYS_getpid));
    a = "/fd/";
    while (*a) *p++ = *a++;
    p = put_u32(p, (uint32_t)seg_fd);
    *p = 0;
}

/* The command line, NULs as spaces, truncated (raw syscalls: this runs
 * inside the allocator's init). */
static void read_cmdline(char *out, size_t n) {
    out[0] = 0;
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    long r = syscall(SYS_read, (int)fd, out, n - 1);
    syscall(SYS_close, (int)fd);
    if (r <= 0) { out[0] = 0; return; }
    while (r > 0 && out[r - 1] == 0) r--;
    for (long i = 0; i < r; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == 0) out[i] = ' ';
        else if (c < 0x20 || c == 0x7f) out[i] = '?';
    }
    out[r] = 0;
}

/* Point the section pointers at a segment based at `base`. */
static void bind_sections(void *base) {
    seg_hdr    = base;
    seg_global = (hks_global *)((char *)base + seg_hdr->global_offset);
    seg_locks  = (hks_lock *)((char *)base + seg_hdr->locks_offset);
    seg_blocks = (hks_thread *)((char *)base + seg_hdr->threads_offset);
}

static void layout_init(void *base, size_t size, uint32_t cap) {
    hks_header *h = base;
    h->magic = HKS_MAGIC;
    h->abi_version = HKS_ABI_VERSION;
    h->header_size = sizeof(hks_header);
    h->total_size = size;
    h->pid = (uint32_t)syscall(SYS_getpid);
    h->uid = (uint32_t)syscall(SYS_getuid);
    h->start_time_ns = realtime_ns();
    h->class_count = HKS_TINY_CLASSES;
    for (unsigned c = 0; c < HKS_TINY_CLASSES; c++) h->class_size[c] = 8u << c;
    h->ultrahot_mask = hk_cfg.ultrahot_mask & ((1u << HKS_TINY_CLASSES) - 1);
    h->global_offset = (uint32_t)SEC_ALIGN(sizeof(hks_header));
    h->global_size = sizeof(hks_global);
    h->locks_offset = h->global_offset + (uint32_t)SEC_ALIGN(sizeof(hks_global));
    h->lock_size = sizeof(hks_lock);
    h->lock_count = HKS_MAX_LOCKS;
    h->threads_offset = h->locks_offset + HKS_MAX_LOCKS * (uint32_t)sizeof(hks_lock);
    h->thread_size = sizeof(hks_thread);
    h->thread_capacity = cap;
    h->tier_max[HKS_TIER_MID] = HK_MID_MAX;
    h->tier_max[HKS_TIER_L25] = HK_L25_MAX;
    h->tier_max[HKS_TIER_LARGE] = 0;
    read_cmdline(h->cmdline, sizeof h->cmdline);
    bind_sections(base);
    seg_blocks[HKS_RETIRED_BLOCK].state = HKS_BLOCK_RETIRED;
    seg_blocks[HKS_SHARED_BLOCK].state = HKS_BLOCK_SHARED;
    __atomic_store_n(&h->thread_high, HKS_FIRST_THREAD_BLOCK, __ATOMIC_RELEASE);
}

static void seal(int fd) {
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

/* A sealed 0600 memfd of `size` bytes mapped shared at `at` (MAP_FIXED) or
 * anywhere; returns the mapping and its fd, or NULL. */
static void *memfd_segment(size_t size, void *at, int *fd_out) {
    /* MFD_NOEXEC_SEAL first: with vm.memfd_noexec=2 (Linux 6.3+) a memfd
     * without it is refused; older kernels reject the flag with EINVAL. */
    long fd = syscall(SYS_memfd_create, HKS_MEMFD_NAME,
                      MFD_CLOEXEC | MFD_ALLOW_SEALING | STATS_MFD_NOEXEC_SEAL);
    if (fd < 0 && errno == EINVAL)
        fd = syscall(SYS_memfd_create, HKS_MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return NULL;
    fchmod((int)fd, 0600);
    if (ftruncate((int)fd, (off_t)size) != 0) { close((int)fd); return NULL; }
    void *p = mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0),
                   (int)fd, 0);
    if (p == MAP_FAILED) { close((int)fd); return NULL; }
    seal((int)fd);
    *fd_out = (int)fd;
    return p;
}

void stats_init(void) {
    if (HK_LIKELY(atomic_load_explicit(&seg_state, memory_order_acquire) == SEG_READY))
        return;
    int expect = SEG_NONE;
    if (!atomic_compare_exchange_strong(&seg_state, &expect, SEG_CREATING)) {
        while (atomic_load_explicit(&seg_state, memory_order_acquire) != SEG_READY)
            cpu_relax();
        return;
    }
    int saved = errno;
    uint32_t cap = STATS_THREAD_CAPACITY;
    size_t size = (layout_size(cap) + 4095) & ~(size_t)4095;
    void *base = NULL;
    if (hk_cfg.stats_segment) {
        base = memfd_segment(size, NULL, &seg_fd);
        if (base) seg_mode = MODE_MEMFD;
        else if (hk_cfg.verbose)
            os_write_err("hakmem: no stats segment (memfd_create failed); counters are private\n");
    }
    if (!base) {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) base = NULL;
        seg_mode = MODE_PRIVATE;
    }
    if (!base) {
        base = &static_seg;
        cap = STATS_STATIC_BLOCKS;
        size = sizeof static_seg;
        seg_mode = MODE_STATIC;
    }
    seg_size = size;
    layout_init(base, size, cap);
    make_path();
    errno = saved;
    atomic_store_explicit(&seg_state, SEG_READY, memory_order_release);
}

static inline void ensure(void) {
    if (HK_UNLIKELY(atomic_load_explicit(&seg_state, memory_order_acquire) != SEG_READY))
        stats_init();
}

static int in_segment(const hks_thread *b) {
    return b >= seg_blocks && b < seg_blocks + seg_hdr->thread_capacity;
}

static int claim(hks_thread *b) {
    uint32_t want = HKS_BLOCK_FREE;
    return __atomic_compare_exchange_n(&b->state, &want, HKS_BLOCK_LIVE, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static hks_thread *claim_segment(void) {
    hks_header *h = seg_hdr;
    uint32_t cap = h->thread_capacity;
    for (;;) {
        uint64_t high = __atomic_load_n(&h->thread_high, __ATOMIC_ACQUIRE);
        for (uint64_t i = HKS_FIRST_THREAD_BLOCK; i < high; i++)
            if (__atomic_load_n(&seg_blocks[i].state, __ATOMIC_RELAXED) == HKS_BLOCK_FREE &&
                claim(&seg_blocks[i]))
                return &seg_blocks[i];
        if (high >= cap) return NULL;
        /* A fresh block: raise the high-water mark, then claim it like any
         * other (a scanner that saw the new mark may have taken it). */
        if (__atomic_compare_exchange_n(&h->thread_high, &high, high + 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
            claim(&seg_blocks[high]))
            return &seg_blocks[high];
    }
}

static hks_thread *claim_overflow(void) {
    for (ovf_chunk *c = atomic_load_explicit(&ovf_head, memory_order_acquire); c; c = c->next)
        for (unsigned i = 0; i < STATS_OVF_BLOCKS; i++)
            if (__atomic_load_n(&c->blk[i].state, __ATOMIC_RELAXED) == HKS_BLOCK_FREE &&
                claim(&c->blk[i]))
                return &c->blk[i];
    ovf_chunk *c = mmap(NULL, sizeof(ovf_chunk), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED) return NULL;
    c->blk[0].state = HKS_BLOCK_LIVE;           /* ours before it is published */
    ovf_chunk *head = atomic_load_explicit(&ovf_head, memory_order_relaxed);
    do c->next = head;
    while (!atomic_compare_exchange_weak_explicit(&ovf_head, &head, c,
                                                  memory_order_release, memory_order_relaxed));
    return &c->blk[0];
}

static int is_overflow_block(const hks_thread *b) {
    for (ovf_chunk *c = atomic_load_explicit(&ovf_head, memory_order_acquire); c; c = c->next)
        if (b >= c->blk && b < c->blk + STATS_OVF_BLOCKS) return 1;
    return 0;
}

hks_thread *stats_thread_claim(uint32_t tid, uint32_t os_tid) {
    ensure();
    /* Idempotent: a thread that already owns a live block keeps it (the
     * forking thread in a fork child, where stats_fork_child kept it). */
    hks_thread *cur = hk_tls.st;
    if (cur && (in_segment(cur) || is_overflow_block(cur)) &&
        __atomic_load_n(&cur->state, __ATOMIC_ACQUIRE) == HKS_BLOCK_LIVE && cur->tid == tid) {
        cur->os_tid = os_tid;
        return cur;
    }
    int saved = errno;
    hks_thread *b = claim_segment();
    if (!b) {
        b = claim_overflow();
        if (b) __atomic_fetch_add(&seg_hdr->threads_overflow, 1, __ATOMIC_RELAXED);
    }
    errno = saved;
    if (!b) return &seg_blocks[HKS_SHARED_BLOCK];   /* counts still land */
    b->tid = tid;
    b->os_tid = os_tid;
    return b;
}

hks_thread *stats_shared_block(void) {
    ensure();
    return &seg_blocks[HKS_SHARED_BLOCK];
}

/* Add src's counters into dst (atomic when others may fold at once) and,
 * with `clear`, zero src. */
static void fold_words(hks_thread *dst, hks_thread *src, int atomic, int clear) {
    uint64_t *d = (uint64_t *)dst, *s = (uint64_t *)src;
    for (size_t w = HKS_COUNTER_WORD0; w < HKS_THREAD_WORDS; w++) {
        uint64_t v = __atomic_load_n(&s[w], __ATOMIC_RELAXED);
        if (clear) __atomic_store_n(&s[w], 0, __ATOMIC_RELAXED);
        if (!v || HKS_IS_GAUGE_WORD(w)) continue;
        if (atomic) __atomic_fetch_add(&d[w], v, __ATOMIC_RELAXED);
        else        d[w] += v;
    }
}

void stats_thread_retire(hks_thread *b) {
    ensure();
    hks_thread *shared = &seg_blocks[HKS_SHARED_BLOCK];
    if (hk_tls.st == b) thread_set_stats(&hk_tls, shared);
    if (!b || b == shared || b == &seg_blocks[HKS_RETIRED_BLOCK]) return;
    if (__atomic_load_n(&b->state, __ATOMIC_RELAXED) != HKS_BLOCK_LIVE) return;
    hks_header *h = seg_hdr;
    __atomic_fetch_add(&h->fold_begin, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    fold_words(&seg_blocks[HKS_RETIRED_BLOCK], b, 1, 1);
    b->tid = 0;
    b->os_tid = 0;
    __atomic_fetch_add(&h->fold_end, 1, __ATOMIC_RELEASE);
    if (!in_segment(b)) __atomic_fetch_sub(&h->threads_overflow, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&b->state, HKS_BLOCK_FREE, __ATOMIC_RELEASE);
}

hks_global *stats_global(void) {
    ensure();
    return seg_global;
}

hks_lock *stats_lock_record(const char *name, uint32_t *id) {
    ensure();
    uint32_t i = atomic_fetch_add_explicit(&lock_next, 1, memory_order_relaxed);
    uint32_t table = seg_hdr->lock_count;
    hks_lock *r;
    if (id) *id = i;
    if (i < table) {
        r = &seg_locks[i];
    } else if (i - table < STATS_LOCK_SPILL) {
        r = &lock_spill[i - table];
    } else {
        /* Past every record: one shared sink (its counts race, harmless). */
        r = &lock_spill[STATS_LOCK_SPILL];
        if (i != table + STATS_LOCK_SPILL) return r;
        name = "(other locks)";
    }
    size_t n = 0;
    if (name)
        for (; name[n] && n < HKS_LOCK_NAME - 1; n++) r->name[n] = name[n];
    r->name[n] = 0;
    r->id = i;
    __atomic_store_n(&r->in_use, 1, __ATOMIC_RELEASE);
    return r;
}

static void sum_block(uint64_t *out, const hks_thread *b) {
    const uint64_t *s = (const uint64_t *)b;
    for (size_t w = HKS_COUNTER_WORD0; w < HKS_THREAD_WORDS; w++) {
        uint64_t v = __atomic_load_n(&s[w], __ATOMIC_RELAXED);
        if (HKS_IS_GAUGE_WORD(w)) { if (v > out[w]) out[w] = v; }
        else out[w] += v;
    }
}

static int summed(uint32_t state) {
    return state == HKS_BLOCK_LIVE || state == HKS_BLOCK_RETIRED || state == HKS_BLOCK_SHARED;
}

void stats_sum(hks_thread *out) {
    ensure();
    hks_header *h = seg_hdr;
    uint64_t *o = (uint64_t *)out;
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t end = __atomic_load_n(&h->fold_end, __ATOMIC_ACQUIRE);
        __builtin_memset(out, 0, sizeof *out);
        uint64_t high = __atomic_load_n(&h->thread_high, __ATOMIC_ACQUIRE);
        if (high > h->thread_capacity) high = h->thread_capacity;
        for (uint64_t i = 0; i < high; i++)
            if (summed(__atomic_load_n(&seg_blocks[i].state, __ATOMIC_ACQUIRE)))
                sum_block(o, &seg_blocks[i]);
        for (ovf_chunk *c = atomic_load_explicit(&ovf_head, memory_order_acquire); c; c = c->next)
            for (unsigned i = 0; i < STATS_OVF_BLOCKS; i++)
                if (__atomic_load_n(&c->blk[i].state, __ATOMIC_ACQUIRE) == HKS_BLOCK_LIVE)
                    sum_block(o, &c->blk[i]);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&h->fold_begin, __ATOMIC_RELAXED) == end) break;
    }
    out->state = HKS_BLOCK_RETIRED;
}

const char *stats_path(void) {
    ensure();
    return seg_mode == MODE_MEMFD ? seg_path : NULL;
}

/* ---- fork ------------------------------------------------------------ */

/* Copy the used part of the segment word by word (the parent keeps
 * writing its side of a shared mapping while we copy). */
static void copy_used(void *dst, const void *src) {
    const hks_header *h = src;
    uint64_t high = __atomic_load_n(&h->thread_high, __ATOMIC_ACQUIRE);
    if (high > h->thread_capacity) high = h->thread_capacity;
    size_t n = ((size_t)h->threads_offset + high * sizeof(hks_thread)) / 8;
    const uint64_t *s = src;
    uint64_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* In the child (one thread): fold every live block but `self` into the
 * retired block, and make the header name this process. */
static void child_fixup(hks_thread *self) {
    hks_header *h = seg_hdr;
    hks_thread *ret = &seg_blocks[HKS_RETIRED_BLOCK];
    uint64_t high = h->thread_high;
    if (high > h->thread_capacity) high = h->thread_capacity;
    for (uint64_t i = HKS_FIRST_THREAD_BLOCK; i < high; i++) {
        hks_thread *b = &seg_blocks[i];
        if (b == self || b->state != HKS_BLOCK_LIVE) continue;
        fold_words(ret, b, 0, 1);
        b->tid = b->os_tid = 0;
        b->state = HKS_BLOCK_FREE;
    }
    uint64_t ovf = 0;
    for (ovf_chunk *c = ovf_head; c; c = c->next)
        for (unsigned i = 0; i < STATS_OVF_BLOCKS; i++) {
            hks_thread *b = &c->blk[i];
            if (b->state != HKS_BLOCK_LIVE) continue;
            if (b == self) { ovf++; continue; }
            fold_words(ret, b, 0, 1);
            b->tid = b->os_tid = 0;
            b->state = HKS_BLOCK_FREE;
        }
    h->threads_overflow = ovf;
    h->fold_begin = h->fold_end;
    h->pid = (uint32_t)syscall(SYS_getpid);
    h->start_time_ns = realtime_ns();
    if (self && in_segment(self)) self->os_tid = (uint32_t)syscall(SYS_gettid);
}

void stats_fork_child(void) {
    if (atomic_load_explicit(&seg_state, memory_order_acquire) != SEG_READY) return;
    int saved = errno;
    hks_thread *self = hk_tls.st;
    if (seg_mode == MODE_MEMFD) {
        /* The inherited mapping is shared with the parent: build a copy
         * in a new memfd (or private memory) and put it at the same
         * address, then drop the parent's fd so this process lists one
         * segment, its own. */
        int fd = -1, ok = 0;
        void *tmp = memfd_segment(seg_size, NULL, &fd);
        int shared = tmp != NULL;
        if (!tmp) {
            tmp = mmap(NULL, seg_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (tmp == MAP_FAILED) tmp = NULL;
        }
        if (tmp) {
            copy_used(tmp, seg_hdr);
            void *at = seg_hdr;
            if (shared) {
                munmap(tmp, seg_size);
                ok = mmap(at, seg_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == at;
                if (!ok) close(fd);
            } else {
                ok = mremap(tmp, seg_size, seg_size, MREMAP_MAYMOVE | MREMAP_FIXED, at) == at;
                if (!ok) munmap(tmp, seg_size);
            }
        }
        if (!ok) {
            /* The child keeps counting into the parent's segment (wrong
             * figures, never a crash); folding there would destroy the
             * parent's counts, so stop here. */
            errno = saved;
            return;
        }
        close(seg_fd);
        seg_fd = shared ? fd : -1;
        seg_mode = shared ? MODE_MEMFD : MODE_PRIVATE;
    }
    child_fixup(self);
    make_path();
    errno = saved;
}
