/* ultrahot.h - the UltraHot box: a 4-slot per-thread magazine in front of
 * the TLS SLL for the classes in HAKMEM_ULTRAHOT_MASK (opt-in: none by
 * default; 0x06 = 16 and 32 B).
 *
 * Why: an array pop does not read the block (a list pop must load the
 * next pointer from it), so a hit costs no dependent load.  Why opt-in:
 * measured on this machine, the magazine's extra test and index arithmetic
 * cost more than the load it saves (fixed 16 B churn 12% slower with it,
 * random sizes 8% slower: docs/performance.md); the SLL's next-pointer load
 * is off the critical path of the returned pointer.
 * Owns: hk_tls.uh_slot/uh.  free fills it, malloc empties it
 * (inline, front.h); it spills into the SLL when flushed.
 * Counters: cls[].uh_hits, cls[].uh_misses.  Tracepoints: ultrahot_hit,
 * ultrahot_miss.
 */
#ifndef HAKMEM_ULTRAHOT_H
#define HAKMEM_ULTRAHOT_H

#include "thread.h"

void ultrahot_thread_init(hk_tls_t *t);
/* Move every magazine's blocks onto the class's SLL. */
void ultrahot_flush(hk_tls_t *t);

#endif
