/* session.h - driving LTTng for hakmem-trace: the `lttng` command line,
 * the session daemon, and one uniquely named recording session.
 *
 * Rules (shared with everything else that runs as this user): every lttng
 * command gets `-s NAME` or the session name; the "current session" of
 * ~/.lttngrc is never read nor changed (our lttng commands run with a
 * private LTTNG_HOME whose .lttng links to the real run directory); only a
 * session daemon we started is stopped, and only when no other session
 * remains on it.
 *
 * Isolation: the daemon is shared (root: every program of the machine), so
 * hakmem-trace moves the programs it starts into a time namespace of their
 * own (zero clock offsets: nothing the program can observe changes) and
 * every event rule of the session gets the filter `$ctx.time_ns == INODE`.
 * Other traced programs registered with the same daemon then write
 * nothing into our buffers, while CMD's descendants (fork, exec, daemons)
 * inherit the namespace and stay recorded.
 */
#ifndef HAKMEM_TRACE_SESSION_H
#define HAKMEM_TRACE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lt {
    int    verbose;
    char   home[256];       /* private LTTNG_HOME for lttng commands     */
    char   rundir[512];     /* the session daemon's run directory        */
    pid_t  sessiond_pid;    /* > 0: we started it                        */
    char   name[96];        /* our session, "" until created             */
    int    created;
};

/* Prepare the private home (mkdtemp + link to the run directory). */
int  lt_init(struct lt *lt, int verbose);
/* Remove the private home. */
void lt_fini(struct lt *lt);

/* Run `lttng ARGS...` (NULL-terminated) in its own process group (a
 * terminal Ctrl-C meant for the traced command must not interrupt lttng
 * half-way), without LD_PRELOAD.  Output is captured into out
 * (NUL-terminated, truncated to outlen) when out != NULL.  Returns the
 * exit status, 127 when lttng cannot be run, -1 on a fork error. */
int  lt_run(struct lt *lt, char *out, size_t outlen, const char *arg0, ...)
    __attribute__((sentinel));

/* Make sure a session daemon answers; start one (lttng-sessiond
 * --background --no-kernel) when none does.  0 or -1 (message printed). */
int  lt_ensure_sessiond(struct lt *lt);
/* Stop the session daemon if we started it and it has no session left. */
void lt_stop_sessiond(struct lt *lt);

/* Put every child forked from now on into a new time namespace
 * (unshare(CLONE_NEWTIME): needs CAP_SYS_ADMIN, i.e. root).  Returns 0 and
 * the namespace's inode in *ino, or -1 with errno set (EPERM for a normal
 * user, EINVAL for a kernel without time namespaces): no filter then. */
int  lt_isolate_children(uint64_t *ino);

/* Create the session (output directory, or a net:// URL when url != NULL),
 * its blocking channel, contexts and events (each with `filter` when not
 * NULL), and start it. */
struct lt_channel {
    const char *subbuf_size;  /* e.g. "8M" */
    const char *num_subbuf;   /* e.g. "8"  */
};
int  lt_session_setup(struct lt *lt, const char *outdir, const char *url,
                      const struct lt_channel *ch, const char *events,
                      const char *filter);
/* Stop the session (waits until its data is flushed) and read the loss
 * counters of our channel: *discarded events, *lost packets. */
int  lt_session_stop(struct lt *lt, uint64_t *discarded, uint64_t *lost);
/* Destroy our session (waits until the trace is complete). */
int  lt_session_destroy(struct lt *lt);

#endif
