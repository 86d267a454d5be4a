#!/usr/bin/env python3
"""bench/report.py - medians, tables and results.json from bench/run.sh's raw.tsv.

raw.tsv has one line per run: rep, benchmark, allocator, status (ok, failed,
skipped) and the RESULT line (or the reason).  For every benchmark and
allocator this takes the median over the runs of ops/s, peak RSS (VmHWM) and
the benchmark's extra figures (retention's kept_kb), then compares hakmem
with the best peer (glibc, mimalloc, jemalloc, tcmalloc) and the default
build with the TRACE=0 and COUNTERS=0 builds.  Prints text tables, writes results.json and a
Markdown version of the tables (for docs/performance.md).
"""
import argparse
import datetime
import json
import math
import statistics
import sys

PEERS = ["glibc", "mimalloc", "jemalloc", "tcmalloc"]
RSS_FACTOR = 1.25        # target: peak RSS <= 1.25 x the lowest peer's ...
RSS_SLACK_KB = 4096      # ... or lowest + 4 MiB where footprints are small
TRACE_TARGET = 0.98      # default build within 2% of TRACE=0 ...
COUNTERS_TARGET = 0.98   # ... and of COUNTERS=0
# Builds of hakmem compared with the default one: allocator name, key in
# results.json, what they leave out, target.
VARIANTS = [("hakmem_trace0", "trace0", "TRACE=0", TRACE_TARGET),
            ("hakmem_counters0", "counters0", "COUNTERS=0", COUNTERS_TARGET)]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--allocators", default="")
    ap.add_argument("--nproc", default="")
    ap.add_argument("--cpu", default="")
    ap.add_argument("--kernel", default="")
    ap.add_argument("--load", default="", help="load averages at start / end")
    ap.add_argument("--glibc", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--warning", default="")
    return ap.parse_args()


def number(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def parse_result(line):
    fields = line.split()
    if not fields or fields[0] != "RESULT":
        raise ValueError("not a RESULT line: %r" % line[:80])
    out = {}
    for f in fields[1:]:
        k, sep, v = f.partition("=")
        if not sep:
            raise ValueError("bad field %r" % f)
        out[k] = number(v)
    for k in ("name", "ops", "secs", "ops_per_sec", "peak_rss_kb"):
        if k not in out:
            raise ValueError("RESULT line without %s" % k)
    return out


def read_raw(path):
    benches, data = [], {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", 4)
            if len(parts) != 5:
                sys.exit("report.py: %s:%d: malformed line" % (path, n))
            rep, bench, alloc, status, rest = parts
            if bench not in data:
                benches.append(bench)
                data[bench] = {}
            d = data[bench].setdefault(alloc, {"runs": [], "failures": [], "skipped": None})
            if status == "ok":
                try:
                    r = parse_result(rest)
                except ValueError as e:
                    sys.exit("report.py: %s:%d: %s" % (path, n, e))
                r["rep"] = int(rep)
                d["runs"].append(r)
            elif status == "failed":
                d["failures"].append({"rep": int(rep), "reason": rest})
            elif status == "skipped":
                d["skipped"] = rest
            else:
                sys.exit("report.py: %s:%d: unknown status %r" % (path, n, status))
    return benches, data


def summarize(d):
    if d["skipped"] is not None and not d["runs"]:
        return {"status": "skipped", "reason": d["skipped"]}
    s = {"status": "failed" if d["failures"] or not d["runs"] else "ok",
         "failures": d["failures"], "runs": d["runs"]}
    if d["runs"]:
        ops = [r["ops_per_sec"] for r in d["runs"]]
        med = statistics.median(ops)
        s["ops_per_sec"] = med
        s["ops_per_sec_min"] = min(ops)
        s["ops_per_sec_max"] = max(ops)
        s["spread"] = (max(ops) - min(ops)) / med if med > 0 else 0.0
        s["peak_rss_kb"] = statistics.median(r["peak_rss_kb"] for r in d["runs"])
        s["secs"] = statistics.median(r["secs"] for r in d["runs"])
        for k in ("kept_kb", "live_kb"):
            if all(k in r for r in d["runs"]):
                s[k] = statistics.median(r[k] for r in d["runs"])
    return s


def fmt_ops(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.1fM" % (x / 1e6)
    if x >= 1e3:
        return "%.1fK" % (x / 1e3)
    return "%.0f" % x


def fmt_mib(kb):
    if kb is None:
        return "-"
    return "%.1f" % (kb / 1024.0)


def cell(s, key, fmt):
    if s is None:
        return "-"
    if s["status"] == "skipped":
        return "n/a"
    if s["status"] == "failed" and key not in s:
        return "FAIL"
    v = fmt(s.get(key))
    return v + ("!" if s["status"] == "failed" else "")


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def build(args):
    benches, raw = read_raw(args.raw)
    if not benches:
        sys.exit("report.py: %s has no results" % args.raw)
    allocs = args.allocators.split() or sorted({a for b in raw.values() for a in b})
    out = {
        "generated": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"nproc": args.nproc, "cpu": args.cpu, "kernel": args.kernel,
                    "glibc": args.glibc, "loadavg_start_end": args.load},
        "hakmem_commit": args.commit,
        "peer_versions": dict(v.split("=", 1) for v in args.versions.split() if "=" in v),
        "runs": args.runs, "quick": args.quick == "1", "elapsed_secs": args.elapsed,
        "warning": args.warning or None,
        "allocators": allocs, "peers": [p for p in PEERS if p in allocs],
        "benchmarks": {},
    }
    for b in benches:
        res = {a: summarize(raw[b][a]) for a in allocs if a in raw[b]}
        for a in allocs:
            res.setdefault(a, {"status": "failed", "failures": [{"rep": 0, "reason": "no run recorded"}],
                               "runs": []})
        entry = {"results": res}
        ok_peers = [p for p in PEERS if p in res and res[p]["status"] == "ok"]
        hk = res.get("hakmem")
        if ok_peers:
            best = max(ok_peers, key=lambda p: res[p]["ops_per_sec"])
            low = min(ok_peers, key=lambda p: res[p]["peak_rss_kb"])
            entry["best_peer"] = best
            entry["best_peer_ops_per_sec"] = res[best]["ops_per_sec"]
            entry["lowest_rss_peer"] = low
            entry["lowest_peer_rss_kb"] = res[low]["peak_rss_kb"]
            if hk and hk["status"] == "ok":
                entry["ratio_to_best_peer"] = hk["ops_per_sec"] / res[best]["ops_per_sec"]
                lim = max(RSS_FACTOR * res[low]["peak_rss_kb"], res[low]["peak_rss_kb"] + RSS_SLACK_KB)
                entry["rss_ratio_to_lowest_peer"] = hk["peak_rss_kb"] / res[low]["peak_rss_kb"]
                entry["rss_within_target"] = hk["peak_rss_kb"] <= lim
                entry["behind"] = {p: hk["ops_per_sec"] / res[p]["ops_per_sec"]
                                   for p in ok_peers if res[p]["ops_per_sec"] > hk["ops_per_sec"]}
        for alloc, key, _, _ in VARIANTS:
            v = res.get(alloc)
            if hk and v and hk["status"] == "ok" and v["status"] == "ok":
                # Median of the per-repetition ratios: the two builds run back to
                # back in each repetition, so a slow drift of the machine cancels
                # out of each pair (a ratio of medians would not pair them).
                by_rep = {r["rep"]: r["ops_per_sec"] for r in v["runs"]}
                pairs = [r["ops_per_sec"] / by_rep[r["rep"]] for r in hk["runs"]
                         if by_rep.get(r["rep"], 0) > 0]
                if pairs:
                    entry["default_over_" + key] = statistics.median(pairs)
                    entry["default_over_%s_runs" % key] = pairs
        fl = res.get("floor")
        if fl and fl["status"] == "ok" and hk and hk["status"] == "ok" and fl["ops_per_sec"] > 0:
            # Share of hakmem's time per op that the harness alone needs.
            entry["floor_share_of_hakmem_time"] = hk["ops_per_sec"] / fl["ops_per_sec"]
        out["benchmarks"][b] = entry
    ratios = [e["ratio_to_best_peer"] for e in out["benchmarks"].values() if "ratio_to_best_peer" in e]
    out["summary"] = {
        "ratio_to_best_peer_geomean": geomean(ratios),
        "benchmarks_at_or_above_best_peer": sum(1 for r in ratios if r >= 1.0),
        "benchmarks_compared": len(ratios),
        "rss_within_target": sum(1 for e in out["benchmarks"].values() if e.get("rss_within_target")),
        "trace_target": TRACE_TARGET,
        "counters_target": COUNTERS_TARGET,
        "failed_runs": sum(len(s.get("failures", [])) for e in out["benchmarks"].values()
                           for s in e["results"].values()),
    }
    for _, key, _, _ in VARIANTS:
        k = "default_over_" + key
        out["summary"][k + "_geomean"] = geomean([e[k] for e in out["benchmarks"].values() if k in e])
    return out


def tables(out):
    """Returns a list of (title, header, rows, note) tables."""
    allocs = out["allocators"]
    B = out["benchmarks"]
    ts = []
    hdr = ["benchmark"] + allocs + ["best peer", "hakmem/best", "hakmem spread"]
    rows = []
    for b, e in B.items():
        r = e["results"]
        row = [b] + [cell(r.get(a), "ops_per_sec", fmt_ops) for a in allocs]
        row.append(e.get("best_peer", "-"))
        row.append("%.2f" % e["ratio_to_best_peer"] if "ratio_to_best_peer" in e else "-")
        hk = r.get("hakmem")
        row.append("%.0f%%" % (100 * hk["spread"]) if hk and "spread" in hk else "-")
        rows.append(row)
    ts.append(("Throughput: allocator calls per second (median of %d run%s; higher is better)"
               % (out["runs"], "" if out["runs"] == 1 else "s"), hdr, rows,
               "n/a: not run (the floor never frees; `large` would exhaust memory). "
               "FAIL: no successful run; ! = some runs failed. "
               "spread: (max - min) / median of hakmem's runs."))
    peers = [p for p in PEERS if p in allocs]
    if "hakmem" in allocs and peers:
        rows = []
        for b, e in B.items():
            r = e["results"]
            hk = r.get("hakmem")
            row = [b]
            for p in peers:
                ok = hk and hk["status"] == "ok" and r.get(p) and r[p]["status"] == "ok"
                row.append("%.2f" % (hk["ops_per_sec"] / r[p]["ops_per_sec"]) if ok else "-")
            rows.append(row)
        ts.append(("hakmem relative to each peer (ratio of median ops/s; below 1.00 = behind)",
                   ["benchmark"] + ["vs " + p for p in peers], rows, None))
    hdr = ["benchmark"] + allocs + ["lowest peer", "hakmem/lowest", "target"]
    rows = []
    for b, e in B.items():
        r = e["results"]
        row = [b] + [cell(r.get(a), "peak_rss_kb", fmt_mib) for a in allocs]
        row.append(e.get("lowest_rss_peer", "-"))
        row.append("%.2f" % e["rss_ratio_to_lowest_peer"] if "rss_ratio_to_lowest_peer" in e else "-")
        row.append(("ok" if e["rss_within_target"] else "over") if "rss_within_target" in e else "-")
        rows.append(row)
    ts.append(("Peak RSS in MiB (VmHWM at the end of the run, median)", hdr, rows,
               "target: at most 1.25x the lowest peer, or lowest + 4 MiB."))
    if "retention" in B:
        r = B["retention"]["results"]
        mib2 = lambda kb: "-" if kb is None else "%.2f" % (kb / 1024.0)
        rows = [["kept after exit (MiB)"] + [cell(r.get(a), "kept_kb", mib2) for a in allocs],
                ["live blocks (MiB)"] + [cell(r.get(a), "live_kb", mib2) for a in allocs]]
        ts.append(("Retention: VmRSS after every short-lived thread exited, minus before (median)",
                   ["retention"] + allocs, rows, None))
    titles = {"trace0": "Tracepoint cost: default build (no session) vs TRACE=0 build",
              "counters0": "Counter cost: default build vs COUNTERS=0 build (fast-path counters compiled out)"}
    for alloc, key, what, target in VARIANTS:
        k = "default_over_" + key
        rows = [[b, fmt_ops(e["results"]["hakmem"]["ops_per_sec"]),
                 fmt_ops(e["results"][alloc]["ops_per_sec"]), "%.3f" % e[k]]
                for b, e in B.items() if k in e]
        if not rows:
            continue
        rows.append(["geometric mean", "", "", "%.3f" % out["summary"][k + "_geomean"]])
        ts.append((titles[key], ["benchmark", "default", what, "default/" + what], rows,
                   "default/%s: median over the repetitions of the ratio of the two builds' "
                   "back-to-back runs.  target: >= %.2f (within 2%%); single runs on a noisy "
                   "2-core machine vary by more than that per benchmark, the geometric mean "
                   "is the figure." % (what, target)))
    return ts


def render_text(ts):
    lines = []
    for title, hdr, rows, note in ts:
        w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
        lines.append(title)
        fmt = lambda row: "  ".join(str(x).ljust(w[0]) if i == 0 else str(x).rjust(w[i])
                                    for i, x in enumerate(row))
        lines.append(fmt(hdr))
        lines.append("  ".join("-" * x for x in w))
        lines.extend(fmt(r) for r in rows)
        if note:
            lines.append(note)
        lines.append("")
    return "\n".join(lines)


def render_markdown(ts):
    lines = []
    for title, hdr, rows, note in ts:
        lines.append("**%s**" % title)
        lines.append("")
        lines.append("| " + " | ".join(hdr) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(hdr))) + "|")
        lines.extend("| " + " | ".join(str(x) for x in r) + " |" for r in rows)
        if note:
            lines.append("")
            lines.append(note)
        lines.append("")
    return "\n".join(lines) + "\n"


def summary_lines(out):
    s = out["summary"]
    L = []
    if s["benchmarks_compared"]:
        L.append("hakmem vs best peer: %d of %d benchmarks at or above (ratio >= 1.00), geometric mean %.2f"
                 % (s["benchmarks_at_or_above_best_peer"], s["benchmarks_compared"],
                    s["ratio_to_best_peer_geomean"]))
        L.append("peak RSS within target on %d of %d benchmarks"
                 % (s["rss_within_target"], s["benchmarks_compared"]))
        for b, e in out["benchmarks"].items():
            if e.get("behind"):
                L.append("  behind on %-15s %s" % (b, ", ".join(
                    "%s %.2f" % (p, r) for p, r in sorted(e["behind"].items(), key=lambda x: x[1]))))
    for _, key, what, target in VARIANTS:
        g = s.get("default_over_%s_geomean" % key)
        if g:
            L.append("default build / %s build: %.3f (geometric mean; target >= %.2f)" % (what, g, target))
    if s["failed_runs"]:
        L.append("FAILED RUNS: %d" % s["failed_runs"])
        for b, e in out["benchmarks"].items():
            for a, r in e["results"].items():
                for f in r.get("failures", []):
                    L.append("  %s / %s (run %d): %s" % (b, a, f["rep"], f["reason"]))
    return L


def main():
    args = parse_args()
    out = build(args)
    ts = tables(out)
    m = out["machine"]
    head = ("machine: %s CPUs, %s, Linux %s, glibc %s; hakmem %s; %d run%s%s, %ds;"
            " load average at start / end: %s"
            % (m["nproc"], m["cpu"], m["kernel"], m["glibc"], out["hakmem_commit"],
               out["runs"], "" if out["runs"] == 1 else "s",
               " (QUICK smoke mode: figures are meaningless)" if out["quick"] else "",
               out["elapsed_secs"], m["loadavg_start_end"] or "?"))
    if out["warning"]:
        head += "\nWARNING: " + out["warning"]
    if out["peer_versions"]:
        head += "\npeers: " + ", ".join("%s %s" % kv for kv in out["peer_versions"].items())
    print()
    print(head)
    print()
    print(render_text(ts))
    for line in summary_lines(out):
        print(line)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(head + "\n\n" + render_markdown(ts) + "\n".join(summary_lines(out)) + "\n")
    print("wrote %s%s" % (args.json, (" and " + args.markdown) if args.markdown else ""))


if __name__ == "__main__":
    main()
