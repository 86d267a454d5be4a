/* classes.c - the classes view: one row per tiny class C0..C7, then the
 * Mid, L2.5 and Large tiers (sorted by the chosen column), and below it
 * the box counters that have no per-class meaning. */
#include "top.h"

#include <curses.h>

void classes_draw(int y0, int rows, int cols, const top_view *v, int sort, int reverse) {
    char buf[512], head[512], a[16], b[16];
    if (rows <= 0) return;
    snprintf(buf, sizeof buf, "Classes - sorted by %s%s", col_title[sort], reverse ? " (reversed)" : "");
    row_header(head, sizeof head);
    if (table_top(y0, rows, cols, buf, head, TOP_ROWS, NULL) < 0) return;
    int order[TOP_ROWS];
    sort_rows(v, sort, reverse, order);
    int y = y0 + 2;
    for (int i = 0; i < TOP_ROWS && y < y0 + rows; i++, y++) {
        row_format(buf, sizeof buf, &v->rows[order[i]]);
        put_line(y, cols, 0, buf);
    }
    if (y + 3 > y0 + rows) return;
    y++;
    snprintf(buf, sizeof buf, "SharedPool acquires: stage1 (EMPTY reuse) %llu, stage2 (UNUSED claim) %llu, "
             "stage3 (new SuperSlab) %llu; releases %llu",
             (unsigned long long)v->sp_stage[0], (unsigned long long)v->sp_stage[1],
             (unsigned long long)v->sp_stage[2], (unsigned long long)v->sp_release);
    put_line(y++, cols, 0, buf);
    snprintf(buf, sizeof buf, "Slabs orphaned %llu, adopted %llu; inbox %llu  LRU push %llu pop %llu evict %llu",
             (unsigned long long)v->slab_orphan, (unsigned long long)v->slab_adopt,
             (unsigned long long)v->inbox_recv, (unsigned long long)v->lru_push,
             (unsigned long long)v->lru_pop, (unsigned long long)v->lru_evict);
    put_line(y++, cols, 0, buf);
    snprintf(buf, sizeof buf, "Large live %s, BigCache %s (hits %llu, misses %llu)",
             fmt_bytes(a, sizeof a, v->large_live_bytes), fmt_bytes(b, sizeof b, v->bigcache_bytes),
             (unsigned long long)v->tier[HKS_TIER_LARGE].cache_hits,
             (unsigned long long)v->tier[HKS_TIER_LARGE].cache_misses);
    put_line(y++, cols, 0, buf);
}
