/* ultrahot.c - the UltraHot box (see ultrahot.h). */
#include "ultrahot.h"
#include "config.h"

void ultrahot_thread_init(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        t->uh_cap[c] = (hk_cfg.ultrahot_mask >> c) & 1 ? HK_UH_SLOTS : 0;
        t->uh_n[c] = 0;
    }
}

void ultrahot_flush(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        while (t->uh_n[c]) {
            void *p = t->uh_slot[c][--t->uh_n[c]];
            *(void **)p = t->sll_head[c];
            t->sll_head[c] = p;
            t->sll_count[c]++;
        }
    }
}
