/* hakmem-lockstat - lock-contention report of hakmem's named locks.
 *
 *   hakmem-lockstat [OPTIONS] TRACE_DIR     from a trace (call sites, stacks)
 *   hakmem-lockstat [OPTIONS] -p PID        from a live process's counters
 *   hakmem-lockstat [OPTIONS] --segment F   from a saved stats segment
 *
 * Per lock, by total wait: acquisitions, contended, contention %, total/
 * avg/max wait, total/avg/max hold, owner switches; from a trace also the
 * top waiter and holder call sites, symbolized.  -o json, --folded.
 * Exit status: 0 success, 1 user error (one line on stderr), 2 usage
 * error.  docs/howto-locks.md, docs/man/hakmem-lockstat.1.
 */
#include "lockstat.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#ifndef HAKMEM_VERSION
#define HAKMEM_VERSION "unknown"
#endif

static void usage(FILE *f) {
    fprintf(f,
        "usage: hakmem-lockstat [OPTIONS] TRACE_DIR\n"
        "       hakmem-lockstat [OPTIONS] -p PID\n"
        "       hakmem-lockstat [OPTIONS] --segment FILE\n"
        "Lock-contention report of hakmem's named locks, sorted by total wait:\n"
        "acquisitions, contended, contention %%, total/avg/max wait and hold, owner\n"
        "switches; from a trace also the top waiter and holder call sites.\n"
        "\n"
        "  TRACE_DIR             an LTTng trace with hakmem's lock events\n"
        "                        (hakmem-trace --events boxes|all)\n"
        "  -p, --pid PID         a running process's counters: two samples, rates\n"
        "  -d, --delay SECONDS   time between the two samples (default 1; 0 = one\n"
        "                        sample, no rates; at most 3600)\n"
        "      --segment FILE    a saved stats segment (cp /proc/PID/fd/N FILE)\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "      --folded          'lock;frame;...;frame value' lines for flame graphs\n"
        "      --weight W        folded value: wait (ns, default), hold (ns),\n"
        "                        acquisitions, contended\n"
        "  -t, --top N           call sites shown per table in text (default 5, 0 = all)\n"
        "      --depth N         frames shown per call site in text (default 8)\n"
        "      --vpid PID        only the events of this process of the trace\n"
        "      --allow-gaps      report a trace that lost events (lower bounds)\n"
        "  -v, --verbose         say why addresses stay unsymbolized\n"
        "  -h, --help            this help\n"
        "  -V, --version         version\n"
        "\n"
        "See hakmem-lockstat(1) and docs/howto-locks.md.\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'hakmem-lockstat --help'.\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    setlocale(LC_ALL, "C");
    ls_opts o;
    memset(&o, 0, sizeof o);
    o.delay = 1.0;
    o.top = 5;
    o.depth = 8;
    o.weight = W_WAIT;
    const char *output = "text";
    enum { O_SEGMENT = 256, O_FOLDED, O_WEIGHT, O_DEPTH, O_VPID, O_ALLOW_GAPS };
    static const struct option lo[] = {
        { "pid", required_argument, NULL, 'p' },
        { "delay", required_argument, NULL, 'd' },
        { "segment", required_argument, NULL, O_SEGMENT },
        { "output", required_argument, NULL, 'o' },
        { "folded", no_argument, NULL, O_FOLDED },
        { "weight", required_argument, NULL, O_WEIGHT },
        { "top", required_argument, NULL, 't' },
        { "depth", required_argument, NULL, O_DEPTH },
        { "vpid", required_argument, NULL, O_VPID },
        { "allow-gaps", no_argument, NULL, O_ALLOW_GAPS },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c, have_delay = 0, have_output = 0;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:d:o:t:vhV", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_long(optarg, 1, INT_MAX, &v)) return usage_error("-p needs a process id, not '%s'", optarg);
            o.pid = v;
            break;
        case 'd': {
            char *end;
            errno = 0;
            double d = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(d >= 0 && d <= 3600))
                return usage_error("-d needs seconds between 0 and 3600, not '%s'", optarg);
            o.delay = d;
            have_delay = 1;
            break;
        }
        case O_SEGMENT: o.segment = optarg; break;
        case 'o':
            output = optarg;
            have_output = 1;
            if (strcmp(output, "text") && strcmp(output, "json"))
                return usage_error("-o must be text or json, not '%s'", optarg);
            break;
        case O_FOLDED: o.folded = 1; break;
        case O_WEIGHT:
            if (!strcmp(optarg, "wait")) o.weight = W_WAIT;
            else if (!strcmp(optarg, "hold")) o.weight = W_HOLD;
            else if (!strcmp(optarg, "acquisitions")) o.weight = W_ACQ;
            else if (!strcmp(optarg, "contended")) o.weight = W_CONT;
            else return usage_error("--weight must be wait, hold, acquisitions or contended, not '%s'", optarg);
            break;
        case 't':
            if (parse_long(optarg, 0, INT_MAX, &v)) return usage_error("--top needs a count, not '%s'", optarg);
            o.top = (int)v;
            break;
        case O_DEPTH:
            if (parse_long(optarg, 1, LS_MAX_FRAMES, &v))
                return usage_error("--depth needs 1..64, not '%s'", optarg);
            o.depth = (int)v;
            break;
        case O_VPID:
            if (parse_long(optarg, 1, INT_MAX, &v)) return usage_error("--vpid needs a process id, not '%s'", optarg);
            o.vpid = v;
            break;
        case O_ALLOW_GAPS: o.allow_gaps = 1; break;
        case 'v': o.verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("hakmem-lockstat %s\n", HAKMEM_VERSION); return 0;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) o.trace_dir = argv[optind++];
    if (optind < argc) return usage_error("one trace directory only ('%s' is extra)", argv[optind]);
    int sources = !!o.trace_dir + !!o.pid + !!o.segment;
    if (sources == 0) return usage_error("%s", "give a trace directory, -p PID or --segment FILE");
    if (sources > 1) return usage_error("%s", "give only one of TRACE_DIR, -p PID and --segment FILE");
    if (o.folded && have_output) return usage_error("%s", "--folded and -o exclude each other");
    if (have_delay && !o.pid) return usage_error("%s", "-d applies to -p PID only");
    if (o.vpid && !o.trace_dir) return usage_error("%s", "--vpid applies to a trace only");
    o.json = !strcmp(output, "json");

    ls_report r;
    memset(&r, 0, sizeof r);
    r.stacks = stacks_new();
    r.procs = procs_new();
    int rc = o.trace_dir ? trace_load(&o, &r) : live_load(&o, &r);
    if (rc == 0) {
        report_sort(&r);
        if (!r.live) report_symbolize(&r);
        if (o.folded) print_folded(stdout, &r, &o);
        else if (o.json) print_json(stdout, &r, &o);
        else print_text(stdout, &r, &o);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: cannot write the report: %s\n", progname, strerror(errno));
            rc = 1;
        }
    }
    report_free(&r);
    return rc;
}
