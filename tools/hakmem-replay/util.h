/* util.h - small helpers shared by the hakmem-replay commands.
 *
 * Owns: error reporting conventions (one line on stderr, "hakmem-replay:
 * ..."), exit codes, mmap-backed tables (the replayer never allocates its
 * own bookkeeping with malloc, so the allocator under test sees exactly
 * the recorded calls), and an async-signal-safe line formatter used by
 * the crash handler and the --check report alike.
 */
#ifndef HKREPLAY_UTIL_H
#define HKREPLAY_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_USER  1   /* bad input, I/O error, trace refused            */
#define EXIT_USAGE 2   /* bad command line                               */
#define EXIT_CHECK 3   /* run --check found an invalid operation         */

#define PROG "hakmem-replay"

void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Anonymous private mapping of n bytes, zero-filled; NULL on failure
 * (n == 0 gives a valid one-page mapping).  tab_free(p, n) unmaps. */
void *tab_alloc(size_t n);
void  tab_free(void *p, size_t n);
/* n * size, or SIZE_MAX on overflow (tab_alloc then fails). */
size_t tab_size(size_t n, size_t size);

/* Monotonic time in seconds; CPU time of the process in seconds. */
double now_sec(void);
double cpu_sec(void);

/* Parse an unsigned integer (decimal or 0x hex); 0 on success. */
int parse_u64(const char *s, uint64_t *out);

/* ---- async-signal-safe output ------------------------------------- */
struct obuf {
    char   buf[4096];
    size_t n;
    int    fd;
    int    linebuf;      /* flush at every newline (default 1) */
};
void ob_init(struct obuf *o, int fd);
void ob_str(struct obuf *o, const char *s);
void ob_u64(struct obuf *o, uint64_t v);
void ob_i64(struct obuf *o, int64_t v);
void ob_hex(struct obuf *o, uint64_t v);          /* 0x... */
void ob_ch(struct obuf *o, char c);
void ob_flush(struct obuf *o);
/* Seconds with 9 decimals from nanoseconds: "1.000002345". */
void ob_sec(struct obuf *o, int64_t ns);

#endif
