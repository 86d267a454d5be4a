/* hakmem_tp_probe.c - the probes of the `hakmem` provider, built alone
 * into libhakmem-tp.so (linked with liblttng-ust).  Preload it next to
 * libhakmem.so for a capture (hakmem-trace does); without it every
 * tracepoint stays off and libhakmem.so never loads liblttng-ust.
 * Never link it into a program that also preloads it: a provider
 * registered twice makes liblttng-ust abort.
 *
 * It also wraps fork().  liblttng-ust caches vpid/vtid and only resets
 * them in liblttng-ust-fork's after-fork hook, which runs after glibc's
 * atfork child handlers; the child then re-registers with the session
 * daemon, and events emitted meanwhile are dropped.  So without this
 * wrapper, what hakmem's own fork handlers emit in the child is recorded
 * under the parent's vpid/vtid (with the sequence numbers the child
 * inherited, which look like duplicates in the parent's thread), and a
 * few events vanish from the child's sequence.  The wrapper sets the
 * calling thread's tracepoint guard (hakmem_tp_guard in src/tp.c) for
 * the whole fork call: nothing is traced until the child is registered
 * again, and sequence numbers stay dense on both sides.  Preload order
 * libhakmem.so libhakmem-tp.so liblttng-ust-fork.so puts this wrapper
 * first; RTLD_NEXT reaches liblttng-ust-fork's (or libc's).
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "hakmem_tp.h"

#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

pid_t fork(void)
{
    static pid_t (*next_fork)(void);
    static int (*guard)(int);
    if (!next_fork) {
        guard = (int (*)(int))dlsym(RTLD_DEFAULT, "hakmem_tp_guard");
        next_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
        if (!next_fork) {
            errno = ENOSYS;
            return -1;
        }
    }
    int old = guard ? guard(1) : 0;
    pid_t pid = next_fork();
    if (guard) {
        int e = errno;
        guard(old);
        errno = e;
    }
    return pid;
}
