/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", PROG, kind);
    if (n < 0 || (size_t)n >= sizeof line) n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* One line, whatever the message contains. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fflush(stdout);
    fprintf(stderr, "%s\n", line);
}

void errmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void warnmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

size_t tab_size(size_t n, size_t size)
{
    size_t r;
    if (__builtin_mul_overflow(n, size, &r)) return SIZE_MAX;
    return r;
}

void *tab_alloc(size_t n)
{
    if (n == SIZE_MAX) return NULL;
    if (n == 0) n = 1;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                   MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void tab_free(void *p, size_t n)
{
    if (p) munmap(p, n ? n : 1);
}

double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cpu_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* ---- async-signal-safe output ------------------------------------- */

void ob_init(struct obuf *o, int fd)
{
    o->n = 0;
    o->fd = fd;
    o->linebuf = 1;
}

void ob_flush(struct obuf *o)
{
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    o->n = 0;
}

void ob_ch(struct obuf *o, char c)
{
    if (o->n == sizeof o->buf) ob_flush(o);
    o->buf[o->n++] = c;
    if (c == '\n' && o->linebuf) ob_flush(o);
}

void ob_str(struct obuf *o, const char *s)
{
    while (s && *s) ob_ch(o, *s++);
}

void ob_u64(struct obuf *o, uint64_t v)
{
    char t[24];
    int i = 0;
    do { t[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) ob_ch(o, t[--i]);
}

void ob_i64(struct obuf *o, int64_t v)
{
    if (v < 0) {
        ob_ch(o, '-');
        ob_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        ob_u64(o, (uint64_t)v);
    }
}

void ob_hex(struct obuf *o, uint64_t v)
{
    char t[20];
    int i = 0;
    do { t[i++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    ob_str(o, "0x");
    while (i) ob_ch(o, t[--i]);
}

void ob_sec(struct obuf *o, int64_t ns)
{
    if (ns < 0) { ob_ch(o, '-'); ns = -ns; }
    ob_u64(o, (uint64_t)ns / 1000000000u);
    ob_ch(o, '.');
    uint64_t frac = (uint64_t)ns % 1000000000u;
    char t[9];
    for (int i = 8; i >= 0; i--) { t[i] = (char)('0' + frac % 10); frac /= 10; }
    for (int i = 0; i < 9; i++) ob_ch(o, t[i]);
}
