/* thread.c - the thread box (see thread.h).
 *
 * Process start-up is lazy and re-entrant: the first malloc of any thread
 * (even one made by dlsym before our constructors ran) initialises the
 * core (config, stats segment, arena, tiers) without calling malloc; only
 * then are pthread_key_create / pthread_atfork called, which may allocate
 * and so re-enter malloc with the core already usable.
 */
#include "thread.h"
#include "config.h"
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "tiny.h"
#include "mid.h"
#include "l25.h"
#include "large.h"
#include "arena.h"
#include "check.h"
#include "tp.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>

HK_TLS hk_tls_t hk_tls;

enum { INIT_NONE = 0, INIT_CORE = 1, INIT_READY = 2, INIT_DONE = 3 };
_Atomic int hk_init_state;   /* INIT_*; read inline by thread_ready() */
static pthread_key_t exit_key;

static hk_heap *heaps;                 /* HK_MAX_THREADS + 1 entries */
static uint16_t *heap_gen;             /* generation per slot        */
static hk_heap *heap_free;             /* recycled heaps             */
static uint32_t heap_next = 1;         /* next never-used slot       */
static hak_lock heap_lock = HAK_LOCK_INIT("heap_registry");

static void thread_exit_cb(void *arg);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

static void core_init(void) {
    config_init();
    stats_init();
    hak_lock_register(&heap_lock);
    size_t hsz = (size_t)(HK_MAX_THREADS + 1) * sizeof(hk_heap);
    heaps = mmap(NULL, hsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    heap_gen = mmap(NULL, (HK_MAX_THREADS + 1) * sizeof(uint16_t), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (heaps == MAP_FAILED || heap_gen == MAP_FAILED) {
        os_write_err("hakmem: cannot map the heap table; aborting\n");
        _exit(127);
    }
    tiny_init();
    arena_init();
    mid_init();
    l25_init();
    large_init();
    check_init();   /* HAKMEM_CHECK=1 only; its lock is registered last */
}

void thread_global_init(void) {
    int s = atomic_load_explicit(&hk_init_state, memory_order_acquire);
    if (s >= INIT_READY) return;
    int expect = INIT_NONE;
    if (atomic_compare_exchange_strong(&hk_init_state, &expect, INIT_CORE)) {
        core_init();
        atomic_store_explicit(&hk_init_state, INIT_READY, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&hk_init_state, memory_order_acquire) < INIT_READY) sched_yield();
}

/* Called by the first thread once its own state is live: may allocate. */
static void late_init(void) {
    int expect = INIT_READY;
    if (!atomic_compare_exchange_strong(&hk_init_state, &expect, INIT_DONE)) return;
    pthread_key_create(&exit_key, thread_exit_cb);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static hk_heap *heap_claim(void) {
    hak_lock_acquire(&heap_lock);
    hk_heap *h = heap_free;
    uint32_t slot;
    if (h) {
        heap_free = h->next_free;
        slot = (uint32_t)(h - heaps);
    } else if (heap_next <= HK_MAX_THREADS) {
        slot = heap_next++;
        h = &heaps[slot];
    } else {
        hak_lock_release(&heap_lock);
        os_write_err("hakmem: more than 65535 live threads; aborting\n");
        abort();
    }
    uint16_t gen = ++heap_gen[slot];
    hak_lock_release(&heap_lock);
    __builtin_memset(h, 0, sizeof *h);
    h->id = ((uint32_t)gen << 16) | slot;
    h->os_tid = (uint32_t)syscall(SYS_gettid);
    atomic_store_explicit(&h->alive, 1, memory_order_release);
    return h;
}

static void heap_release(hk_heap *h) {
    atomic_store_explicit(&h->alive, 0, memory_order_release);
    hak_lock_acquire(&heap_lock);
    h->next_free = heap_free;
    heap_free = h;
    hak_lock_release(&heap_lock);
}

hk_heap *thread_heap_of(uint32_t id) {
    uint32_t slot = id & 0xffff;
    if (slot == 0 || slot > HK_MAX_THREADS || !heaps) return NULL;
    hk_heap *h = &heaps[slot];
    if (!atomic_load_explicit(&h->alive, memory_order_acquire) || h->id != id) return NULL;
    return h;
}

void thread_ensure(void) {
    hk_tls_t *t = &hk_tls;
    if (t->state == HK_T_LIVE) return;
    thread_global_init();
    if (t->state == HK_T_EXITING) return;  /* flushing: serve from the slow paths */
    hk_heap *h = heap_claim();
    t->heap = h;
    t->id = h->id;
    thread_set_stats(t, stats_thread_claim(h->id, h->os_tid));
    t->drain_mask = hk_cfg.drain_interval ? hk_cfg.drain_interval - 1 : ~0ull;
    tiny_thread_init(t);
    t->state = HK_T_LIVE;
    HKS_GAUGE_ADD(threads_live, 1);
    HKS_GAUGE_ADD(threads_total, 1);
    late_init();
    if (atomic_load_explicit(&hk_init_state, memory_order_acquire) == INIT_DONE)
        pthread_setspecific(exit_key, t);  /* may allocate: we are live */
    HK_TP(thread_start);
}

static void thread_exit_cb(void *arg) {
    hk_tls_t *t = arg;
    if (!t || t->state != HK_T_LIVE) return;
    HK_TP(thread_exit);
    t->state = HK_T_EXITING;
    hk_heap *h = t->heap;
    tiny_thread_exit(t, h);
    mid_thread_exit(h);
    l25_thread_exit(h);
    stats_thread_retire(t->st);
    /* counts made after this (other TSD destructors) land in the shared
     * block, which readers sum */
    thread_set_stats(t, stats_shared_block());
    heap_release(h);
    t->heap = NULL;
    t->id = 0;
    HKS_GAUGE_SUB(threads_live, 1);
    /* A later malloc from another TSD destructor revives the thread (a new
     * heap, and the key destructor runs once more for it). */
    t->state = HK_T_DEAD;
}

static void fork_prepare(void) {
    lock_fork_prepare();
}

static void fork_parent(void) {
    lock_fork_parent();
}

static void fork_child(void) {
    lock_fork_child();
    stats_fork_child();
    hk_tls_t *t = &hk_tls;
    /* Threads other than this one do not exist here: abandon their heaps so
     * their slabs are orphaned and adopted by whoever frees into them. */
    for (uint32_t slot = 1; slot < heap_next; slot++) {
        hk_heap *h = &heaps[slot];
        if (h == t->heap || !atomic_load_explicit(&h->alive, memory_order_relaxed)) continue;
        tiny_thread_abandon(h);
        mid_thread_exit(h);
        l25_thread_exit(h);
        heap_release(h);
    }
    if (t->state == HK_T_LIVE) {
        t->heap->os_tid = (uint32_t)syscall(SYS_gettid);
        thread_set_stats(t, stats_thread_claim(t->id, t->heap->os_tid));
    }
    __atomic_store_n(&stats_global()->threads_live, t->state == HK_T_LIVE ? 1 : 0, __ATOMIC_RELAXED);
}
