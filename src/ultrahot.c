/* ultrahot.c - the UltraHot box (see ultrahot.h). */
#include "ultrahot.h"
#include "config.h"

void ultrahot_thread_init(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        t->uh[c] = (hk_cfg.ultrahot_mask >> c) & 1 ? 1 : 0;
    }
}

void ultrahot_flush(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        while (t->uh[c] > 1) {
            void *p = t->uh_slot[c][--t->uh[c] - 1];
            *(void **)p = t->sll_head[c];
            t->sll_head[c] = p;
            t->sll_room[c]--;
        }
    }
}
