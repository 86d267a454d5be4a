/* reader_impl.h - internals shared by the trace reader's files (not part
 * of the library's API; tools include reader.h only).
 *
 *   reader.c        names, finding traces, the babeltrace2 graph and the
 *                   decoding (hkr_read_inproc: runs in the calling process;
 *                   hkr_read_messages: the same graph, raw messages)
 *   reader_check.c  framing checks of metadata and index files, done
 *                   before babeltrace2 sees them (it loops or asserts on
 *                   some damage)
 *   reader_child.c  hkr_read: runs hkr_read_inproc in a child process and
 *                   replays its events here, so that a babeltrace2 crash
 *                   on a damaged trace is an error, not the tool's crash
 */
#ifndef HAKMEM_TRACE_READER_IMPL_H
#define HAKMEM_TRACE_READER_IMPL_H

#include "reader.h"

/* Read the traces in dirs[0..ndirs) (found below dir) in this process.
 * on_ready(arg), when not NULL, is called once babeltrace2 has parsed the
 * metadata and indexed the streams, before the first event.  Returns as
 * hkr_read. */
int hkr_read_inproc(const char *dir, char **dirs, int ndirs, const struct hkr_callbacks *cb,
                    struct hkr_stats *stats, char *errbuf,
                    void (*on_ready)(void *), void *ready_arg);

/* hkr_find_traces, with "DIR: no LTTng trace below it" as an error too:
 * returns the number of directories (> 0) or -1 with a message. */
int hkr_trace_dirs(const char *dir, char ***dirs, char *errbuf);

/* Provider, event id and the name without provider of a recorded event
 * name ("hakmem:malloc" -> HKR_PROV_HAKMEM, HKR_EV_MALLOC, "malloc"). */
void hkr_classify(const char *full_name, enum hkr_provider *prov, enum hkr_event_id *id,
                  const char **name);

/* Offset in struct hkr_event of integer field f (f < HKR_F_NINT). */
size_t hkr_field_offset(int f);

/* Account a discard message in stats (both kinds). */
void hkr_stats_discard(struct hkr_stats *st, const struct hkr_discard *d);

/* 0 when the metadata file of trace directory dir, and the index files
 * of its streams, are well framed; -1 with a one-line message. */
int hkr_check_trace_dir(const char *dir, char *errbuf);

void hkr_seterr(char *errbuf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
