/* main.c - hakmem-top's command line.
 *
 *   hakmem-top [-p PID] [-d SECONDS] [-b] [-n COUNT] [-o text|csv|json] [-s KEY]
 *   hakmem-top --segment FILE ...     (a segment saved with cp /proc/PID/fd/N)
 *
 * Exit status: 0 success, 1 user error (no such process, no segment,
 * another user's segment, unknown ABI, ...), 2 usage error.
 */
#include "top.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: hakmem-top [-p PID] [-d SECONDS] [-b] [-n COUNT] [-o text|csv|json] [-s KEY]\n"
        "       hakmem-top --segment FILE [-b] [-o FORMAT]\n"
        "Live counters of a process running with libhakmem.so (its stats segment).\n"
        "\n"
        "  -p, --pid PID          attach to PID (without it: list the processes that have a segment)\n"
        "  -d, --delay SECONDS    time between samples (default 1; 0.05 to 86400)\n"
        "  -b, --batch            print samples instead of the interactive screen\n"
        "  -n, --iterations COUNT stop after COUNT samples (batch default: until the process exits)\n"
        "  -o, --output FORMAT    batch format: text (default), csv, json (one object per line)\n"
        "  -s, --sort KEY         sort the class rows: class size alloc free uh sll refill drain\n"
        "                         remote live bytes slabs (the JSON names work too)\n"
        "  -r, --reverse          reverse the sort order\n"
        "      --segment FILE     read a saved segment file instead of a live process\n"
        "  -h, --help             this help\n"
        "  -V, --version          version\n"
        "\n"
        "Keys: q quit, h help, < > sort, s reverse, p pause, d delay, t threads, l locks.\n"
        "See hakmem-top(1) and docs/counters.md.\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "hakmem-top: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'hakmem-top --help'.\n");
    return 2;
}

int main(int argc, char **argv) {
    /* Curses wants the locale for wide characters; numbers stay "C" so
     * CSV and JSON always use '.' as the decimal separator. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");

    top_opts o;
    memset(&o, 0, sizeof o);
    o.delay = 1.0;
    o.sort = 0;
    int have_format = 0;
    static const struct option longopts[] = {
        { "pid", required_argument, NULL, 'p' },
        { "delay", required_argument, NULL, 'd' },
        { "batch", no_argument, NULL, 'b' },
        { "iterations", required_argument, NULL, 'n' },
        { "output", required_argument, NULL, 'o' },
        { "sort", required_argument, NULL, 's' },
        { "reverse", no_argument, NULL, 'r' },
        { "segment", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:d:bn:o:s:rhV", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p': {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v <= 0 || v > INT_MAX)
                return usage_error("invalid pid '%s'", optarg);
            o.pid = (pid_t)v;
            break;
        }
        case 'd': {
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(v >= 0.05 && v <= 86400))
                return usage_error("invalid delay '%s' (0.05 to 86400 seconds)", optarg);
            o.delay = v;
            break;
        }
        case 'b': o.batch = 1; break;
        case 'n': {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v <= 0)
                return usage_error("invalid count '%s' (a positive integer)", optarg);
            o.count = v;
            break;
        }
        case 'o':
            if (!strcmp(optarg, "text")) o.format = FMT_TEXT;
            else if (!strcmp(optarg, "csv")) o.format = FMT_CSV;
            else if (!strcmp(optarg, "json")) o.format = FMT_JSON;
            else return usage_error("unknown output format '%s' (text, csv or json)", optarg);
            have_format = 1;
            break;
        case 's': {
            int col = col_parse(optarg);
            if (col < 0) return usage_error("unknown sort key '%s' (see --help)", optarg);
            o.sort = col;
            break;
        }
        case 'r': o.sort_reverse = 1; break;
        case 'S': o.segment_file = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("hakmem-top %s (stats segment ABI %u)\n", HAKMEM_VERSION, HKS_ABI_VERSION); return 0;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (have_format && !o.batch) return usage_error("%s", "-o needs -b (batch mode)");
    if (o.pid && o.segment_file) return usage_error("%s", "-p and --segment exclude each other");

    signal(SIGPIPE, SIG_DFL);
    if (o.batch) return (o.pid || o.segment_file) ? batch_run(&o) : batch_list(&o);
    return screen_run(&o);
}
