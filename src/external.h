/* external.h - the ExternalGuard box: what happens to pointers hakmem
 * does not own, and to misuse it detects (double free, interior pointer,
 * realloc of a freed block, re-entry from a signal handler).
 *
 * HAKMEM_EXTERNAL=abort (default, like glibc's "free(): invalid pointer"),
 * warn (one line, the call is ignored) or ignore (silently ignored).
 * The report is one line on stderr naming the call, the pointer and what
 * is wrong; it is written with write(2), no stdio, no allocation.  In check
 * mode (HAKMEM_CHECK=1) a backtrace of the offending call follows, taken
 * with libgcc's unwinder (_Unwind_Backtrace, found with dlopen by a
 * constructor: no DT_NEEDED), one "hakmem:   #N addr module+off (symbol)"
 * line per frame, hakmem's own frames left out.
 * External pointers are never dereferenced here.
 */
#ifndef HAKMEM_EXTERNAL_H
#define HAKMEM_EXTERNAL_H

#include <stddef.h>

/* `call` is "free", "realloc", "malloc_usable_size"...; `what` says why. */
void external_report(const char *call, const void *p, const char *what);
/* The same with a detail appended to the line ("; <detail>"), e.g. where
 * the block was freed before.  `detail` may be NULL. */
void external_report_ex(const char *call, const void *p, const char *what, const char *detail);
/* Misuse that cannot be survived (re-entry: the allocator's state is
 * half-updated, or a lock is held by the interrupted code): the line, the
 * backtrace when available, then abort() whatever HAKMEM_EXTERNAL says. */
__attribute__((noreturn)) void external_fatal(const char *line);
/* "0x401136 (prog+0x1136 main)" for a code address, via dladdr. */
void external_describe_pc(char *buf, size_t n, const void *pc);
/* A tiny block p of class cls sits in the calling thread's UltraHot
 * magazine or at the head of its SLL, i.e. it is already free. */
int  external_tiny_cached(const void *p, unsigned cls);
/* Why an arena pointer that a tier refused is not a live block start:
 * "double free ...", "invalid pointer (inside a block ...)"... (never
 * reads memory hakmem does not own). */
const char *external_why(const void *p);

#endif
