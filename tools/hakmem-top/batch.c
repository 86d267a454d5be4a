/* batch.c - batch mode (-b): samples as text, CSV or JSON lines, flushed
 * per sample so it works through a pipe; and the text formatting the
 * curses screen shares (numbers, the class table, the summary lines).
 * Numbers always use '.' as the decimal separator: main() keeps
 * LC_NUMERIC at "C" whatever the locale.
 */
#include "top.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- number formatting ---------------------------------------------- */

/* 4 significant characters at most: "999", "9999", "12.3k", "123k". */
static const char *scaled(char *buf, size_t n, double v, const char *const *unit, double step,
                          double limit) {
    int u = 0;
    while (v >= limit && unit[u + 1]) { v /= step; u++; }
    if (u == 0) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, v < 9.95 ? "%.1f%s" : "%.0f%s", v, unit[u]);
    return buf;
}

const char *fmt_bytes(char *buf, size_t n, uint64_t v) {
    static const char *const u[] = { "", "K", "M", "G", "T", "P", "E", NULL };
    return scaled(buf, n, (double)v, u, 1024.0, 1024.0);
}

const char *fmt_count(char *buf, size_t n, double v) {
    static const char *const u[] = { "", "k", "M", "G", "T", "P", "E", NULL };
    if (!(v >= 0)) v = 0;
    if (v > 0 && v < 9.95 && v != (double)(uint64_t)v) { snprintf(buf, n, "%.1f", v); return buf; }
    return scaled(buf, n, v, u, 1000.0, 10000.0);
}

const char *fmt_pct(char *buf, size_t n, double pct) {
    if (pct < 0) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.1f", pct);
    return buf;
}

const char *fmt_uptime(char *buf, size_t n, double secs) {
    uint64_t s = secs > 0 ? (uint64_t)secs : 0;
    if (s >= 86400) snprintf(buf, n, "%llud %02llu:%02llu:%02llu", (unsigned long long)(s / 86400),
                             (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
                             (unsigned long long)(s % 60));
    else snprintf(buf, n, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                  (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
    return buf;
}

/* ---- the class table ------------------------------------------------- */

#define ROW_FMT "%-6s %6s %8s %8s %6s %6s %8s %8s %8s %8s %8s %6s"

void row_header(char *buf, size_t n) {
    const char *const *t = col_title;
    snprintf(buf, n, ROW_FMT, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11]);
}

void row_format(char *buf, size_t n, const top_row *r) {
    char sz[16], a[16], f[16], uh[16], sl[16], rf[16], dr[16], rm[16], lv[16], lb[16], sb[16];
    if (r->tier == HKS_TIER_LARGE) snprintf(sz, sizeof sz, ">1M");
    else fmt_bytes(sz, sizeof sz, r->size);
    fmt_count(a, sizeof a, r->alloc_rate);
    fmt_count(f, sizeof f, r->free_rate);
    fmt_pct(uh, sizeof uh, r->uh_pct);
    fmt_pct(sl, sizeof sl, r->sll_pct);
    fmt_count(rf, sizeof rf, r->refill_rate);
    if (r->tier >= 0) snprintf(dr, sizeof dr, "-");
    else fmt_count(dr, sizeof dr, r->drain_rate);
    fmt_count(rm, sizeof rm, r->remote_rate);
    fmt_count(lv, sizeof lv, (double)r->live_blocks);
    fmt_bytes(lb, sizeof lb, r->live_bytes);
    fmt_count(sb, sizeof sb, (double)r->slabs);
    snprintf(buf, n, ROW_FMT, r->name, sz, a, f, uh, sl, rf, dr, rm, lv, lb, sb);
}

int header_line(char *buf, size_t n, int line, const top_view *v) {
    char a[16], b[16], c[16], d[16], e[16];
    switch (line) {
    case 0:
        snprintf(buf, n, "RSS %s  live %s  threads %llu live, %llu total%s",
                 fmt_bytes(a, sizeof a, v->rss), fmt_bytes(b, sizeof b, v->live_bytes),
                 (unsigned long long)v->threads_live, (unsigned long long)v->threads_total,
                 v->threads_overflow ? "  (some not shown: segment full)" : "");
        return 1;
    case 1:
        snprintf(buf, n, "SuperSlabs %llu live, %llu mapped, %llu unmapped  slots %llu unused / "
                 "%llu active / %llu empty  LRU %llu (%s)",
                 (unsigned long long)v->ss_live, (unsigned long long)v->ss_map,
                 (unsigned long long)v->ss_unmap, (unsigned long long)v->slots_unused,
                 (unsigned long long)v->slots_active, (unsigned long long)v->slots_empty,
                 (unsigned long long)v->lru_count, fmt_bytes(a, sizeof a, v->lru_bytes));
        return 1;
    case 2:
        snprintf(buf, n, "OS maps %s/s unmaps %s/s  committed %s  locks %s acq/s, %s%% contended",
                 fmt_count(a, sizeof a, v->os_map_rate), fmt_count(b, sizeof b, v->os_unmap_rate),
                 fmt_bytes(c, sizeof c, v->committed), fmt_count(d, sizeof d, v->lock_acq_rate),
                 v->lock_contended_pct < 0 ? "0.0" : fmt_pct(e, sizeof e, v->lock_contended_pct));
        return 1;
    default:
        buf[0] = 0;
        return 0;
    }
}

/* ---- text ------------------------------------------------------------ */

static void print_text(FILE *out, const top_view *v, const top_opts *o) {
    char buf[512], up[32];
    fprintf(out, "hakmem-top %s - pid %u (%s) - up %s - sample %ld", HAKMEM_VERSION, v->pid, v->cmd,
            fmt_uptime(up, sizeof up, v->uptime), v->sample);
    if (v->interval > 0) fprintf(out, " - rates over %.2fs", v->interval);
    fputc('\n', out);
    for (int i = 0; header_line(buf, sizeof buf, i, v); i++) fprintf(out, "%s\n", buf);
    fputc('\n', out);
    fprintf(out, "Classes - sorted by %s%s\n", col_title[o->sort], o->sort_reverse ? " (reversed)" : "");
    row_header(buf, sizeof buf);
    fprintf(out, "%s\n", buf);
    int order[TOP_ROWS];
    sort_rows(v, o->sort, o->sort_reverse, order);
    for (int i = 0; i < TOP_ROWS; i++) {
        row_format(buf, sizeof buf, &v->rows[order[i]]);
        fprintf(out, "%s\n", buf);
    }
    fputc('\n', out);
}

/* ---- CSV ------------------------------------------------------------- */

static void csv_pct(FILE *out, double pct) {
    if (pct >= 0) fprintf(out, ",%.2f", pct);
    else fputs(",", out);
}

static void print_csv(FILE *out, const top_view *v, int header) {
    if (header)
        fputs("time,pid,sample,class,size,allocs,frees,alloc_rate,free_rate,ultrahot_hit_pct,"
              "sll_hit_pct,refills,drains,remote_frees,live_blocks,live_bytes,slabs\n", out);
    for (int i = 0; i < TOP_ROWS; i++) {
        const top_row *r = &v->rows[i];
        fprintf(out, "%.3f,%u,%ld,%s,%u,%llu,%llu,%.3f,%.3f", v->time, v->pid, v->sample, r->name,
                r->size, (unsigned long long)r->allocs, (unsigned long long)r->frees, r->alloc_rate,
                r->free_rate);
        csv_pct(out, r->uh_pct);
        csv_pct(out, r->sll_pct);
        fprintf(out, ",%llu,%llu,%llu,%llu,%llu,%llu\n", (unsigned long long)r->refills,
                (unsigned long long)r->drains, (unsigned long long)r->remote,
                (unsigned long long)r->live_blocks, (unsigned long long)r->live_bytes,
                (unsigned long long)r->slabs);
    }
}

static void csv_str(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\n")) { fputs(s, out); return; }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* ---- JSON ------------------------------------------------------------ */

static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void json_num(FILE *out, double v) {
    if (isfinite(v)) fprintf(out, "%.3f", v);
    else fputs("null", out);
}

static void json_pct(FILE *out, double v) {
    if (v >= 0) json_num(out, v);
    else fputs("null", out);
}

#define U(x) ((unsigned long long)(x))

static void print_json(FILE *out, const top_view *v) {
    fprintf(out, "{\"pid\":%u,\"command\":", v->pid);
    json_str(out, v->cmd);
    fprintf(out, ",\"time\":%.3f,\"uptime\":%.3f,\"interval\":%.3f,\"sample\":%ld,\"consistent\":%s,"
            "\"rss_bytes\":%llu,\"live_bytes\":%llu,",
            v->time, v->uptime, v->interval, v->sample, v->consistent ? "true" : "false",
            U(v->rss), U(v->live_bytes));
    fputs("\"classes\":[", out);
    for (int i = 0; i < TOP_ROWS; i++) {
        const top_row *r = &v->rows[i];
        fprintf(out, "%s{\"class\":\"%s\",\"size\":%u,\"allocs\":%llu,\"frees\":%llu,\"alloc_rate\":",
                i ? "," : "", r->name, r->size, U(r->allocs), U(r->frees));
        json_num(out, r->alloc_rate);
        fputs(",\"free_rate\":", out);
        json_num(out, r->free_rate);
        fputs(",\"ultrahot_hit_pct\":", out);
        json_pct(out, r->uh_pct);
        fputs(",\"sll_hit_pct\":", out);
        json_pct(out, r->sll_pct);
        fprintf(out, ",\"refills\":%llu,\"drains\":%llu,\"remote_frees\":%llu,\"live_blocks\":%llu,"
                "\"live_bytes\":%llu,\"slabs\":%llu}",
                U(r->refills), U(r->drains), U(r->remote), U(r->live_blocks), U(r->live_bytes),
                U(r->slabs));
    }
    fputs("],\"tiers\":{", out);
    static const char *const key[HKS_TIERS] = { "mid", "l25", "large" };
    for (int t = 0; t < HKS_TIERS; t++) {
        const hks_tier *k = &v->tier[t];
        const top_row *r = &v->rows[HKS_TINY_CLASSES + t];
        fprintf(out, "%s\"%s\":{\"max_size\":%u,\"allocs\":%llu,\"frees\":%llu,\"alloc_rate\":",
                t ? "," : "", key[t], r->size, U(k->allocs), U(k->frees));
        json_num(out, r->alloc_rate);
        fputs(",\"free_rate\":", out);
        json_num(out, r->free_rate);
        fprintf(out, ",\"bytes_alloc\":%llu,\"bytes_freed\":%llu,\"live_blocks\":%llu,\"live_bytes\":%llu,"
                "\"refills\":%llu,\"remote_sent\":%llu,\"remote_recv\":%llu,\"cache_hits\":%llu,"
                "\"cache_misses\":%llu,\"segments\":%llu,\"segments_freed\":%llu",
                U(k->bytes_alloc), U(k->bytes_freed), U(r->live_blocks), U(r->live_bytes), U(k->refills),
                U(k->remote_sent), U(k->remote_recv), U(k->cache_hits), U(k->cache_misses),
                U(k->segments), U(k->segments_freed));
        if (t == HKS_TIER_LARGE)
            fprintf(out, ",\"large_live_bytes\":%llu,\"bigcache_bytes\":%llu", U(v->large_live_bytes),
                    U(v->bigcache_bytes));
        fputc('}', out);
    }
    fprintf(out, "},\"superslabs\":{\"live\":%llu,\"mapped\":%llu,\"unmapped\":%llu,\"slots_unused\":%llu,"
            "\"slots_active\":%llu,\"slots_empty\":%llu,\"sp_stage1\":%llu,\"sp_stage2\":%llu,"
            "\"sp_stage3\":%llu,\"sp_release\":%llu,\"slab_orphan\":%llu,\"slab_adopt\":%llu,"
            "\"inbox_recv\":%llu}",
            U(v->ss_live), U(v->ss_map), U(v->ss_unmap), U(v->slots_unused), U(v->slots_active),
            U(v->slots_empty), U(v->sp_stage[0]), U(v->sp_stage[1]), U(v->sp_stage[2]),
            U(v->sp_release), U(v->slab_orphan), U(v->slab_adopt), U(v->inbox_recv));
    fprintf(out, ",\"lru\":{\"count\":%llu,\"bytes\":%llu,\"push\":%llu,\"pop\":%llu,\"evict\":%llu}",
            U(v->lru_count), U(v->lru_bytes), U(v->lru_push), U(v->lru_pop), U(v->lru_evict));
    fprintf(out, ",\"os\":{\"map\":%llu,\"unmap\":%llu,\"map_bytes\":%llu,\"unmap_bytes\":%llu,\"map_rate\":",
            U(v->os_map), U(v->os_unmap), U(v->os_map_bytes), U(v->os_unmap_bytes));
    json_num(out, v->os_map_rate);
    fputs(",\"unmap_rate\":", out);
    json_num(out, v->os_unmap_rate);
    fprintf(out, ",\"committed_bytes\":%llu,\"arena_base\":%llu,\"arena_size\":%llu}",
            U(v->committed), U(v->arena_base), U(v->arena_size));
    fputs(",\"locks\":[", out);
    for (uint32_t i = 0; i < v->nlocks; i++) {
        const top_lock_row *l = &v->locks[i];
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_str(out, l->name);
        fprintf(out, ",\"id\":%u,\"acquisitions\":%llu,\"acq_rate\":", l->id, U(l->fig.acquisitions));
        json_num(out, l->fig.acq_rate);
        fprintf(out, ",\"contended\":%llu,\"contention_pct\":", U(l->fig.contended));
        json_pct(out, l->contended_pct);
        fprintf(out, ",\"wait_ns\":%llu,\"wait_max_ns\":%llu,\"hold_ns\":%llu,\"hold_count\":%llu,"
                "\"hold_max_ns\":%llu,\"owner_switches\":%llu}",
                U(l->fig.wait_ns), U(l->fig.wait_max_ns), U(l->fig.hold_ns), U(l->fig.hold_count),
                U(l->fig.hold_max_ns), U(l->fig.owner_switches));
    }
    fprintf(out, "],\"threads\":{\"live\":%llu,\"total\":%llu,\"overflow\":%llu,\"blocks\":[",
            U(v->threads_live), U(v->threads_total), U(v->threads_overflow));
    for (uint32_t i = 0; i < v->nthreads; i++) {
        const top_thread_row *t = &v->threads[i];
        fprintf(out, "%s{\"index\":%u,\"tid\":%u,\"os_tid\":%u,\"kind\":\"%s\",\"allocs\":%llu,"
                "\"frees\":%llu,\"alloc_rate\":",
                i ? "," : "", t->index, t->tid, t->os_tid, t->label ? t->label : "live", U(t->allocs),
                U(t->frees));
        json_num(out, t->alloc_rate);
        fputs(",\"free_rate\":", out);
        json_num(out, t->free_rate);
        fputc('}', out);
    }
    fputs("]}}\n", out);
}

/* ---- loops ----------------------------------------------------------- */

static void sleep_s(double s) {
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int batch_run(const top_opts *o) {
    hkss_sampler smp;
    char err[HKSS_ERRLEN];
    if (sampler_open(&smp, o, err, sizeof err)) {
        fprintf(stderr, "hakmem-top: %s\n", err);
        return 1;
    }
    long count = o->count ? o->count : (o->segment_file ? 1 : 0);
    top_view v;
    memset(&v, 0, sizeof v);
    int rc = 0;
    for (long i = 0; !count || i < count; i++) {
        if (i) sleep_s(o->delay);
        int alive = hkss_alive(smp.seg);
        if (alive == 0) {
            fprintf(stderr, "hakmem-top: process %d exited\n", (int)o->pid);
            break;
        }
        if (sampler_next(&smp, &v, err, sizeof err)) {
            fprintf(stderr, "hakmem-top: %s\n", err);
            rc = 1;
            break;
        }
        if (o->format == FMT_JSON) print_json(stdout, &v);
        else if (o->format == FMT_CSV) print_csv(stdout, &v, i == 0);
        else print_text(stdout, &v, o);
        if (fflush(stdout) != 0 || ferror(stdout)) { rc = 1; break; }
    }
    view_free(&v);
    hkss_sampler_close(&smp);
    return rc;
}

int batch_list(const top_opts *o) {
    long count = o->count ? o->count : 1;
    char err[HKSS_ERRLEN], a[16], b[16];
    for (long i = 0; i < count; i++) {
        if (i) sleep_s(o->delay);
        top_proc *p;
        int n = list_procs(&p, err, sizeof err);
        if (n < 0) { fprintf(stderr, "hakmem-top: %s\n", err); return 1; }
        if (o->format == FMT_JSON) {
            fputs("{\"processes\":[", stdout);
            for (int k = 0; k < n; k++) {
                printf("%s{\"pid\":%d,\"command\":", k ? "," : "", (int)p[k].pid);
                json_str(stdout, p[k].comm);
                printf(",\"rss_bytes\":%llu,\"live_bytes\":%llu,\"threads\":%llu,\"readable\":%s}",
                       U(p[k].rss), U(p[k].live_bytes), U(p[k].threads), p[k].readable ? "true" : "false");
            }
            fputs("]}\n", stdout);
        } else if (o->format == FMT_CSV) {
            if (!i) puts("pid,command,rss_bytes,live_bytes,threads,readable");
            for (int k = 0; k < n; k++) {
                printf("%d,", (int)p[k].pid);
                csv_str(stdout, p[k].comm);
                printf(",%llu,%llu,%llu,%d\n", U(p[k].rss), U(p[k].live_bytes), U(p[k].threads),
                       p[k].readable);
            }
        } else {
            printf("%7s  %-16s %8s %8s %7s\n", "PID", "COMMAND", "RSS", "LIVE", "THREADS");
            for (int k = 0; k < n; k++) {
                if (p[k].readable)
                    printf("%7d  %-16s %8s %8s %7llu\n", (int)p[k].pid, p[k].comm,
                           fmt_bytes(a, sizeof a, p[k].rss), fmt_bytes(b, sizeof b, p[k].live_bytes),
                           U(p[k].threads));
                else
                    printf("%7d  %-16s %8s  (%s)\n", (int)p[k].pid, p[k].comm,
                           fmt_bytes(a, sizeof a, p[k].rss), p[k].note);
            }
            if (!n) puts("(no process has a hakmem stats segment)");
            putchar('\n');
        }
        free(p);
        if (fflush(stdout) != 0) return 1;
    }
    return 0;
}
