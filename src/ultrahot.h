/* ultrahot.h - the UltraHot box: a 4-slot per-thread magazine in front of
 * the TLS SLL for the hottest classes (HAKMEM_ULTRAHOT_MASK, default C1
 * and C2 = 16 and 32 B).
 *
 * Why: an array pop does not read the block (a list pop must load the
 * next pointer from it), so a hit costs no dependent load.
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
