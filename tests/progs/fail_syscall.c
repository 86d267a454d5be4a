/* fail_syscall - run a command with some system calls failing, to test
 * the fallbacks behind them (a seccomp filter, inherited across exec).
 *
 *   fail_syscall memfd CMD [ARGS]   memfd_create fails with EMFILE
 *   fail_syscall shared CMD [ARGS]  mmap with MAP_SHARED fails with ENOMEM
 * Exit: CMD's status; 2 on a usage error; 1 if the filter cannot be set.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "memfd") && strcmp(argv[1], "shared"))) {
        fprintf(stderr, "usage: fail_syscall memfd|shared CMD [ARGS]\n");
        return 2;
    }
    int shared = !strcmp(argv[1], "shared");
    /* x86-64 only; other architectures run unfiltered (the test says so) */
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, shared ? __NR_mmap : __NR_memfd_create, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, shared ? MAP_SHARED : 0, shared ? 0 : 1, shared ? 1 : 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (shared ? ENOMEM : EMFILE)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        fprintf(stderr, "fail_syscall: cannot install the seccomp filter: %s\n", strerror(errno));
        return 1;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "fail_syscall: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
