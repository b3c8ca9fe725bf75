// damon-prof: run a program under the profiler (the default verb, "record") or analyze a trace
// (the analysis verbs run in damon-prof-analyze, which this program execs).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "program_check.h"

#ifndef DAMON_PROF_VERSION
#define DAMON_PROF_VERSION "0.0.0"
#endif

namespace {

const char kUsage[] =
    "usage: damon-prof [record] [options] [--] PROGRAM [ARGS...]\n"
    "       damon-prof report TRACE [--view VIEW] [--sort METRIC] [--format text|json]\n"
    "                         [--top N] [--idle D] [--html OUT.html] [-o FILE] ...\n"
    "       damon-prof flamegraph TRACE [--weight METRIC] [-o OUT.svg] [--folded]\n"
    "       damon-prof heatmap TRACE [--by address|site|temperature] [--footprint]\n"
    "                         [-o OUT.png|OUT.svg] [--time-range A:B] [--address-range X-Y]\n"
    "       damon-prof check TRACE [--max-peak SIZE] [--max-rss SIZE] [--max-leaked SIZE] ...\n"
    "                         [--site PATTERN LIMITS] [--limits FILE] [--baseline BASE.dprof\n"
    "                         --max-growth 5%|SIZE] [--junit OUT.xml] [--markdown OUT.md]\n"
    "       damon-prof diff BEFORE AFTER [--sort METRIC] [--top N] [--format text|json]\n"
    "                         [--flamegraph OUT.svg]\n"
    "       damon-prof export TRACE [--pprof OUT.pb.gz] [--chrome-trace OUT.json]\n"
    "                         [--folded [FILE]] [--weight METRIC] [--json [FILE]]\n"
    "       damon-prof help | --version\n"
    "\n"
    "record (the default verb) runs PROGRAM with the damon-prof runtime preloaded, writes\n"
    "PROGRAM.PID.dprof in the current directory and prints a short summary.\n"
    "  -o, --output PATH      write the trace to PATH (never overwrites an existing file)\n"
    "  -q, --quiet            print no summary at the end (the program then replaces\n"
    "                         damon-prof in its process)\n"
    "  --flush-interval MS    longest time recorded data waits before reaching the file\n"
    "                         (bounds what a kill -9 loses; default 1000)\n"
    "  --no-follow            trace only PROGRAM, not the processes it starts\n"
    "  allocation recording:\n"
    "  --sample-rate SIZE     record a Poisson sample of allocations, one per SIZE bytes on\n"
    "                         average (e.g. 512KiB); per-site figures become unbiased\n"
    "                         estimates, totals stay exact (default 0: every allocation)\n"
    "  --unwind dwarf|fp      call stacks by unwind tables (default) or frame pointers\n"
    "                         (faster; for programs built with -fno-omit-frame-pointer)\n"
    "  access monitoring (DAMON-style regions; see README):\n"
    "  --backend B            auto (default), uffd-wp (exact page writes, Linux >= 6.7) or none\n"
    "  --sampling D           sampling interval (default 10ms; D like 200us, 5ms, 1s)\n"
    "  --aggregation D        aggregation interval: one region snapshot each (default 200ms)\n"
    "  --update D             how often the watched memory is looked up again (default 1s)\n"
    "  --min-regions N        (default 10)    --max-regions N  (default 1000, at most 2000)\n"
    "  --overhead P           the monitor's CPU budget, share of one CPU (default 2%)\n"
    "\n"
    "report analyzes a trace: totals, peak heap, leaks, temporary allocations, hot and idle\n"
    "memory, and the top allocation sites with their call stacks.\n"
    "  --view VIEW            summary (default); sites (every site in a table); leaks;\n"
    "                         timeline (RSS, heap, working set over time); access-sites\n"
    "                         (instructions that touched sampled memory, disassembled);\n"
    "                         regions (the monitor's snapshots; json: every snapshot)\n"
    "  --sort METRIC          sites view order: peak, allocated, allocs, leaked, leaks,\n"
    "                         temporary, hot, idle, idle-peak, never-touched, not-sampled,\n"
    "                         density\n"
    "  --idle D               how long without access makes memory idle (default 1s)\n"
    "  --html OUT.html        one self-contained page: summary, sortable sites, flamegraphs,\n"
    "                         heatmaps, footprint (docs/metrics.md defines every figure)\n"
    "  --min-size SIZE        regions view: leave out allocations smaller than SIZE\n"
    "  --format text|json     output format (JSON schema: docs/json-schema.md)\n"
    "  --top N                sites per ranking (text, default 10) or listed (json, default all)\n"
    "  --full-stacks          text: also show the allocation machinery above each site's frame\n"
    "  --salvage              skip corrupt frames instead of failing\n"
    "  -o, --output FILE      write the report to FILE instead of standard output\n"
    "\n"
    "flamegraph draws the allocation sites' stacks weighted by a METRIC (default hot with\n"
    "access data, else peak) as an interactive SVG (hover, click to zoom, search), or writes\n"
    "folded stacks (--folded) for other flamegraph tools.\n"
    "\n"
    "heatmap shows accesses over time by address (gaps removed), by allocation site (--top N)\n"
    "or by temperature; on the terminal, or to .png/.svg with -o. --footprint plots RSS, heap,\n"
    "working set and idle memory instead. --rows N, --columns N set the grid.\n"
    "\n"
    "check fails (exit status 1, one line per violation naming the sites responsible) when the\n"
    "trace breaks a limit; 0 when all hold, 2 when one cannot be checked or on bad input.\n"
    "  --max-peak SIZE        peak heap         --max-rss SIZE       peak RSS\n"
    "  --max-leaked SIZE      bytes leaked      --max-leaked-count N blocks leaked\n"
    "  --max-idle-ratio P     idle share of the monitored heap's byte-seconds (30% or 0.3)\n"
    "  --max-never-touched SIZE   --max-allocated SIZE   --max-allocs N\n"
    "  --site PATTERN LIMITS  limits on the sites whose stack has a function matching the\n"
    "                         glob PATTERN: --site 'Parser::*' max-peak=64MiB,max-leaked=0\n"
    "  --phase NAME LIMITS    limits on a phase the program annotated (damon_prof/annotate.h):\n"
    "                         --phase load max-peak=64MiB (max-peak, -rss, -allocated, -allocs)\n"
    "  --baseline BASE.dprof  compare with another trace: --max-growth 5% (peak heap and\n"
    "                         RSS) or an amount; --max-X-growth for any limit X above\n"
    "  --limits FILE          limits kept in a file (docs/ci.md); --junit OUT.xml,\n"
    "                         --markdown OUT.md, --format json for CI\n"
    "\n"
    "diff compares two traces of the same program: the whole-program figures, then the sites\n"
    "whose METRIC changed most (--sort, default peak; sites matched by the functions on their\n"
    "stacks); --flamegraph OUT.svg draws AFTER's stacks coloured by the change (red grew, blue\n"
    "shrank) instead of printing the table.\n"
    "\n"
    "export writes the trace for other tools: --pprof (gzipped profile.proto for go tool\n"
    "pprof, Pyroscope, Parca: alloc_objects/space, inuse_objects/space at the heap's peak,\n"
    "hot_space and idle_space), --chrome-trace (Perfetto UI: RSS, heap, working-set and idle\n"
    "counters, markers), --folded (stacks weighted by --weight), --json (the full report).\n";

// The analysis verbs are the analyzer's, a separate program (analyzer_main.cpp): it replaces
// this process, with the same arguments.
int run_analyzer(char** argv) {
  std::string error;
  std::string analyzer = dprof::tools::locate_analyzer(&error);
  if (analyzer.empty()) return dprof::tools::fail(error);
  execv(analyzer.c_str(), argv);
  return dprof::tools::fail(analyzer + ": cannot execute: " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& verb = arguments.front();
  if (verb == "help" || verb == "--help" || verb == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (verb == "--version" || verb == "version") {
    std::cout << "damon-prof " << DAMON_PROF_VERSION << "\n";
    return 0;
  }
  if (dprof::tools::is_analysis_verb(verb)) return run_analyzer(argv);
  if (verb == "record") {
    return dprof::tools::record_command({arguments.begin() + 1, arguments.end()});
  }
  return dprof::tools::record_command(arguments);
}
