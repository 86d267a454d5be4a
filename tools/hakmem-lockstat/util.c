/* util.c - allocation that cannot fail silently, hashing, printable
 * strings.  Out of memory is a user-visible error (exit 1), never a crash. */
#include "lockstat.h"

#include <stdlib.h>
#include <string.h>

const char *progname = "hakmem-lockstat";

static void oom(void) {
    fprintf(stderr, "%s: out of memory\n", progname);
    exit(1);
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *xrealloc(void *p, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) oom();
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) oom();
    return q;
}

char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) oom();
    return d;
}

void grow(void **v, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2) oom();
        c *= 2;
    }
    *v = xrealloc(*v, c, size);
    memset((char *)*v + *cap * size, 0, (c - *cap) * size);
    *cap = c;
}

uint64_t hash64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

void printable(char *out, size_t n, const char *s) {
    if (!n) return;
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = 0;
}
