/* lru.c - the LRU box (see lru.h).
 *
 * Links are segment indexes + 1 in the segment table (0 = none), so the
 * list costs no memory of its own and survives decommitting the payload.
 */
#include "lru.h"
#include "arena.h"
#include "config.h"
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "superslab.h"
#include "thread.h"
#include "tp.h"

static hak_lock lru_lock = HAK_LOCK_INIT("lru");
static uint32_t head, tail;     /* seg index + 1 */
static uint32_t count;

void lru_init(void) { hak_lock_register(&lru_lock); }

static void unlink_seg(uint32_t i1) {
    hk_segmeta *m = &hk_arena.segs[i1 - 1];
    if (m->lru_prev) hk_arena.segs[m->lru_prev - 1].lru_next = m->lru_next; else head = m->lru_next;
    if (m->lru_next) hk_arena.segs[m->lru_next - 1].lru_prev = m->lru_prev; else tail = m->lru_prev;
    m->lru_prev = m->lru_next = 0;
    count--;
}

/* Evict down to the bounds (or everything with all=1); returns victims
 * linked through lru_next, for unmapping outside the lock. */
static uint32_t collect_victims(int all, uint32_t *n) {
    uint32_t victims = 0;
    *n = 0;
    while (tail && (all || count > hk_cfg.lru_max_count ||
                    (uint64_t)count * HK_SEG_SIZE > hk_cfg.lru_max_bytes)) {
        uint32_t v = tail;
        unlink_seg(v);
        hk_arena.segs[v - 1].lru_next = victims;
        victims = v;
        (*n)++;
    }
    return victims;
}

static void evict(uint32_t victims, uint32_t n) {
    hks_thread *st = hk_tls.st;
    while (victims) {
        uint32_t next = hk_arena.segs[victims - 1].lru_next;
        hk_arena.segs[victims - 1].lru_next = 0;
        void *ss = arena_seg_addr(victims - 1);
        if (st) st->box.lru_evict++;
        HK_TP(lru_evict, ss, count);
        ss_unmap(ss);
        victims = next;
    }
    if (n) {
        HKS_GAUGE_SUB(lru_count, n);
        HKS_GAUGE_SUB(lru_bytes, (uint64_t)n * HK_SEG_SIZE);
    }
}

void lru_push(void *ss) {
    uint32_t i1 = arena_seg_index(ss) + 1;
    hk_segmeta *m = &hk_arena.segs[i1 - 1];
    hak_lock_acquire(&lru_lock);
    atomic_store_explicit(&m->kind, (uint8_t)HK_SEG_LRU, memory_order_release);
    m->lru_stamp = os_now_ns();
    m->lru_prev = 0;
    m->lru_next = head;
    if (head) hk_arena.segs[head - 1].lru_prev = i1; else tail = i1;
    head = i1;
    count++;
    uint32_t c = count, n;
    uint32_t victims = collect_victims(0, &n);
    hak_lock_release(&lru_lock);
    hks_thread *st = hk_tls.st;
    if (st) st->box.lru_push++;
    HKS_GAUGE_ADD(lru_count, 1);
    HKS_GAUGE_ADD(lru_bytes, HK_SEG_SIZE);
    HK_TP(lru_push, ss, c);
    evict(victims, n);
}

void *lru_pop(void) {
    hak_lock_acquire(&lru_lock);
    uint32_t i1 = head;
    if (i1) unlink_seg(i1);
    uint32_t c = count;
    hak_lock_release(&lru_lock);
    if (!i1) return NULL;
    void *ss = arena_seg_addr(i1 - 1);
    hks_thread *st = hk_tls.st;
    if (st) st->box.lru_pop++;
    HKS_GAUGE_SUB(lru_count, 1);
    HKS_GAUGE_SUB(lru_bytes, HK_SEG_SIZE);
    HK_TP(lru_pop, ss, c);
    return ss;
}

size_t lru_trim(void) {
    uint32_t n;
    hak_lock_acquire(&lru_lock);
    uint32_t victims = collect_victims(1, &n);
    hak_lock_release(&lru_lock);
    evict(victims, n);
    return (size_t)n * HK_SEG_SIZE;
}
