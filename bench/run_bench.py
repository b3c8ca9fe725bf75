#!/usr/bin/env python3
"""damon-prof's benchmark suite: each program natively, under damon-prof (exact; sampled; sampled
with access monitoring), under heaptrack and under valgrind DHAT, side by side in one run.

Runs are interleaved (every mode once, then again, REPEAT times, each round starting with the
next mode) so that the machine's noise and the order hit all modes alike; wall times are medians.
The targets are judged on paired ratios: each round's time of a mode over the same round's native
time, with a 95% confidence interval of their median (distribution-free, from order statistics),
so that a verdict says when a difference is within the noise of the machine. Also measured on the
exact traces, interleaved the same way: the analyzer's speed (`damon-prof report`) against
heaptrack_print on heaptrack's trace of the same program, and the trace bytes per allocation event
of both. Reports are timed with the debug-file cache (analyzer/debug_file_cache.h) warm, as every
report after a program's first finds it, and with it off, as the first report of a program whose
debug files no report has inflated before.

    bench/run_bench.py [--build DIR] [--repeat N] [--programs a,b] [--markdown OUT.md]
                       [--no-dhat] [--dhat-timeout S] [--analyzer-repeat N]
"""
import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_RATE = "512KiB"
ANALYZER_REPEAT = 9  # rounds of the analyzer against heaptrack_print (--analyzer-repeat)
# The targets of issue 7 that a run can judge.
TARGET_OVERHEAD = 0.05  # sampled+monitor within 5% of native wall time
TARGET_SPEEDUP = 3.0  # the analyzer at least 3x faster than heaptrack_print
DEVNULL = subprocess.DEVNULL


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Program:
    """A workload: `command()` is what runs under each tool; `run()` times one run."""

    def __init__(self, name, description, command, stdin=None):
        self.name = name
        self.description = description
        self.command = command
        self.stdin = stdin

    def run(self, wrapper, timeout):
        # A fixed hash seed: Python's dict layouts (and so its timings) then repeat run to run.
        environment = dict(os.environ, PYTHONHASHSEED="0")
        with open(self.stdin) if self.stdin else open(os.devnull) as stdin:
            start = time.perf_counter()
            subprocess.run(wrapper + self.command(), stdin=stdin, stdout=DEVNULL, stderr=DEVNULL,
                           check=True, timeout=timeout, env=environment)
            return time.perf_counter() - start


class RedisProgram(Program):
    """redis-server under the tool, timed by redis-benchmark's run against it over loopback."""

    def __init__(self, requests):
        super().__init__("redis", "redis-server under redis-benchmark (%d requests of 7 kinds, "
                         "20 clients, pipeline 4)" % requests, None)
        self.requests = requests

    def run(self, wrapper, timeout):
        port = free_port()
        server = subprocess.Popen(wrapper + ["redis-server", "--port", str(port), "--save", "",
                                             "--appendonly", "no"],
                                  stdout=DEVNULL, stderr=DEVNULL)
        try:
            deadline = time.time() + min(timeout, 120)
            while subprocess.run(["redis-cli", "-p", str(port), "ping"], stdout=DEVNULL,
                                 stderr=DEVNULL).returncode != 0:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            start = time.perf_counter()
            subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(self.requests), "-c",
                            "20", "-P", "4", "-q", "-t", "set,get,incr,lpush,lpop,sadd,hset"],
                           stdout=DEVNULL, stderr=DEVNULL, check=True, timeout=timeout)
            elapsed = time.perf_counter() - start
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], stdout=DEVNULL,
                           stderr=DEVNULL)
            server.wait(timeout=timeout)  # the tools finish their traces
            return elapsed
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


def programs(build):
    python3 = "/usr/bin/python3"
    return {
        # 300000 rounds: about a second natively, as long as the other programs run (100000 took
        # 0.25-0.33 s on the development VM by late 2026, and what a run costs once, at start and
        # exit, is measured on its own below).
        "alloc_heavy": Program("alloc_heavy", "bench/alloc_heavy.cpp: 8 threads churning std::map "
                               "and std::string, 300000 rounds each",
                               lambda: [os.path.join(build, "bin", "alloc_heavy"), "8", "300000"]),
        "python": Program("python", "python3 running bench/workloads/python_work.py",
                          lambda: [python3, os.path.join(HERE, "workloads", "python_work.py")]),
        "sqlite": Program("sqlite", "sqlite3 running bench/workloads/sqlite_work.sql",
                          lambda: ["sqlite3", ":memory:"],
                          stdin=os.path.join(HERE, "workloads", "sqlite_work.sql")),
        "redis": RedisProgram(200000),
    }


class Modes:
    """The wrappers: each returns the command prefix, writing its trace under `work`."""

    def __init__(self, build, work):
        self.build = build
        self.damon_prof = os.path.join(build, "bin", "damon-prof")
        self.work = work

    def trace(self, mode, program):
        return os.path.join(self.work, "%s.%s" % (program, mode))

    def wrapper(self, mode, program):
        trace = self.trace(mode, program)
        for leftover in [path for path in os.listdir(self.work)
                         if path.startswith(os.path.basename(trace))]:
            os.remove(os.path.join(self.work, leftover))
        quiet = [self.damon_prof, "-q", "--no-follow", "-o", trace + ".dprof"]
        if mode == "native":
            return []
        if mode == "exact":
            return quiet + ["--backend", "none"]
        if mode == "sampled":
            return quiet + ["--backend", "none", "--sample-rate", SAMPLE_RATE]
        if mode == "sampled+monitor":
            return quiet + ["--sample-rate", SAMPLE_RATE]
        if mode == "heaptrack":
            return ["heaptrack", "-o", trace]
        if mode == "dhat":
            return ["valgrind", "--tool=dhat", "--dhat-out-file=" + trace + ".json"]
        raise ValueError(mode)

    def heaptrack_file(self, program):
        base = os.path.basename(self.trace("heaptrack", program))
        for name in os.listdir(self.work):
            if name.startswith(base) and (name.endswith(".zst") or name.endswith(".gz")):
                return os.path.join(self.work, name)
        return None


def seconds(command):
    start = time.perf_counter()
    subprocess.run(command, stdout=DEVNULL, stderr=DEVNULL, check=True)
    return time.perf_counter() - start


def interleaved_times(commands, repeat):
    """Each command's run times, the commands taking turns (the machine's speed drifts by tens of
    percent over minutes: running one command's repeats, then the other's, compares two moments
    of the machine as much as two commands)."""
    times = {name: [] for name in commands}
    for round_index in range(repeat):
        for name in rotated(list(commands), round_index):
            times[name].append(seconds(commands[name]))
    return times


def rotated(names, round_index):
    """The order of a round: each round starts one further along, so that no mode always runs
    first (after a pause, with cold caches) or right after the same other mode."""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def median_interval(values, confidence=0.95):
    """The median of `values` and a distribution-free confidence interval for it: the order
    statistics x(k) and x(n+1-k) with the largest k for which the interval still covers the median
    with at least `confidence` (the count of values below the median is Binomial(n, 1/2)). With
    fewer than 6 values no such interval exists: then None for both ends."""
    ordered = sorted(values)
    n = len(ordered)
    k = 0
    for candidate in range(1, n // 2 + 1):
        below = sum(math.comb(n, i) for i in range(candidate)) / 2.0 ** n
        if 1 - 2 * below >= confidence:
            k = candidate
    if k == 0:
        return statistics.median(ordered), None, None
    return statistics.median(ordered), ordered[k - 1], ordered[n - k]


def paired_ratios(times, baseline):
    """Per round, a mode's time over the baseline's time in the same round."""
    return [t / b for t, b in zip(times, baseline)]


def startup_figures(modes, repeat):
    """What a run costs once, whatever it does: /bin/true natively and under each damon-prof mode
    (launcher, runtime start and exit, the monitor's start), medians of interleaved runs."""
    mode_names = ["native", "exact", "sampled", "sampled+monitor"]
    times = {mode: [] for mode in mode_names}
    for round_index in range(repeat):
        for mode in rotated(mode_names, round_index):
            times[mode].append(seconds(modes.wrapper(mode, "startup") + ["/bin/true"]))
    return {mode: statistics.median(values) for mode, values in times.items()}


def analyzer_figures(modes, name, repeat):
    trace = modes.trace("exact", name) + ".dprof"
    heaptrack_file = modes.heaptrack_file(name)
    summary = json.loads(subprocess.run([modes.damon_prof, "report", trace, "--format", "json",
                                         "--top", "1"], capture_output=True, text=True,
                                        check=True).stdout)["summary"]
    events = summary["total_alloc_count"] + summary["free_count"]
    figures = {"events": events, "dprof_bytes": os.path.getsize(trace)}
    # The sampled trace of the same program: what leaving damon-prof on costs in trace and in
    # analysis, against the exact trace and heaptrack's.
    sampled = modes.trace("sampled", name) + ".dprof"
    figures["sampled_bytes"] = os.path.getsize(sampled)
    # The summary above warmed the cache for the exact trace; this run does it for the sampled one
    # (the same modules, so nothing more to inflate, but it costs nothing to be sure).
    subprocess.run([modes.damon_prof, "report", sampled], stdout=DEVNULL, check=True)
    uncached = ["env", "DAMON_PROF_CACHE_DIR="]
    commands = {"exact": [modes.damon_prof, "report", trace],
                "exact_uncached": uncached + [modes.damon_prof, "report", trace],
                "sampled": [modes.damon_prof, "report", sampled],
                "sampled_uncached": uncached + [modes.damon_prof, "report", sampled]}
    if heaptrack_file:
        figures["heaptrack_bytes"] = os.path.getsize(heaptrack_file)
        commands["heaptrack_print"] = ["heaptrack_print", heaptrack_file]
    times = interleaved_times(commands, repeat)
    for mode in ["exact", "exact_uncached", "sampled", "sampled_uncached"]:
        figures[mode + "_seconds"] = statistics.median(times[mode])
        if heaptrack_file:
            # Speed-ups per round: heaptrack_print's time over the report's in the same round.
            figures[mode + "_speedup"] = median_interval(paired_ratios(times["heaptrack_print"],
                                                                       times[mode]))
    if heaptrack_file:
        figures["heaptrack_print_seconds"] = statistics.median(times["heaptrack_print"])
    # What naming each freed block costs the exact trace and its report, whatever the encoding
    # (bench/block_identity_cost.cpp): heaptrack's trace does not say which block a free ends.
    figures["identity"] = json.loads(subprocess.run(
        [os.path.join(modes.build, "bin", "block_identity_cost"), trace], capture_output=True,
        text=True, check=True).stdout)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--programs", default="alloc_heavy,python,sqlite,redis")
    parser.add_argument("--markdown")
    parser.add_argument("--no-dhat", action="store_true")
    parser.add_argument("--dhat-timeout", type=float, default=300)
    parser.add_argument("--analyzer-repeat", type=int, default=ANALYZER_REPEAT)
    arguments = parser.parse_args()

    build = os.path.abspath(arguments.build)
    known = programs(build)
    chosen = arguments.programs.split(",")
    for name in chosen:
        if name not in known:
            sys.exit("run_bench: unknown program %s (known: %s)" % (name, ", ".join(known)))
    for tool in ["heaptrack", "heaptrack_print", "redis-server", "redis-benchmark", "sqlite3"]:
        if shutil.which(tool) is None:
            sys.exit("run_bench: %s is missing (make bench installs it)" % tool)
    have_dhat = not arguments.no_dhat and shutil.which("valgrind") is not None
    timed_modes = ["native", "exact", "sampled", "sampled+monitor", "heaptrack"]

    work = tempfile.mkdtemp(prefix="damon-prof-bench.")
    # The analyzer's debug-file cache starts empty in every run, whatever earlier reports left.
    os.environ["DAMON_PROF_CACHE_DIR"] = os.path.join(work, "debug-file-cache")
    modes = Modes(build, work)
    results = {}
    try:
        startup = startup_figures(modes, 21)
        for name in chosen:
            program = known[name]
            times = {mode: [] for mode in timed_modes}
            for round_index in range(arguments.repeat):
                for mode in rotated(timed_modes, round_index):
                    times[mode].append(program.run(modes.wrapper(mode, name), timeout=600))
                print("  %s: round %d/%d done" % (name, round_index + 1, arguments.repeat),
                      file=sys.stderr)
            row = {mode: statistics.median(values) for mode, values in times.items()}
            row["overhead"] = median_interval([each - 1 for each in paired_ratios(
                times["sampled+monitor"], times["native"])])
            if have_dhat:
                try:
                    row["dhat"] = program.run(modes.wrapper("dhat", name),
                                              timeout=arguments.dhat_timeout)
                except subprocess.TimeoutExpired:
                    row["dhat"] = None
            row["analyzer"] = analyzer_figures(modes, name, arguments.analyzer_repeat)
            results[name] = row
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, known, arguments, have_dhat, startup)


def ratio(value, native):
    return "%.2f×" % (value / native)


def interval_text(interval, show):
    """`median (low to high)`, or the median alone when there is no interval."""
    median, low, high = interval
    if low is None:
        return show(median)
    return "%s (%s to %s)" % (show(median), show(low), show(high))


def verdict(interval, target, lower_is_better):
    """A target's verdict from a confidence interval (median, low, high): met or missed when the
    whole interval lies on one side of `target`, else too close to call on this machine."""
    _, low, high = interval
    if low is None:
        return "too few runs to tell"
    best, worst = (high, low) if lower_is_better else (low, high)
    if (best <= target) if lower_is_better else (best >= target):
        return "met"
    if (worst > target) if lower_is_better else (worst < target):
        return "missed"
    return "within noise"


def report(results, known, arguments, have_dhat, startup):
    lines = []
    native = startup["native"]
    lines.append("Start-up and exit, once per run (/bin/true, medians of 21 interleaved runs): "
                 "native %.1f ms; " % (native * 1000) +
                 "; ".join("%s +%.1f ms" % (mode, (startup[mode] - native) * 1000)
                           for mode in ["exact", "sampled", "sampled+monitor"]) + ".\n")
    lines.append("Medians of %d interleaved runs (DHAT: one run, limit %d s); sample rate %s.\n"
                 % (arguments.repeat, arguments.dhat_timeout, SAMPLE_RATE))
    header = ["program", "native", "exact", "sampled", "sampled+monitor", "heaptrack"]
    if have_dhat:
        header.append("DHAT")
    header += ["exact overhead / heaptrack's", "sampled+monitor vs native (95% CI)",
               "within 5%?"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for name, row in results.items():
        native = row["native"]
        cells = [name, "%.3f s" % native]
        for mode in ["exact", "sampled", "sampled+monitor", "heaptrack"]:
            cells.append("%.3f s (%s)" % (row[mode], ratio(row[mode], native)))
        if have_dhat:
            cells.append("> %d s" % arguments.dhat_timeout if row.get("dhat") is None
                         else "%.1f s (%s)" % (row["dhat"], ratio(row["dhat"], native)))
        heaptrack_overhead = row["heaptrack"] - native
        cells.append("%.3f" % ((row["exact"] - native) / heaptrack_overhead)
                     if heaptrack_overhead > 0 else "n/a")
        cells.append(interval_text(row["overhead"], lambda value: "%+.1f%%" % (100 * value)))
        cells.append(verdict(row["overhead"], TARGET_OVERHEAD, lower_is_better=True))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Analyzer and traces (the exact-mode trace against heaptrack's of the same "
                 "program; analyzer times are medians of %d interleaved runs, the speed-up the "
                 "median of the rounds' ratios with its 95%% confidence interval; \"cache off\": "
                 "the report inflating the debug files itself, as a program's first report "
                 "does):\n" % arguments.analyzer_repeat)
    lines.append("| program | events | damon-prof report | heaptrack_print | analyzer speed-up | "
                 "3× faster? | cache off: report | speed-up | "
                 "trace bytes/event: damon-prof | heaptrack | size ratio |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in results.items():
        figures = row["analyzer"]
        events = figures["events"]
        cells = [name, "{:,}".format(events),
                 "%.3f s (%.2f M events/s)" % (figures["exact_seconds"],
                                              events / figures["exact_seconds"] / 1e6)]
        if "heaptrack_bytes" in figures:
            cells.append("%.3f s (%.2f M events/s)" % (figures["heaptrack_print_seconds"],
                                                      events / figures["heaptrack_print_seconds"]
                                                      / 1e6))
            cells.append(interval_text(figures["exact_speedup"], lambda value: "%.2f×" % value))
            cells.append(verdict(figures["exact_speedup"], TARGET_SPEEDUP, lower_is_better=False))
            cells.append("%.3f s" % figures["exact_uncached_seconds"])
            cells.append(interval_text(figures["exact_uncached_speedup"],
                                       lambda value: "%.2f×" % value))
            cells.append("%.2f" % (figures["dprof_bytes"] / events))
            cells.append("%.2f" % (figures["heaptrack_bytes"] / events))
            cells.append("%.2f" % (figures["dprof_bytes"] / figures["heaptrack_bytes"]))
        else:
            cells += ["n/a"] * 8
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("What telling which block each free ends costs, measured on the exact trace "
                 "(bench/block_identity_cost.cpp; heaptrack's trace names only the freed block's "
                 "allocation site): the frees written as ranks among their thread's live blocks "
                 "and compressed with zstd at its strongest level, against heaptrack's whole "
                 "trace; and the trace's allocations and frees replayed into the analyzer's "
                 "live-block table alone (best of 5), against a third of heaptrack_print's time:"
                 "\n")
    lines.append("| program | frees | peak live blocks | naming the freed blocks | "
                 "vs heaptrack's whole trace | live-block table replay | "
                 "vs heaptrack_print / 3 |")
    lines.append("|---|---|---|---|---|---|---|")
    for name, row in results.items():
        figures = row["analyzer"]
        identity = figures["identity"]
        cells = [name, "{:,}".format(identity["frees"]),
                 "{:,}".format(identity["peak_live_blocks"]),
                 "{:,} bytes".format(identity["naming_compressed_bytes"])]
        cells.append("%.2f×" % (identity["naming_compressed_bytes"] / figures["heaptrack_bytes"])
                     if "heaptrack_bytes" in figures else "n/a")
        cells.append("%.3f s" % identity["table_replay_seconds"])
        cells.append("%.2f×" % (identity["table_replay_seconds"] * TARGET_SPEEDUP
                                / figures["heaptrack_print_seconds"])
                     if "heaptrack_print_seconds" in figures else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("The sampled trace of the same program (--sample-rate %s): its size and the time "
                 "to report it, against heaptrack's trace and heaptrack_print:\n" % SAMPLE_RATE)
    lines.append("| program | sampled trace | vs heaptrack's | damon-prof report | "
                 "speed-up over heaptrack_print | cache off: report | speed-up |")
    lines.append("|---|---|---|---|---|---|---|")
    for name, row in results.items():
        figures = row["analyzer"]
        cells = [name, "{:,} bytes".format(figures["sampled_bytes"])]
        if "heaptrack_bytes" in figures:
            cells.append("%.3f×" % (figures["sampled_bytes"] / figures["heaptrack_bytes"]))
        else:
            cells.append("n/a")
        for mode in ["sampled", "sampled_uncached"]:
            cells.append("%.3f s" % figures[mode + "_seconds"])
            if "heaptrack_print_seconds" in figures:
                cells.append(interval_text(figures[mode + "_speedup"],
                                           lambda value: "%.2f×" % value))
            else:
                cells.append("n/a")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Programs: " + "; ".join("%s — %s" % (name, known[name].description)
                                          for name in results) + ".")
    text = "\n".join(lines)
    print(text)
    if arguments.markdown:
        with open(arguments.markdown, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
