/* external.h - the ExternalGuard box: what happens to pointers hakmem
 * does not own, and to misuse it detects (double free, interior pointer).
 *
 * HAKMEM_EXTERNAL=abort (default, like glibc's "free(): invalid pointer"),
 * warn (one line, the call is ignored) or ignore (silently ignored).
 * The report is one line on stderr naming the call, the pointer and what
 * is wrong; it is written with write(2), no stdio, no allocation.
 */
#ifndef HAKMEM_EXTERNAL_H
#define HAKMEM_EXTERNAL_H

/* `call` is "free", "realloc", "malloc_usable_size"...; `what` says why. */
void external_report(const char *call, const void *p, const char *what);

#endif
