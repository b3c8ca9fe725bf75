#!/usr/bin/env python3
"""damon-prof's per-site access figures against a peer's exact counts: valgrind's DHAT.

Each program runs once under DHAT (which counts every byte read and written, per allocation
site) and once under damon-prof at its default settings. Sites are matched by their first frame
outside the allocator (the wrappers of sqlite and CPython count as allocator; in code without
symbols, by the first three frames' modules and offsets), and for each the
script prints DHAT's density — bytes read and written per byte allocated, (rb + wb) / tb — beside
damon-prof's estimates of the same quantity:

  hot/B      hot byte-seconds per allocated byte (bytes x access frequency x time: how long, on
             average, each allocated byte spent being accessed);
  samples/B  access samples that named the site's blocks per allocated MiB (the probes are events,
             so blocks shorter-lived than a snapshot count too).

Then the Spearman rank correlation of each over the top 20 sites by DHAT's bytes allocated, and
the sites in DHAT's top quarter by density that damon-prof reports idle (idle byte-seconds at
least half the byte-seconds it observed).

  bench/accuracy.py [--build DIR] [--programs cxx,sqlite,python] [--short] [--markdown FILE]

--short is CI's version: the C++ program at a small scale, with a loose bound
(--min-spearman) on its correlation so that a regression fails the job.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Frames that belong to an allocator, however deep: the site is the first frame after them.
ALLOCATOR_FRAMES = re.compile(
    r"^(malloc|calloc|realloc|free|memalign|posix_memalign|aligned_alloc|valloc|"
    r"operator new|operator new\[\]|__libc_|_int_malloc|"
    r"std::|__gnu_cxx::|__cxxabiv1::|"
    r"sqlite3(Malloc|MemMalloc|MemRealloc|Realloc|DbMalloc|DbRealloc|DbStrDup|DbStrNDup|"
    r"_malloc|_malloc64|_realloc|_realloc64|MallocZero|DbMallocZero|DbMallocRaw|"
    r"DbMallocRawNN|DbReallocOrFree|DbMallocSize|MemSize|PageMalloc|PcacheMalloc)\b|"
    r"pcache1Alloc|pcache1AllocPage|"
    r"PyMem_|_PyMem_|PyObject_Malloc|PyObject_Calloc|PyObject_Realloc|_PyObject_|"
    r"PyObject_GC_|gc_alloc|_PyObject_GC_)")


# Code inlined from headers (the standard library's containers and allocators: DHAT names such
# frames without their namespaces, "allocate (new_allocator.h:137)") is allocator code too.
HEADER_FILE = re.compile(r"(\.(h|hh|hpp|hxx|tcc)|/c\+\+/[^/]+/[^/.]+)$")


def is_allocator(function, file):
    if ALLOCATOR_FRAMES.match(function):
        return True
    return bool(file) and bool(HEADER_FILE.search(file))


def normalize(function):
    """A function name without its parameter list or clone suffix (DHAT prints them)."""
    function = re.sub(r" \[clone [^\]]*\]$", "", function.strip())
    # Strip a trailing "(...)" parameter list, keeping "(anonymous namespace)" prefixes.
    depth = 0
    for index in range(len(function) - 1, -1, -1):
        character = function[index]
        if character == ")":
            depth += 1
        elif character == "(":
            depth -= 1
            if depth == 0:
                head = function[:index]
                if head and not head.endswith("::") and not head.endswith(" "):
                    return head.strip()
                break
    return function


DHAT_FRAME = re.compile(r"^0x[0-9A-Fa-f]+: (?P<function>.*?)(?: \((?P<where>[^()]*)\))?$")


# Modules whose frames are never a site: the allocators' own and the profilers'.
SKIPPED_MODULES = re.compile(r"^(libc|ld-linux|vgpreload_|libdamon_prof|libstdc\+\+)")
# Frames of code without symbols (Debian's libsqlite3 has none) are matched by their module and
# offset; the key is then the first few of them, allocator wrappers included (which of them are
# wrappers cannot be told without names).
UNNAMED_KEY_FRAMES = 3


def module_stem(path):
    """libsqlite3.so.0.8.6 and libsqlite3.so.0 are the same module: 'libsqlite3'."""
    name = os.path.basename(path or "")
    return name.split(".so")[0] if ".so" in name else name


def site_key(frames):
    """frames: (function or None, file, module, offset) from the allocation inward-out."""
    unnamed = []
    for function, file, module, offset in frames:
        stem = module_stem(module)
        if stem and SKIPPED_MODULES.match(stem):
            continue
        if function:
            name = normalize(function)
            if is_allocator(name, file):
                continue
            if not unnamed:
                return name
            unnamed.append(name)
        else:
            if stem == "" or offset is None:
                return None
            unnamed.append("%s+0x%x" % (stem, offset))
        if len(unnamed) == UNNAMED_KEY_FRAMES:
            break
    return " < ".join(unnamed) if unnamed else None


def dhat_site_key(frames, bases):
    parsed = []
    for frame in frames:
        match = DHAT_FRAME.match(frame)
        function = match.group("function") if match else frame
        where = (match.group("where") or "") if match else ""
        address = int(frame.split(":", 1)[0], 16) if frame.startswith("0x") else None
        module = ""
        file = ""
        if where.startswith("in "):
            module = where[3:]  # "(in /usr/lib/...so)": a module, no source file
        else:
            file = where.rsplit(":", 1)[0]
        offset = None
        if module and address is not None and os.path.realpath(module) in bases:
            offset = address - bases[os.path.realpath(module)]  # DHAT shows return address - 1
        if function in ("???", "") or function.startswith("0x"):
            function = None
        parsed.append((function, file, module, offset))
    return site_key(parsed)


def damon_site_key(site):
    parsed = []
    for frame in site.get("frames", []):
        function = frame.get("function") or None
        if function == "??":
            function = None
        offset = frame.get("module_offset")
        parsed.append((function, frame.get("file") or "", frame.get("module") or "",
                       offset - 1 if offset else None))  # a return address, as DHAT's - 1
    return site_key(parsed)


def run(command, env, stdin_path):
    with open(stdin_path or os.devnull) as stdin:
        subprocess.run(command, env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)


def load_bases(pid, bases):
    """Adds each file-backed module's load address in process `pid` (valgrind loads the guest at
    addresses of its own; DHAT prints absolute addresses) to `bases`, by real path."""
    try:
        with open("/proc/%d/maps" % pid) as maps:
            for line in maps:
                fields = line.split()
                if len(fields) < 6 or not fields[5].startswith("/") or int(fields[2], 16) != 0:
                    continue
                path = os.path.realpath(fields[5])
                start = int(fields[0].split("-")[0], 16)
                if path not in bases or start < bases[path]:
                    bases[path] = start
    except OSError:
        pass


def run_dhat(command, env, stdin_path, output):
    bases = {}
    with open(stdin_path or os.devnull) as stdin:
        process = subprocess.Popen(["valgrind", "--tool=dhat", "--dhat-out-file=" + output] +
                                   command, env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        # Modules are looked up while it runs (those loaded later, python's extensions, too).
        while process.poll() is None:
            load_bases(process.pid, bases)
            time.sleep(0.1)
        if process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, command)
    with open(output) as handle:
        data = json.load(handle)
    table = data["ftbl"]
    sites = {}
    for point in data["pps"]:
        key = dhat_site_key([table[index] for index in point["fs"]], bases)
        if key is None:
            key = "(unmatched)"
        entry = sites.setdefault(key, {"bytes": 0, "accessed": 0})
        entry["bytes"] += point["tb"]
        entry["accessed"] += point.get("rb", 0) + point.get("wb", 0)
    return sites


def run_damon_prof(build, command, env, stdin_path, directory):
    trace = os.path.join(directory, "run.dprof")
    run([os.path.join(build, "bin", "damon-prof"), "-q", "-o", trace] + command, env, stdin_path)
    report = subprocess.run([os.path.join(build, "bin", "damon-prof"), "report", trace,
                             "--top", "0", "--format", "json"],
                            capture_output=True, text=True, check=True)
    data = json.loads(report.stdout)
    sites = {}
    for site in data["sites"]:
        key = damon_site_key(site) or "(unmatched)"
        entry = sites.setdefault(key, {"bytes": 0, "hot": 0.0, "samples": 0, "idle": 0.0,
                                       "observed": 0.0})
        entry["bytes"] += site["alloc_bytes"]
        entry["hot"] += site["hot_byte_seconds"]
        entry["samples"] += site["access_samples_read"] + site["access_samples_written"]
        entry["idle"] += site["idle_byte_seconds"]
        entry["observed"] += site["observed_byte_seconds"]
    return sites


def ranks(values):
    order = sorted(range(len(values)), key=lambda index: values[index])
    result = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        for k in range(position, end + 1):
            result[order[k]] = (position + end) / 2.0 + 1
        position = end + 1
    return result


def spearman(xs, ys):
    if len(xs) < 3:
        return float("nan")
    rx, ry = ranks(xs), ranks(ys)
    mean_x, mean_y = sum(rx) / len(rx), sum(ry) / len(ry)
    covariance = sum((a - mean_x) * (b - mean_y) for a, b in zip(rx, ry))
    spread_x = sum((a - mean_x) ** 2 for a in rx) ** 0.5
    spread_y = sum((b - mean_y) ** 2 for b in ry) ** 0.5
    if spread_x == 0 or spread_y == 0:
        return float("nan")
    return covariance / (spread_x * spread_y)


def programs(build, short):
    python3 = shutil.which("python3") or "/usr/bin/python3"
    scale = "1" if short else "3"
    return {
        "cxx": ("accuracy_mix: node containers, vectors, buffers, temporaries",
                [os.path.join(build, "bin", "accuracy_mix"), scale], {}, None),
        "sqlite": ("sqlite3 running bench/workloads/sqlite_work.sql",
                   ["sqlite3", ":memory:"], {},
                   os.path.join(HERE, "workloads", "sqlite_work.sql")),
        "python": ("python3 running bench/workloads/python_work.py, PYTHONMALLOC=malloc",
                   [python3, os.path.join(HERE, "workloads", "python_work.py")],
                   {"PYTHONMALLOC": "malloc"}, None),
    }


def compare(name, description, dhat, damon, lines):
    matched = [key for key in dhat if key in damon and key != "(unmatched)"]
    matched.sort(key=lambda key: dhat[key]["bytes"], reverse=True)
    top = [key for key in matched if dhat[key]["bytes"] > 0][:20]
    total = sum(entry["bytes"] for entry in dhat.values()) or 1
    covered = sum(dhat[key]["bytes"] for key in matched)
    density = [dhat[key]["accessed"] / dhat[key]["bytes"] for key in top]
    hot = [damon[key]["hot"] / max(1, damon[key]["bytes"]) for key in top]
    samples = [damon[key]["samples"] / max(1, damon[key]["bytes"]) * (1 << 20) for key in top]
    rho_hot = spearman(density, hot)
    rho_samples = spearman(density, samples)
    quarter = sorted(density, reverse=True)[:max(1, len(density) // 4)]
    threshold = quarter[-1] if quarter else float("inf")
    wrongly_idle = [key for key, value in zip(top, density)
                    if value >= threshold and damon[key]["observed"] > 0
                    and damon[key]["idle"] >= 0.5 * damon[key]["observed"]]
    lines.append("### %s: %s\n" % (name, description))
    lines.append("Sites matched: %d (%.0f%% of DHAT's bytes); the top %d by bytes:\n"
                 % (len(matched), 100.0 * covered / total, len(top)))
    lines.append("| site | DHAT bytes | DHAT (rb+wb)/tb | damon-prof hot/B | samples/MiB | idle share |")
    lines.append("|---|---|---|---|---|---|")
    for key, value, h, s in zip(top, density, hot, samples):
        observed = damon[key]["observed"]
        idle_share = damon[key]["idle"] / observed if observed > 0 else 0.0
        lines.append("| `%s` | %d | %.3g | %.3g | %.3g | %.0f%% |"
                     % (key[:60], dhat[key]["bytes"], value, h, s, 100 * idle_share))
    lines.append("")
    lines.append("Spearman over these sites: hot/B %.2f, samples/MiB %.2f. Sites in DHAT's top "
                 "quarter by density that damon-prof reports idle: %s.\n"
                 % (rho_hot, rho_samples, ", ".join("`%s`" % k for k in wrongly_idle) or "none"))
    return rho_hot, rho_samples, wrongly_idle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--programs", default="cxx,sqlite,python")
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--min-spearman", type=float, default=None)
    parser.add_argument("--markdown")
    arguments = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("accuracy.py: valgrind is not installed (scripts/install-deps.sh --accuracy)",
              file=sys.stderr)
        sys.exit(77 if arguments.short else 1)  # 77: CTest's "skipped"
    known = programs(arguments.build, arguments.short)
    lines = []
    worst = None
    for name in arguments.programs.split(","):
        if name not in known:
            sys.exit("accuracy.py: unknown program '%s' (%s)" % (name, ", ".join(known)))
        description, command, extra, stdin_path = known[name]
        if shutil.which(command[0]) is None and not os.path.exists(command[0]):
            lines.append("### %s: skipped, %s is not installed\n" % (name, command[0]))
            continue
        env = dict(os.environ)
        env.update(extra)
        with tempfile.TemporaryDirectory() as directory:
            print("accuracy: %s under DHAT..." % name, file=sys.stderr)
            dhat = run_dhat(command, env, stdin_path, os.path.join(directory, "dhat.json"))
            print("accuracy: %s under damon-prof..." % name, file=sys.stderr)
            damon = run_damon_prof(arguments.build, command, env, stdin_path, directory)
        rho_hot, _, wrongly_idle = compare(name, description, dhat, damon, lines)
        worst = rho_hot if worst is None or rho_hot < worst else worst
        if arguments.min_spearman is not None and (rho_hot != rho_hot or
                                                   rho_hot < arguments.min_spearman or wrongly_idle):
            print("\n".join(lines))
            sys.exit("accuracy.py: %s: Spearman %.2f (at least %.2f wanted), wrongly idle: %s"
                     % (name, rho_hot, arguments.min_spearman, wrongly_idle or "none"))
    text = "\n".join(lines)
    print(text)
    if arguments.markdown:
        with open(arguments.markdown, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
