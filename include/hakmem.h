/* hakmem.h - public header of libhakmem.
 *
 * Programs normally use hakmem through LD_PRELOAD=libhakmem.so and the
 * standard malloc API.  This header adds the few entry points that let a
 * program (or a test) look inside: counters, a flush of the calling
 * thread's caches, and the version.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_API __attribute__((visibility("default")))

struct hks_thread;
struct hks_global;

/* "0.1.0" */
HAKMEM_API const char *hakmem_version(void);

/* Sum of every thread's counters (live and retired) into *sum, and the
 * process-wide gauges into *global (either may be NULL).  Layouts:
 * hakmem_stats.h.  Returns 0. */
HAKMEM_API int hakmem_stats_read(struct hks_thread *sum, struct hks_global *global);

/* Give the calling thread's cached tiny blocks back to their slabs (the
 * periodic drain, done now), so empty slabs and SuperSlabs are released. */
HAKMEM_API void hakmem_thread_flush(void);

/* Arena base and size (ownership range of Tiny/Mid/L2.5/Large blocks). */
HAKMEM_API void hakmem_arena(uintptr_t *base, size_t *size);

/* Name of the stats segment of this process (e.g. "/proc/PID/fd/N" or a
 * /dev/shm path), or NULL when there is none. */
HAKMEM_API const char *hakmem_stats_path(void);

#ifdef __cplusplus
}
#endif

#endif
