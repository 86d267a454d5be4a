/* check.h - the check box: HAKMEM_CHECK=1, misuse detection that may cost
 * time (up to ~3x on malloc/free-bound code) but catches what the default
 * mode cannot.
 *
 * Owns: the shadow map (one word per 8 bytes of arena capacity, OS memory,
 * MAP_NORESERVE: a word is non-zero while the block starting there is
 * free, and then records who freed it: hakmem thread slot and the call
 * site; the shadow of segments the arena decommits is dropped too), the quarantine (a FIFO of freed blocks kept out of circulation,
 * HAKMEM_CHECK_QUARANTINE bytes, lock "check_quarantine", registered last
 * so it is never held while another lock is taken), and the per-thread
 * re-entry flag hk_tls.busy.
 * Checked entry points (check_*): api.c routes every public call here when
 * hk_check_mode is set (one predictable branch on a read-mostly global; the
 * tiny fast paths in front.h know nothing of check mode).
 * Catches: double free (always, until the block is handed out again),
 * realloc / malloc_usable_size of a freed block, free of a foreign or
 * interior pointer, writes into a quarantined block (use after free, first
 * 64 bytes of each block), any allocator call made while this thread is
 * already inside one (a signal handler that interrupted malloc).
 * Reports go through external.h (one line, then a backtrace).
 * Tracepoints: the replay set (malloc, free, calloc, realloc, memalign) is
 * emitted here in check mode.  Counters: none of its own.
 */
#ifndef HAKMEM_CHECK_H
#define HAKMEM_CHECK_H

#include <stddef.h>

/* set once at start-up from HAKMEM_CHECK; hidden, so the test in api.c is
 * one compare with memory and a branch (no GOT load) */
extern int hk_check_mode __attribute__((visibility("hidden")));

/* Core init (thread.c), after the arena: map the shadow and the
 * quarantine, register the lock, set hk_check_mode.  No-op unless
 * hk_cfg.check. */
void   check_init(void);

void  *check_malloc(size_t n, const void *ra);
void   check_free(void *p, const void *ra);
void  *check_calloc(size_t nmemb, size_t size, const void *ra);
void  *check_realloc(void *p, size_t n, const void *ra);
void  *check_reallocarray(void *p, size_t nmemb, size_t size, const void *ra);
/* align: a power of two (the caller validated it) */
void  *check_memalign(size_t align, size_t n, const void *ra);
size_t check_usable_size(void *p);
/* malloc_trim: release every quarantined block. */
void   check_flush(void);
/* The arena gave segments [seg, seg+len) back to the OS: drop their shadow
 * (no block lives there any more), so the shadow's RSS follows the heap. */
void   check_seg_released(const void *seg, size_t len);

/* Provided by api.c for this box (internal, not exported). */
void  *api_alloc(size_t n);
void  *api_alloc_aligned(size_t align, size_t n);
void   api_release(void *p);
/* 1 = p is the start of a block hakmem handed out (*usable = its usable
 * size, 0 if the tier says it is not live), 0 = not hakmem's, -1 = inside
 * a block. */
int    api_classify(const void *p, size_t *usable);

#endif
