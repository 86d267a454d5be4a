/* fork_free.c - a forked child frees a block its parent allocated, in the
 * middle of its work (tests/replay/replay_exitfrees.sh compiles it).
 *
 * In the child's trace that pointer was never returned (the malloc is the
 * parent's, under the parent's vpid): `hakmem-replay convert --pid CHILD`
 * must warn about it although it is an unknown free, because the child
 * keeps allocating afterwards; the frees liblttng-ust makes when each
 * process exits normally come after everything else and are only counted.
 * Prints "pid=P child=C ptr=0x..." on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    char *p = malloc(100);
    if (!p) return 1;
    memset(p, 1, 100);
    fflush(stdout);
    pid_t k = fork();
    if (k < 0) return 1;
    if (k == 0) {
        void *a[64];
        for (int i = 0; i < 64; i++)
            if (!(a[i] = malloc(32 + (size_t)i))) _exit(1);
        free(p);                     /* the parent's block */
        for (int i = 0; i < 64; i++) free(a[i]);
        void *q = malloc(200);
        free(q);
        exit(0);                     /* destructors run: liblttng-ust frees */
    }
    int st;
    if (waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    printf("pid=%d child=%d ptr=%p\n", (int)getpid(), (int)k, (void *)p);
    free(p);
    return 0;
}
