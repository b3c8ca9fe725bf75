#!/usr/bin/env bash
# The compatibility suite: real programs from Debian's packages, each run natively and under
# damon-prof (access monitoring on, children followed). Their output, the files they produce and
# their exit status must be identical, and every trace written (the programs' children included)
# must analyze cleanly and be complete.
#   tests/compat/run.sh [--fast] [BUILD_DIR] [CASE...]
# --fast runs the quick cases (what CI runs); the default runs all of them. Prints one line per
# case with both wall times; exits 1 when any case differs.
set -uo pipefail
fast=0
if [[ "${1:-}" == "--fast" ]]; then
  fast=1
  shift
fi
build=$(cd "${1:-build}" && pwd)
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
damon_prof="$build/bin/damon-prof"
export WORKLOADS="$root/tests/compat/workloads"
all_cases=(python sqlite git xz_gzip sort bash perl make redis)
fast_cases=(python sqlite git xz_gzip sort bash perl)
if [[ $# -gt 0 ]]; then
  cases=("$@")
elif [[ $fast -eq 1 ]]; then
  cases=("${fast_cases[@]}")
else
  cases=("${all_cases[@]}")
fi
work=$(mktemp -d /tmp/damon-prof-compat-XXXXXX)
trap 'rm -rf "$work"' EXIT

needs() {  # the commands a case runs; a missing one fails the case (install-deps.sh --compat)
  case $1 in
    python) echo /usr/bin/python3 ;;
    sqlite) echo sqlite3 ;;
    git) echo git ;;
    xz_gzip) echo xz gzip ;;
    sort) echo sort awk ;;
    make) echo make gcc ;;
    bash) echo bash ;;
    perl) echo perl ;;
    redis) echo redis-server redis-benchmark redis-cli ;;
  esac
}

now() { date +%s.%N; }

# Checksums of every file a run left in its directory, by relative path.
fingerprint() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

failures=0
printf '%-8s %9s %9s %7s %7s  %s\n' case native traced ratio traces result
for name in "${cases[@]}"; do
  script="$WORKLOADS/$name.sh"
  problem=""
  for command in $(needs "$name"); do
    command -v "$command" > /dev/null || problem="$command is not installed"
  done
  if [[ ! -f "$script" ]]; then problem="no such case"; fi
  if [[ -n "$problem" ]]; then
    printf '%-8s %9s %9s %7s %7s  FAIL: %s\n' "$name" - - - - "$problem"
    failures=$((failures + 1))
    continue
  fi
  native="$work/$name/native" traced="$work/$name/traced" traces="$work/$name/traces"
  mkdir -p "$native" "$traced" "$traces"
  start=$(now)
  (cd "$native" && bash "$script" > "$work/$name/native.stdout" 2> "$work/$name/native.stderr")
  native_status=$?
  middle=$(now)
  (cd "$traced" && "$damon_prof" -q -o "$traces/$name.dprof" bash "$script" \
    > "$work/$name/traced.stdout" 2> "$work/$name/traced.stderr")
  traced_status=$?
  end=$(now)
  if [[ $native_status -ne 0 ]]; then
    problem="the native run failed (status $native_status): $(head -c 300 "$work/$name/native.stderr")"
  elif [[ $traced_status -ne $native_status ]]; then
    problem="exit status $traced_status under damon-prof, $native_status natively: $(head -c 300 "$work/$name/traced.stderr")"
  elif ! cmp -s "$work/$name/native.stdout" "$work/$name/traced.stdout"; then
    problem="standard output differs"
  elif ! diff <(fingerprint "$native") <(fingerprint "$traced") > "$work/$name/files.diff"; then
    problem="files differ: $(head -c 300 "$work/$name/files.diff")"
  elif ! cmp -s "$work/$name/native.stderr" "$work/$name/traced.stderr"; then
    problem="standard error differs: $(diff "$work/$name/native.stderr" "$work/$name/traced.stderr" | head -c 300)"
  fi
  count=0
  if [[ -z "$problem" ]]; then
    for trace in "$traces"/*.dprof; do
      count=$((count + 1))
      if ! "$damon_prof" report "$trace" --format json --top 3 > "$work/$name/report.json" 2> "$work/$name/report.err"; then
        problem="report failed on $(basename "$trace"): $(head -c 300 "$work/$name/report.err")"
        break
      fi
      if ! grep -q '"complete": true' "$work/$name/report.json"; then
        problem="$(basename "$trace") is incomplete"
        break
      fi
    done
  fi
  ratio=$(awk -v n="$start" -v m="$middle" -v e="$end" 'BEGIN { printf "%.2f", (e - m) / (m - n) }')
  times=$(awk -v n="$start" -v m="$middle" -v e="$end" 'BEGIN { printf "%8.2fs %8.2fs", m - n, e - m }')
  if [[ -n "$problem" ]]; then
    failures=$((failures + 1))
    printf '%-8s %s %7s %7s  FAIL: %s\n' "$name" "$times" "$ratio" "$count" "$problem"
  else
    printf '%-8s %s %7s %7s  ok\n' "$name" "$times" "$ratio" "$count"
  fi
done
exit $((failures > 0))
