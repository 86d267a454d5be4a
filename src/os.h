/* os.h - the OS box: every mapping hakmem makes goes through here.
 *
 * Owns: raw mmap/munmap/madvise/mprotect/mremap calls made with syscall(2)
 * semantics (errno preserved for the caller to set ENOMEM), the fault
 * injection hook (HAKMEM_FAULT_MMAP), and the OS counters (os_map,
 * os_unmap, bytes) in the calling thread's stats block.
 * Invariant: nothing here allocates with malloc.
 */
#ifndef HAKMEM_OS_H
#define HAKMEM_OS_H

#include <stddef.h>
#include <stdint.h>

/* Fresh anonymous read-write private mapping, or NULL. */
void *os_map(size_t size);
/* Reserve address space only (PROT_NONE, MAP_NORESERVE).  `hint` may be
 * NULL; with `fixed` the range must land exactly at `hint`. */
void *os_reserve(void *hint, size_t size, int fixed);
/* Make [p, p+size) of a reservation read-write: returns 0 or -1. */
int   os_commit(void *p, size_t size);
/* Give pages back to the kernel (RSS falls), keeping the range reserved. */
void  os_decommit(void *p, size_t size);
/* Drop page contents but keep them mapped read-write (MADV_DONTNEED). */
void  os_purge(void *p, size_t size);
void  os_unmap(void *p, size_t size);
/* mremap wrapper (may move), NULL on failure. */
void *os_remap(void *p, size_t old_size, size_t new_size);
size_t os_page_size(void);
uint64_t os_now_ns(void);              /* CLOCK_MONOTONIC */
/* Write a whole string to stderr with write(2) (no stdio, no malloc). */
void  os_write_err(const char *s);

#endif
