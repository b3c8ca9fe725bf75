#!/usr/bin/env bash
# cmake --install to a fresh prefix: the installed damon-prof must find its installed runtime and
# analyzer (not the build tree's), record a program and report on it.
set -euo pipefail
build_dir=$1
program=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" > /dev/null
test -x "$prefix/bin/damon-prof"
runtime=$(find "$prefix" -name libdamon_prof.so)
test -n "$runtime"
test -x "$(dirname "$runtime")/damon-prof-analyze"
# Take the build tree's runtime away from the installed launcher's view: it must use its own.
env -u DAMON_PROF_RUNTIME -u DAMON_PROF_ANALYZER "$prefix/bin/damon-prof" -q -o "$prefix/installed.dprof" "$program" exit 5 && status=0 || status=$?
test "$status" -eq 5
text_report=$("$prefix/bin/damon-prof" report "$prefix/installed.dprof")
grep -q "exited with status 5" <<< "$text_report"
# The trace's module list names the installed runtime: that is the one that was preloaded.
json_report=$("$prefix/bin/damon-prof" report "$prefix/installed.dprof" --format json)
grep -q "\"path\": \"$(realpath "$runtime")\"" <<< "$json_report"
echo "install test passed: $prefix/bin/damon-prof preloads $runtime"
