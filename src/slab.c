/* slab.c - the Slab box (see slab.h). */
#include "slab.h"
#include "remote.h"
#include "shared_pool.h"
#include "stats.h"
#include "tp.h"
#include "lock.h"

#include <sys/mman.h>

/* Orphan stacks: per class, an array of slab indexes in OS memory (one
 * entry per slab at most, thanks to `orphan_listed`), under a lock: this
 * is a thread-exit / slab-miss path.  Entries go stale when an orphan is
 * adopted through a free; pops skip those. */
static hak_lock orphan_lock = HAK_LOCK_INIT("orphans");
static uint32_t *orphan_stack[HK_TINY_CLASSES];
static uint32_t orphan_n[HK_TINY_CLASSES];
static uint32_t orphan_cap;

void slab_init(void) {
    hak_lock_register(&orphan_lock);
}

static int orphan_stacks_ready(void) {
    if (orphan_cap) return 1;
    if (!hk_arena.nsegs) return 0;
    uint32_t cap = hk_arena.nsegs * HK_SLABS_PER_SEG;
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        void *p = mmap(NULL, (size_t)cap * 4, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return 0;
        orphan_stack[c] = p;
    }
    orphan_cap = cap;
    return 1;
}

static void orphan_push(hk_slab *s) {
    if (atomic_exchange_explicit(&s->orphan_listed, 1, memory_order_acq_rel)) return;
    unsigned c = s->cls;
    hak_lock_acquire(&orphan_lock);
    uint32_t n = orphan_n[c];
    if (orphan_stacks_ready() && n < orphan_cap) {
        orphan_stack[c][n] = arena_slab_index(s);
        __atomic_store_n(&orphan_n[c], n + 1, __ATOMIC_RELAXED);  /* read unlocked */
    } else {
        atomic_store_explicit(&s->orphan_listed, 0, memory_order_release);
    }
    hak_lock_release(&orphan_lock);
}

hk_slab *slab_adopt_orphan(hk_heap *h, unsigned cls) {
    if (!__atomic_load_n(&orphan_n[cls], __ATOMIC_RELAXED)) return NULL;
    for (;;) {
        hak_lock_acquire(&orphan_lock);
        hk_slab *s = NULL;
        if (orphan_n[cls]) {
            uint32_t n = orphan_n[cls] - 1;
            __atomic_store_n(&orphan_n[cls], n, __ATOMIC_RELAXED);
            s = &hk_arena.slabs[orphan_stack[cls][n]];
        }
        hak_lock_release(&orphan_lock);
        if (!s) return NULL;
        atomic_store_explicit(&s->orphan_listed, 0, memory_order_release);
        if (s->cls != cls || atomic_load_explicit(&s->owner, memory_order_acquire) != 0) continue;
        if (!slab_adopt(h, s)) continue;
        if (s->list == HK_LIST_PARTIAL && (s->free || s->carved < s->capacity)) return s;
    }
}

const uint16_t hk_class_size[HK_TINY_CLASSES] = { 8, 16, 32, 64, 128, 256, 512, 1024 };

void slab_activate(hk_slab *s, unsigned cls, uint32_t owner) {
    uint16_t bs = hk_class_size[cls];
    if (s->block_size != bs) {
        s->free = NULL;
        s->carved = 0;
        slab_set_used(s, 0);
        s->capacity = (uint32_t)(HK_SLAB_SIZE / bs);
        s->block_size = bs;
        s->cls = (uint8_t)cls;
    }
    s->list = HK_LIST_NONE;
    s->prev = s->next = NULL;
    s->inbox_next = NULL;
    atomic_store_explicit(&s->in_inbox, 0, memory_order_relaxed);
    atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
    atomic_store_explicit(&s->owner, owner, memory_order_release);
    hks_thread *st = hk_tls.st;
    if (st) st->cls[cls].slabs_acquired++;
}

unsigned slab_take(hk_slab *s, unsigned want, void **chain) {
    unsigned n = 0;
    void *p = s->free;
    if (p) {
        unsigned avail = s->carved - s->used;
        if (avail <= want) {          /* the whole list, O(1) */
            *chain = p;
            s->free = NULL;
            slab_set_used(s, s->used + avail);
            return avail;
        }
        void *head = p, *last = p;
        for (n = 1; n < want; n++) last = *(void **)last;
        s->free = *(void **)last;
        *(void **)last = NULL;
        slab_set_used(s, s->used + n);
        *chain = head;
        return n;
    }
    if (s->carved < s->capacity) {
        unsigned k = s->capacity - s->carved;
        if (k > want) k = want;
        size_t bs = s->block_size;
        char *b = (char *)slab_base(s) + (size_t)s->carved * bs;
        for (unsigned i = 0; i + 1 < k; i++) *(void **)(b + i * bs) = b + (i + 1) * bs;
        *(void **)(b + (size_t)(k - 1) * bs) = NULL;
        s->carved += k;
        slab_set_used(s, s->used + k);
        *chain = b;
        return k;
    }
    return 0;
}

void slab_list_add(hk_heap *h, hk_slab *s, int which) {
    hk_slab **head = which == HK_LIST_FULL ? &h->full[s->cls] : &h->partial[s->cls];
    s->prev = NULL;
    s->next = *head;
    if (*head) (*head)->prev = s;
    else if (which == HK_LIST_PARTIAL) h->partial_tail[s->cls] = s;
    *head = s;
    s->list = (uint8_t)which;
}

/* At the far end of the partial list: refills take from the head, so a
 * slab added here is allocated from last and gets the chance to empty. */
static void slab_list_add_tail(hk_heap *h, hk_slab *s) {
    unsigned c = s->cls;
    hk_slab *t = h->partial_tail[c];
    s->next = NULL;
    s->prev = t;
    if (t) t->next = s; else h->partial[c] = s;
    h->partial_tail[c] = s;
    s->list = HK_LIST_PARTIAL;
}

void slab_list_remove(hk_heap *h, hk_slab *s) {
    if (s->list == HK_LIST_NONE) return;
    int partial = s->list == HK_LIST_PARTIAL;
    hk_slab **head = partial ? &h->partial[s->cls] : &h->full[s->cls];
    if (s->prev) s->prev->next = s->next; else *head = s->next;
    if (s->next) s->next->prev = s->prev;
    else if (partial) h->partial_tail[s->cls] = s->prev;
    s->prev = s->next = NULL;
    s->list = HK_LIST_NONE;
}

void slab_release(hk_heap *h, hk_slab *s) {
    slab_list_remove(h, s);
    hks_thread *st = hk_tls.st;
    if (st) st->cls[s->cls].slabs_released++;
    sp_release(s);
}

void slab_after_take(hk_heap *h, hk_slab *s) {
    if (s->free || s->carved < s->capacity) return;
    for (;;) {
        if (remote_arm(s)) {
            slab_list_remove(h, s);
            slab_list_add(h, s, HK_LIST_FULL);
            return;
        }
        /* remote frees pending: merge them and stay partial */
        if (slab_merge_remote(h, s)) return;
    }
}

unsigned slab_merge_remote(hk_heap *h, hk_slab *s) {
    void *chain = remote_take(s);
    if (!chain) return 0;
    unsigned n = 1;
    void *last = chain;
    while (*(void **)last) { last = *(void **)last; n++; }
    *(void **)last = s->free;
    s->free = chain;
    slab_set_used(s, s->used - n);
    hks_thread *st = hk_tls.st;
    if (st) st->cls[s->cls].remote_recv += n;
    HK_TP(remote_drain, slab_base(s), s->cls, n);
    if (s->list == HK_LIST_FULL) {
        slab_list_remove(h, s);
        slab_list_add(h, s, HK_LIST_PARTIAL);
    }
    return n;
}

void slab_put(hk_heap *h, hk_slab *s, void *p, int keep_one) {
    *(void **)p = s->free;
    s->free = p;
    slab_set_used(s, s->used - 1u);
    if (s->used == 0) {
        /* keep one empty slab per class as hysteresis against churn; a
         * slab on an inbox is released when the inbox is processed */
        if ((keep_one && h->partial[s->cls] == s && !s->next) ||
            atomic_load_explicit(&s->in_inbox, memory_order_acquire)) {
            if (s->list == HK_LIST_FULL) {
                slab_list_remove(h, s);
                slab_list_add(h, s, HK_LIST_PARTIAL);
            }
            return;
        }
        slab_release(h, s);
        return;
    }
    if (s->list == HK_LIST_FULL) {
        slab_list_remove(h, s);
        slab_list_add(h, s, HK_LIST_PARTIAL);
    }
}

unsigned slab_collect(hk_heap *h, unsigned cls, unsigned budget) {
    unsigned merged = 0;
    hk_slab *s = h->partial_tail[cls];
    while (s && budget--) {
        hk_slab *prev = s->prev;
        if (atomic_load_explicit(&s->remote, memory_order_relaxed) & ~HK_REMOTE_NOTIFY)
            merged += slab_merge_remote(h, s);
        if (s->used == 0 && (s->prev || s->next) &&
            !atomic_load_explicit(&s->in_inbox, memory_order_acquire))
            slab_release(h, s);
        s = prev;
    }
    return merged;
}

int slab_adopt(hk_heap *h, hk_slab *s) {
    uint32_t zero = 0;
    if (atomic_load_explicit(&s->state, memory_order_acquire) != HK_SLOT_ACTIVE) return 0;
    /* An orphan always has used > 0; a slab being activated by sp_acquire
     * has used == 0 until its new owner is set, so it is never taken. */
    if (__atomic_load_n(&s->used, __ATOMIC_ACQUIRE) == 0) return 0;
    if (!atomic_compare_exchange_strong(&s->owner, &zero, h->id)) return 0;
    s->list = HK_LIST_NONE;
    s->prev = s->next = NULL;
    atomic_store_explicit(&s->in_inbox, 0, memory_order_relaxed);
    /* An adopted slab holds another thread's leftovers: allocate from it
     * last, so it can empty as those blocks come back and be released. */
    slab_list_add_tail(h, s);
    hks_thread *st = hk_tls.st;
    if (st) st->box.slab_adopt++;
    HK_TP(slab_adopt, slab_base(s), s->cls, s->used);
    slab_merge_remote(h, s);
    if (s->used == 0) slab_release(h, s);
    return 1;
}

static void orphan_list(hk_heap *h, hk_slab *s) {
    hks_thread *st = hk_tls.st;
    while (s) {
        hk_slab *next = s->next;
        slab_merge_remote(h, s);
        if (s->used == 0 && !atomic_load_explicit(&s->in_inbox, memory_order_acquire)) {
            slab_release(h, s);
        } else {
            slab_list_remove(h, s);
            /* Arm the notification: the next remote push finds owner 0 and
             * adopts the slab.  If frees are pending, merge and retry. */
            while (!remote_arm(s) && slab_merge_remote(h, s)) {}
            if (s->used == 0 && !atomic_load_explicit(&s->in_inbox, memory_order_acquire)) {
                slab_release(h, s);
                s = next;
                continue;
            }
            if (st) st->box.slab_orphan++;
            HK_TP(slab_orphan, slab_base(s), s->cls, s->used);
            /* read what we need before letting go: once owner is 0 another
             * thread may adopt the slab and change it */
            int room = s->free || s->carved < s->capacity;
            atomic_store_explicit(&s->owner, 0, memory_order_release);
            if (room) orphan_push(s);
            /* A push may have landed between arm and orphaning and found
             * our id: it notified our (dying) inbox.  Re-check. */
            if (atomic_load_explicit(&s->remote, memory_order_acquire) & ~HK_REMOTE_NOTIFY)
                (void)slab_adopt(h, s);
        }
        s = next;
    }
}

void slab_orphan_all(hk_heap *h) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        /* a re-adopted slab lands back on partial: loop until both empty */
        for (int round = 0; round < 4 && (h->partial[c] || h->full[c]); round++) {
            orphan_list(h, h->full[c]);
            orphan_list(h, h->partial[c]);
        }
    }
}
