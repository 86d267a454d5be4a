/* hakmem-replay - turn a recorded LTTng malloc trace into a compact replay
 * file and re-execute it: to reproduce a crash, to check a trace, to
 * shrink a failing trace, and to compare allocators on one workload.
 *
 *   hakmem-replay convert TRACE_DIR -o FILE.hkr [--allow-gaps] [--source S] [--pid P]
 *                                               [--overlap]
 *   hakmem-replay info FILE.hkr [--threads]
 *   hakmem-replay dump FILE.hkr [--from N] [--count N]
 *   hakmem-replay run [--serial [--one-thread]] [--check] [--stop-at N] FILE.hkr
 *   hakmem-replay run --compare [--serial] FILE.hkr
 *   hakmem-replay reduce FILE.hkr -o SMALL.hkr [--no-check] [--one-thread]
 *
 * Exit status: 0 success; 1 user error (bad file, unreadable trace, lost
 * events); 2 usage error; 3 run --check found an invalid operation.
 * A crash of the allocator during `run` ends with that signal after the
 * report.  docs/man/hakmem-replay.1, docs/replay-format.md,
 * docs/howto-replay.md.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " convert TRACE_DIR -o FILE.hkr [--allow-gaps] [--source hakmem|libc]\n"
        "                        [--pid PID] [--overlap] [--all-anomalies]\n"
        "       " PROG " info FILE.hkr [--threads]\n"
        "       " PROG " dump FILE.hkr [--from N] [--count N]\n"
        "       " PROG " run [--serial [--one-thread]] [--check] [--stop-at N] FILE.hkr\n"
        "       " PROG " run --compare [--serial] FILE.hkr\n"
        "       " PROG " reduce FILE.hkr -o SMALL.hkr [--no-check] [--one-thread] [--timeout SEC]\n"
        "\n"
        "Replay recorded malloc traces (LTTng: the hakmem:* replay events of\n"
        "hakmem-trace, or lttng_ust_libc:* from liblttng-ust-libc-wrapper.so).\n"
        "\n"
        "  convert   read a trace directory, map pointers to objects and threads,\n"
        "            report free of unknown pointers, double frees, pointers\n"
        "            returned while live and lost events; write a .hkr file\n"
        "  info      threads, events by kind, sizes, peak live bytes, time span\n"
        "  dump      one line per event\n"
        "  run       replay with the malloc of this process (LD_PRELOAD decides):\n"
        "            one thread per recorded thread; --serial: the recorded global\n"
        "            order exactly, deterministic, prints a fingerprint of the\n"
        "            addresses; --check: stop at the first invalid operation and\n"
        "            verify the allocator's answers; --stop-at N: stop before\n"
        "            event N (break on hakmem_replay_stop in gdb); --compare: run\n"
        "            under each installed allocator and print a table\n"
        "  reduce    shrink a trace whose replay fails (crash or --check error)\n"
        "            to a small one that fails the same way\n"
        "\n"
        "  -h, --help      this help (also: " PROG " COMMAND --help)\n"
        "  -V, --version   print the version\n"
        "\n"
        "Exit status: 0 ok, 1 error, 2 usage error, 3 --check found an invalid\n"
        "operation; a crash during run re-raises the signal after the report.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "-V") || !strcmp(c, "--version")) {
        printf(PROG " %s (.hkr format %d.%d)\n", HAKMEM_VERSION, 1, 0);
        return 0;
    }
    if (!strcmp(c, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(c, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(c, "dump")) return cmd_dump(argc - 1, argv + 1);
    if (!strcmp(c, "run")) return cmd_run(argc - 1, argv + 1, argv);
    if (!strcmp(c, "reduce")) return cmd_reduce(argc - 1, argv + 1, argv);
    fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", c);
    return EXIT_USAGE;
}
